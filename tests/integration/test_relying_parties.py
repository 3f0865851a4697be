"""The relying parties and resource servers of docs/relying-parties.md, run for real against tokenfcgi behind nginx,
with the configurations that document shows, so the recipes cannot rot.

  * Apache mod_auth_openidc as a relying party (Debian's libapache2-mod-auth-openidc): a private Apache on a loopback
    port protects /protected; the test's Browser follows the flow (Apache redirects to the authorize endpoint, the
    login form, the code back to Apache, which redeems it, validates the id_token and calls userinfo) and the
    protected page (server-side includes) shows the claims. `Require claim` inside <RequireAll> keeps a user without
    the claim out. Its ?info=json hook refreshes the access token twice in a row with the same refresh token
    (RefreshTokenUsage ReUse) and shows email_verified as a JSON boolean.
  * Apache mod_auth_openidc as a resource server (AuthType oauth20): one virtual host validates JWT access tokens
    against the JWKS, another introspects them (RFC 7662) as the API resource.
  * Apache mod_oauth2 (libapache2-mod-oauth2) as a resource server, with the JWKS and with introspection.
  * Authlib (python3-authlib, with python3-requests): authorization code + PKCE, the id_token validated by Authlib's
    CodeIDToken (signature, iss, aud, exp, nonce, at_hash) for an RS256 client and an EdDSA client (whose id_token has
    no at_hash: Authlib cannot compute one for EdDSA), typed userinfo claims, a refresh.
  * go-oidc (Debian's golang-github-coreos-go-oidc-dev, v2): go-oidc/main.go, built in GOPATH mode, runs the code
    flow with PKCE, verifies the id_token (nonce, at_hash) and decodes userinfo into typed Go fields (email_verified
    bool, updated_at int64), which fails on a string.

A test whose tools are missing (apache2 and its modules, python3-authlib and python3-requests, golang-go and the
go-oidc packages) is skipped.
"""

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.client

import harness
from harness import Browser, Deployment, find_tool, free_port, hashed_secret, parse_html, tail

MODULES = "/usr/lib/apache2/modules"
SECRET = "rp-Secret-1"
API_SECRET = "api-Secret-1"
USERS = [
    {"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
     "Claims": [{"Type": "name", "Value": "Alice"}, {"Type": "email", "Value": "alice@example.com"},
                {"Type": "email_verified", "Value": "true", "ValueType": "boolean"},
                {"Type": "updated_at", "Value": "1700000000"},
                {"Type": "role", "Value": "admin"}]},
    {"SubjectId": "1002", "Username": "bob", "Password": "Bob-pass-2",
     "Claims": [{"Type": "name", "Value": "Bob"}, {"Type": "role", "Value": "user"}]},
]
PASSWORDS = {u["Username"]: u["Password"] for u in USERS}


def configuration():
    return {
        "Clients": [
            {"ClientId": "authlib", "ClientSecrets": [hashed_secret(SECRET)],
             "AllowedGrantTypes": ["authorization_code"], "RedirectUris": ["https://app.example.com/callback"],
             "AllowedScopes": ["openid", "profile", "email", "api1"], "AllowOfflineAccess": True},
            {"ClientId": "go", "ClientSecrets": [hashed_secret(SECRET)],
             "AllowedGrantTypes": ["authorization_code"], "RedirectUris": ["https://app.example.com/callback"],
             "AllowedScopes": ["openid", "profile", "email"]},
            {"ClientId": "authlib-ed", "ClientSecrets": [hashed_secret(SECRET)],
             "AllowedGrantTypes": ["authorization_code"], "RedirectUris": ["https://app.example.com/callback"],
             "AllowedScopes": ["openid", "profile", "email"], "AllowedIdentityTokenSigningAlgorithms": ["EdDSA"]},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api", "Scopes": ["api1"], "ApiSecrets": [hashed_secret(API_SECRET)]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]},
                              {"Name": "profile", "UserClaims": ["name", "updated_at", "role"]},
                              {"Name": "email", "UserClaims": ["email", "email_verified"]}],
        "Users": USERS,
    }


def apache_client(redirect_uri):
    """The mod_auth_openidc client, as docs/relying-parties.md shows it."""
    return {"ClientId": "apache", "ClientSecrets": [hashed_secret(SECRET)],
            "AllowedGrantTypes": ["authorization_code"], "RedirectUris": [redirect_uri],
            "AllowedScopes": ["openid", "profile", "email", "api1"], "AllowOfflineAccess": True,
            "RefreshTokenUsage": "ReUse"}


def missing_apache():
    if find_tool("apache2") is None:
        return "apache2 is missing (apt-get install apache2)"
    for module in ("mpm_event", "authz_core", "authn_core", "authz_user", "dir", "include", "mime", "auth_openidc",
                   "oauth2"):
        if not os.path.isfile(os.path.join(MODULES, f"mod_{module}.so")):
            return (f"mod_{module} is missing "
                    "(apt-get install apache2 libapache2-mod-auth-openidc libapache2-mod-oauth2)")
    return None


def missing_authlib():
    try:
        import authlib  # noqa: F401
        import requests  # noqa: F401
    except ImportError as e:
        return f"{e.name} is missing (apt-get install python3-authlib python3-requests)"
    return None


GO_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go-oidc", "main.go")
GOPATH = "/usr/share/gocode"   # Debian's Go library packages


def missing_go():
    if find_tool("go") is None:
        return "go is missing (apt-get install golang-go)"
    for package in ("github.com/coreos/go-oidc", "golang.org/x/oauth2"):
        if not os.path.isdir(os.path.join(GOPATH, "src", package)):
            return (f"{package} is missing (apt-get install golang-github-coreos-go-oidc-dev "
                    "golang-golang-x-oauth2-dev)")
    return None


def login(browser, location, username):
    """At the login page `location` leads to (an authorize URL), signs in; returns the redirect back to the client."""
    r = browser.get(location)
    if r.status != 200:
        raise AssertionError(f"authorize answered {r!r}")
    form = [f for f in parse_html(r.text).forms if f.field("password") is not None][0]
    r = browser.submit(form, username=username, password=PASSWORDS[username])
    if r.status != 302:
        raise AssertionError(f"login answered {r!r}")
    return r.headers["Location"]


# The page each protected location serves: what Apache knows about the caller, through server-side includes.
CLAIMS_PAGE = "".join(f'{name}=<!--#echo var="OIDC_CLAIM_{name}" -->\n'
                      for name in ("sub", "name", "email", "email_verified", "updated_at", "role"))
WHOAMI_PAGE = 'user=<!--#echo var="REMOTE_USER" -->\n'


class ApacheRp:
    """A private Apache on three loopback ports, every file in a temporary directory:
      main port  /protected  mod_auth_openidc relying party (its redirect URI /protected/redirect_uri)
                 /m2-jwks    mod_oauth2 resource server, JWKS
                 /m2-intro   mod_oauth2 resource server, introspection
      port2      /rs-intro   mod_auth_openidc resource server, introspection
      port3      /rs-jwks    mod_auth_openidc resource server, JWT access tokens checked against the JWKS
    (mod_auth_openidc takes one resource-server method per server, so each has its own virtual host)
    Also a Browser target: base_url and request()."""

    START_TIMEOUT = 20.0

    def __init__(self, idp, tls_port):
        self.idp = idp
        self.tls_port = tls_port
        self.tmp = tempfile.mkdtemp(prefix="tokenfcgi-rp-")
        os.chmod(self.tmp, 0o755)
        self.proc = None
        self.port = self.port2 = self.port3 = None
        for d in ("logs", "run", "htdocs"):
            os.makedirs(os.path.join(self.tmp, d))
        for location, page in (("protected", CLAIMS_PAGE), ("rs-jwks", WHOAMI_PAGE), ("rs-intro", WHOAMI_PAGE),
                               ("m2-jwks", WHOAMI_PAGE), ("m2-intro", WHOAMI_PAGE)):
            os.makedirs(os.path.join(self.tmp, "htdocs", location))
            with open(os.path.join(self.tmp, "htdocs", location, "index.html"), "w") as f:
                f.write(page)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uri(self):
        return self.base_url + "/protected/redirect_uri"

    def start(self):
        for _ in range(5):
            self.port, self.port2, self.port3 = free_port(), free_port(), free_port()
            if len({self.port, self.port2, self.port3}) == 3 and self._start():
                return self
            self.stop()
            if "Address already in use" not in tail(self.error_log, 20) + tail(
                    os.path.join(self.tmp, "logs", "stderr.log"), 20):
                break
        raise AssertionError(f"apache did not start:\n{tail(self.error_log)}\n"
                             f"{tail(os.path.join(self.tmp, 'logs', 'stderr.log'))}")

    @property
    def error_log(self):
        return os.path.join(self.tmp, "logs", "error.log")

    def site_conf(self):
        """The recipe's settings (docs/relying-parties.md), with the test's addresses."""
        issuer = self.idp.issuer
        return f"""
# ---- mod_auth_openidc as a relying party
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID apache
OIDCClientSecret {SECRET}
OIDCRedirectURI {self.redirect_uri}
OIDCCryptoPassphrase {secrets.token_urlsafe(24)}
OIDCScope "openid profile email api1 offline_access"
OIDCPKCEMethod S256
OIDCSessionType server-cache
OIDCCacheEncrypt On
OIDCPassClaimsAs environment
OIDCInfoHook iat access_token access_token_expires id_token userinfo session
OIDCUnAutzAction 403
<Location /protected>
    AuthType openid-connect
    AuthzSendForbiddenOnFailure On
    <RequireAll>
        Require valid-user
        Require claim role:admin
    </RequireAll>
</Location>

# ---- mod_auth_openidc as a resource server: JWT access tokens against the JWKS, in its own virtual host
<VirtualHost 127.0.0.1:{self.port3}>
    OIDCOAuthVerifyJwksUri https://127.0.0.1:{self.tls_port}/.well-known/openid-configuration/jwks
    OIDCOAuthSSLValidateServer Off
    <Location /rs-jwks>
        AuthType oauth20
        Require valid-user
    </Location>
</VirtualHost>

# ---- mod_oauth2 as a resource server
<Location /m2-jwks>
    AuthType oauth2
    OAuth2TokenVerify jwks_uri {issuer}/.well-known/openid-configuration/jwks
    Require valid-user
</Location>
<Location /m2-intro>
    AuthType oauth2
    OAuth2TokenVerify introspect {issuer}/connect/introspect introspect.auth=client_secret_basic&client_id=api&client_secret={API_SECRET}
    Require valid-user
</Location>

# ---- mod_auth_openidc as a resource server: introspection, in its own virtual host
<VirtualHost 127.0.0.1:{self.port2}>
    OIDCOAuthIntrospectionEndpoint https://127.0.0.1:{self.tls_port}/connect/introspect
    OIDCOAuthSSLValidateServer Off
    OIDCOAuthIntrospectionEndpointAuth client_secret_basic
    OIDCOAuthClientID api
    OIDCOAuthClientSecret {API_SECRET}
    <Location /rs-intro>
        AuthType oauth20
        Require valid-user
    </Location>
</VirtualHost>
"""

    def _start(self):
        t = self.tmp
        modules = ("mpm_event", "authz_core", "authn_core", "authz_user", "dir", "include", "mime", "auth_openidc",
                   "oauth2")
        loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in modules)
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        conf = os.path.join(t, "httpd.conf")
        with open(conf, "w") as f:
            f.write(f"""# written by tests/integration/test_relying_parties.py
ServerRoot {t}
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
Listen 127.0.0.1:{self.port2}
Listen 127.0.0.1:{self.port3}
PidFile {t}/run/httpd.pid
DefaultRuntimeDir {t}/run
Mutex file:{t}/run default
ErrorLog {self.error_log}
LogLevel warn auth_openidc:info
{user}
{loads}
TypesConfig /etc/mime.types
DocumentRoot {t}/htdocs
DirectoryIndex index.html
<Directory {t}/htdocs>
    Options +Includes
    SetOutputFilter INCLUDES
</Directory>
{self.site_conf()}
""")
        log = open(os.path.join(t, "logs", "stderr.log"), "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("APACHE_")}
        self.proc = subprocess.Popen([find_tool("apache2"), "-f", conf, "-D", "FOREGROUND"], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True, env=env)
        log.close()
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                for port in (self.port, self.port2, self.port3):
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        pass
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        if os.environ.get("TF_KEEP_TMP"):
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def request(self, method, path, body=None, headers=None, port=None):
        # mod_auth_openidc redirects to the provider only what looks like a browser's navigation (it answers 401 to
        # other requests): send a browser's Accept.
        headers = dict(headers or {})
        headers.setdefault("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return harness.Response(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()


class RelyingPartiesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # mod_auth_openidc's resource server reaches the JWKS and introspection over https only: nginx also listens
        # with TLS (a
        # throwaway self-signed certificate; the recipe's OIDCOAuthSSLValidateServer Off is for this test only).
        cls.tls_dir = tempfile.mkdtemp(prefix="tokenfcgi-rp-tls-")
        os.chmod(cls.tls_dir, 0o755)
        crt, key = os.path.join(cls.tls_dir, "server.crt"), os.path.join(cls.tls_dir, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", "/CN=127.0.0.1", "-days", "2", "-keyout", key, "-out", crt],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o644)
        cls.tls_port = free_port()
        cls.d = Deployment(configuration(), workers=2, key_algs=("EdDSA",), password_hash_memory_kib=1024,
                           password_hash_iterations=1,
                           nginx_server_extra=f"listen 127.0.0.1:{cls.tls_port} ssl;\n"
                                              f"ssl_certificate {crt};\nssl_certificate_key {key};\n").start()
        cls.rp = None

    @classmethod
    def tearDownClass(cls):
        if cls.rp is not None:
            cls.rp.cleanup()
        cls.d.stop()
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    def apache(self):
        reason = missing_apache()
        if reason:
            self.skipTest(reason)
        if RelyingPartiesTest.rp is None:
            rp = ApacheRp(self.d, self.tls_port)
            try:
                rp.start()
            except BaseException:
                rp.cleanup()
                raise
            RelyingPartiesTest.rp = rp
            self.d.import_json({"Clients": [apache_client(rp.redirect_uri)]})
        return RelyingPartiesTest.rp

    def fail_with_logs(self, message):
        self.fail(f"{message}\n---- apache ----\n{tail(self.rp.error_log, 40)}")

    def sign_in_at_apache(self, username):
        """The browser flow through mod_auth_openidc; returns the Browser (signed in at Apache) and the last answer."""
        rp = self.apache()
        at_rp, at_idp = Browser(rp), Browser(self.d)
        r = at_rp.get("/protected/")
        if r.status != 302 or not r.headers["Location"].startswith(self.d.issuer + "/connect/authorize?"):
            self.fail_with_logs(f"mod_auth_openidc did not send the browser to the authorize endpoint: {r!r}")
        back = login(at_idp, r.headers["Location"], username)
        self.assertTrue(back.startswith(rp.redirect_uri + "?"), back)
        r = at_rp.get(back)
        if r.status != 302:
            self.fail_with_logs(f"mod_auth_openidc refused the code: {r!r} {r.text[:500]}")
        r = at_rp.get(r.headers["Location"])
        return at_rp, r

    def test_mod_auth_openidc_relying_party(self):
        browser, r = self.sign_in_at_apache("alice")
        if r.status != 200:
            self.fail_with_logs(f"the protected page answered {r!r}")
        shown = dict(line.split("=", 1) for line in r.text.splitlines())
        self.assertEqual(shown["sub"], "1001")
        self.assertEqual(shown["name"], "Alice")
        self.assertEqual(shown["email"], "alice@example.com")
        self.assertEqual(shown["role"], "admin")
        # mod_auth_openidc writes a JSON true as "1", a JSON string "true" as "true".
        self.assertEqual(shown["email_verified"], "1")
        self.assertEqual(shown["updated_at"], "1700000000")

        info = browser.get("/protected/redirect_uri?info=json")
        self.assertEqual(info.status, 200, info)
        self.assertIs(info.json["userinfo"]["email_verified"], True)
        self.assertEqual(info.json["userinfo"]["updated_at"], 1700000000)
        self.assertEqual(info.json["id_token"]["iss"], self.d.issuer)
        # Refreshes inside the info hook: with RefreshTokenUsage ReUse the same refresh token keeps working.
        tokens = [info.json["access_token"]]
        for _ in range(2):
            time.sleep(1.1)  # the hook refreshes only when the last refresh is older than the interval (seconds)
            again = browser.get("/protected/redirect_uri?info=json&access_token_refresh_interval=0")
            self.assertEqual(again.status, 200, again)
            tokens.append(again.json["access_token"])
        self.assertEqual(len(set(tokens)), 3, "the info hook did not refresh the access token twice")
        self.d.verify_access_token(tokens[-1], audience="api")
        # Two refreshes at once (two tabs): both present the same refresh token. With rotation the second would be
        # reuse and revoke the family; with ReUse both succeed, and so does the next one.
        time.sleep(1.1)
        answers = [None, None]

        def hook(i):
            answers[i] = browser.get("/protected/redirect_uri?info=json&access_token_refresh_interval=0")
        threads = [threading.Thread(target=hook, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([a.status for a in answers], [200, 200], answers)
        time.sleep(1.1)
        last = browser.get("/protected/redirect_uri?info=json&access_token_refresh_interval=0")
        self.assertEqual(last.status, 200, last)
        self.assertFalse(last.json["access_token"] in tokens + [a.json["access_token"] for a in answers],
                         "the last refresh failed (mod_auth_openidc kept the old access token)")
        introspected = self.d.post_form("/connect/introspect", {"token": last.json["access_token"]},
                                        auth=("api", API_SECRET))
        self.assertIs(introspected.json["active"], True, "the refresh token family was revoked")
        self.assertEqual(browser.get("/protected/").status, 200)

    def test_mod_auth_openidc_require_claim_inside_require_all(self):
        _, r = self.sign_in_at_apache("bob")   # signed in, but role is not admin
        self.assertEqual(r.status, 403, r)

    def access_token(self, username="alice"):
        browser, r = self.sign_in_at_apache(username)
        info = browser.get("/protected/redirect_uri?info=json")
        self.assertEqual(info.status, 200, info)
        return info.json["access_token"]

    def test_resource_servers(self):
        rp = self.apache()
        token = self.access_token()
        for path, port in (("/rs-jwks/", rp.port3), ("/rs-intro/", rp.port2), ("/m2-jwks/", rp.port),
                           ("/m2-intro/", rp.port)):
            r = rp.request("GET", path, headers={"Authorization": "Bearer " + token}, port=port)
            if r.status != 200:
                self.fail_with_logs(f"{path} refused a valid access token: {r!r}")
            self.assertEqual(r.text.strip(), "user=1001", path)
            for bad in (None, "Bearer " + token[:-4] + "AAAA", "Bearer not-a-token"):
                r = rp.request("GET", path, headers={"Authorization": bad} if bad else {}, port=port)
                self.assertEqual(r.status, 401, (path, bad, r))

    # -- Authlib ----------------------------------------------------------------------------------------------------

    def authlib_flow(self, client_id, scope):
        reason = missing_authlib()
        if reason:
            self.skipTest(reason)
        from authlib.integrations.requests_client import OAuth2Session
        from authlib.jose import JsonWebKey, jwt
        from authlib.oidc.core import CodeIDToken
        from authlib.common.security import generate_token

        meta = self.d.discovery()
        session = OAuth2Session(client_id, SECRET, scope=scope, redirect_uri="https://app.example.com/callback",
                                code_challenge_method="S256")
        verifier, nonce = generate_token(48), generate_token(20)
        uri, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                      nonce=nonce)
        back = login(Browser(self.d), uri, "alice")
        token = session.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier)
        keys = JsonWebKey.import_key_set(self.d.jwks())
        claims = jwt.decode(token["id_token"], keys, claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
                            claims_params={"nonce": nonce, "client_id": client_id,
                                           "access_token": token["access_token"]})
        claims.validate(leeway=5)
        userinfo = session.get(meta["userinfo_endpoint"]).json()
        return session, token, claims, userinfo

    def test_authlib_rs256(self):
        session, token, claims, userinfo = self.authlib_flow("authlib", "openid profile email api1 offline_access")
        self.assertEqual(claims.header["alg"], "RS256")
        self.assertIn("at_hash", claims)  # checked by CodeIDToken.validate
        self.assertEqual(userinfo["sub"], "1001")
        self.assertIs(userinfo["email_verified"], True)
        self.assertEqual(userinfo["updated_at"], 1700000000)
        refreshed = session.refresh_token(self.d.discovery()["token_endpoint"])
        self.assertNotEqual(refreshed["access_token"], token["access_token"])

    def test_authlib_eddsa(self):
        _, _, claims, userinfo = self.authlib_flow("authlib-ed", "openid profile email")
        self.assertEqual(claims.header["alg"], "EdDSA")
        self.assertNotIn("at_hash", claims)
        self.assertEqual(userinfo["name"], "Alice")


    # -- go-oidc ----------------------------------------------------------------------------------------------------

    def test_go_oidc(self):
        reason = missing_go()
        if reason:
            self.skipTest(reason)
        out = tempfile.mkdtemp(prefix="tokenfcgi-go-")
        self.addCleanup(shutil.rmtree, out, True)
        program = os.path.join(out, "go-oidc")
        # GOPATH mode against Debian's packages; the build cache lives in the build tree, so later runs are quick.
        env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="",
                   GOCACHE=os.environ.get("GOCACHE") or os.path.join(harness.BUILD_DIR, "go-cache"))
        build = subprocess.run([find_tool("go"), "build", "-o", program, GO_PROGRAM], cwd=out, env=env,
                               capture_output=True, text=True, timeout=300)
        self.assertEqual(build.returncode, 0, build.stderr)
        proc = subprocess.Popen([program, self.d.issuer, "go", SECRET, "https://app.example.com/callback"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            auth_url = proc.stdout.readline().strip()
            self.assertTrue(auth_url.startswith(self.d.issuer + "/connect/authorize?"), auth_url)
            back = login(Browser(self.d), auth_url, "alice")
            stdout, stderr = proc.communicate(back + "\n", timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, stderr)
        result = json.loads(stdout)
        self.assertEqual(result["subject"], "1001")
        self.assertIs(result["userinfo_email_verified"], True)
        self.assertEqual(result["claims"], {"sub": "1001", "name": "Alice", "email": "alice@example.com",
                                            "email_verified": True, "updated_at": 1700000000})


if __name__ == "__main__":
    harness.main(need_jose=False)
