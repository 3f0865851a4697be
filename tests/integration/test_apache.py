"""tokenfcgi behind a real Apache 2.4: the shipped apache/tokenfcgi.conf with mod_fcgid, and the
mod_proxy_fcgi variant documented in the same file, pass the same token-endpoint checks as nginx.

A private Apache (`apache2 -f <generated conf> -D FOREGROUND`, every file in a temporary directory) listens on a free
loopback port and Includes the shipped apache/tokenfcgi.conf, with only two paths substituted: the worker binary
(/usr/bin/tokenfcgi -> the build's tokenfcgi, copied next to the configuration) and the configuration file
(/etc/tokenfcgi/tokenfcgi.conf -> the test's). mod_fcgid starts the workers itself.

As root, Apache's workers (and so mod_fcgid's tokenfcgi processes) run as www-data, as on a Debian server. The
database is then laid out the way docs/deploy.md tells users to: the directory in the group Apache runs in, mode
2770, files created by tokenctl under umask 007 (0660), so that www-data can open the LMDB files read-write. (On a
real host the group is tokenfcgi with www-data as a member; here the group is www-data itself so that the test adds no
user or group to the machine.)

The private keys are encrypted with a key-encryption key (key_encryption_key_file, made by tokenctl init). Under
mod_fcgid the workers need it, so it is given to Apache's group (0440) as docs/deploy.md says. With mod_proxy_fcgi, as
root, the worker runs as another user (SERVICE_USER, an existing system user standing in for tokenfcgi) under
spawn-fcgi, its database directory and KEK belong to that user alone (0700, 0400: tokenctl run as root gives them
to the directory's owner), and only its socket is shared with Apache's group (0660): www-data can read neither the
database nor the KEK, and a token request through Apache still succeeds.

Checks: discovery, JWKS, a client_credentials token with Basic authentication (which reaches the worker only
because of `CGIPassAuth On`) and with body credentials, both verified by python3-jwt against the served JWKS;
invalid_client is 401 with WWW-Authenticate; a wrong method is 405 with Allow; a body over the configured limit is
413; the workers run as www-data; no secret reaches the log; Apache's shutdown stops every worker.
Exit 77 when apache2 or mod_fcgid (libapache2-mod-fcgid) is missing.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import http.client

import harness
from harness import basic_auth, find_tool, free_port, hashed_secret, tail

MODULES = "/usr/lib/apache2/modules"
SHIPPED_CONF = os.path.join(harness.SOURCE_DIR, "apache", "tokenfcgi.conf")
SECRET = "apache-Secret_1.~"
BASIC_ID = "svc:basic"          # a ':' in the id: form-encoded inside the Basic header (RFC 6749 §2.3.1)
BODY_ID = "svc-body"
TOKEN = "/connect/token"
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/openid-configuration/jwks"
# The user the mod_proxy_fcgi worker runs as (as root): any existing system user that is not Apache's.
SERVICE_USER = "daemon"


def apache_binary():
    return find_tool("apache2") or find_tool("httpd")


def skip_reason():
    if apache_binary() is None:
        return "apache2 is missing (apt-get install apache2)"
    for module in ("mod_mpm_event.so", "mod_authz_core.so", "mod_fcgid.so"):
        if not os.path.isfile(os.path.join(MODULES, module)):
            return f"{MODULES}/{module} is missing (apt-get install apache2 libapache2-mod-fcgid)"
    return None


def configuration():
    def client(client_id):
        return {"ClientId": client_id, "ClientSecrets": [hashed_secret(SECRET)],
                "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1", "api2"]}
    return {"Clients": [client(BASIC_ID), client(BODY_ID)],
            "ApiScopes": [{"Name": "api1"}, {"Name": "api2"}],
            "ApiResources": [{"Name": "orders", "Scopes": ["api1"]}]}


class ApacheDeployment:
    """Apache 2.4 + tokenfcgi on a free loopback port, everything in a temporary directory.

    mode "fcgid": the shipped apache/tokenfcgi.conf (mod_fcgid runs the workers).
    mode "proxy_fcgi": the mod_proxy_fcgi block from the same file's comments, forwarding to a worker under
        spawn-fcgi on a Unix socket (standing in for tokenfcgi.socket).
    """

    START_TIMEOUT = 20.0

    def __init__(self, mode):
        self.mode = mode
        self.root = os.geteuid() == 0
        self.tmp = None
        self.apache = None
        self.spawn = None
        self._logs = []

    # -- setup ----------------------------------------------------------------------------------------------------

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix=f"tokenfcgi-apache-{self.mode}-")
        os.chmod(self.tmp, 0o755)
        for d in ("logs", "run", "fcgid", "htdocs", "bin"):
            os.makedirs(os.path.join(self.tmp, d))
        if self.root:
            # mod_fcgid's process manager runs as Apache's user and creates its sockets here.
            www = pwd.getpwnam("www-data")
            os.chown(os.path.join(self.tmp, "fcgid"), www.pw_uid, www.pw_gid)
        # The worker must be executable by www-data, wherever the build tree is.
        self.worker_binary = os.path.join(self.tmp, "bin", "tokenfcgi")
        shutil.copy2(harness.binary("tokenfcgi"), self.worker_binary)
        os.chmod(self.worker_binary, 0o755)
        self._provision()
        for _ in range(5):
            self.port = free_port()
            self._write_tokenfcgi_conf()
            if self.mode == "proxy_fcgi":
                self._start_spawn_fcgi()
            if self._start_apache():
                return self
            self.stop_processes()
            if "Address already in use" not in tail(self.error_log, 20):
                break
        raise AssertionError(f"apache did not start:\n{tail(self.error_log)}\n"
                             f"{tail(os.path.join(self.tmp, 'logs', 'stderr.log'))}")

    @property
    def config_path(self):
        return os.path.join(self.tmp, "tokenfcgi.conf")

    @property
    def error_log(self):
        return os.path.join(self.tmp, "logs", "error.log")

    @property
    def issuer(self):
        return f"http://127.0.0.1:{self.port}"

    def _write_tokenfcgi_conf(self):
        with open(self.config_path, "w") as f:
            f.write(f"# written by tests/integration/test_apache.py\n"
                    f"issuer = {self.issuer}\n"
                    f"database = {self.tmp}/db\n"
                    f"log_level = info\n"
                    f"access_token_signing_alg = ES256\n"
                    f"key_encryption_key_file = {self.kek_path}\n")
        os.chmod(self.config_path, 0o644)

    @property
    def kek_path(self):
        return os.path.join(self.tmp, "secrets", "kek")

    @property
    def separate_user(self):
        """mod_proxy_fcgi as root: the worker runs as SERVICE_USER, apart from Apache's www-data."""
        return self.root and self.mode == "proxy_fcgi"

    def _provision(self):
        db = os.path.join(self.tmp, "db")
        os.makedirs(db)
        os.makedirs(os.path.dirname(self.kek_path))
        os.chmod(os.path.dirname(self.kek_path), 0o755)
        if self.separate_user:
            # The service's own: tokenctl (root) gives what it creates here, the KEK included, to this owner.
            service = pwd.getpwnam(SERVICE_USER)
            os.chown(db, service.pw_uid, service.pw_gid)
            os.chmod(db, 0o700)
        elif self.root:
            # As docs/deploy.md: the directory in the web server's group, setgid, 2770; tokenctl under umask 007.
            os.chown(db, 0, pwd.getpwnam("www-data").pw_gid)
            os.chmod(db, 0o2770)
        self.port = free_port()  # any issuer will do for init and import
        self._write_tokenfcgi_conf()
        self.tokenctl("init")
        path = os.path.join(self.tmp, "clients.json")
        with open(path, "w") as f:
            import json
            json.dump(configuration(), f)
        self.tokenctl("import", path)
        if self.root and self.mode == "fcgid":
            # mod_fcgid's workers run as www-data and need the KEK (docs/deploy.md): the group may read it.
            os.chown(self.kek_path, 0, pwd.getpwnam("www-data").pw_gid)
            os.chmod(self.kek_path, 0o440)

    def tokenctl(self, *args):
        proc = subprocess.run([harness.binary("tokenctl"), "--config", self.config_path] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                              preexec_fn=lambda: os.umask(0o007))
        if proc.returncode != 0:
            raise AssertionError(f"tokenctl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def _site_conf(self):
        with open(SHIPPED_CONF) as f:
            shipped = f.read()
        for needle in ("FcgidWrapper /usr/bin/tokenfcgi virtual", "FcgidInitialEnv TOKENFCGI_CONFIG "
                       "/etc/tokenfcgi/tokenfcgi.conf", "CGIPassAuth On"):
            if needle not in shipped:
                raise AssertionError(f"{SHIPPED_CONF} no longer contains {needle!r}")
        if self.mode == "fcgid":
            return (shipped.replace("/usr/bin/tokenfcgi", self.worker_binary)
                    .replace("/etc/tokenfcgi/tokenfcgi.conf", self.config_path))
        # The commented mod_proxy_fcgi example: the indented lines after "mod_proxy_fcgi instead", uncommented.
        block = shipped[shipped.index("mod_proxy_fcgi instead"):]
        lines = [line[4:] for line in block.splitlines() if line.startswith("#   ")]
        if not lines or "SetHandler" not in "".join(lines):
            raise AssertionError("no mod_proxy_fcgi example block in " + SHIPPED_CONF)
        return "\n".join(lines).replace("/run/tokenfcgi/tokenfcgi.sock", self.socket_path) + "\n"

    @property
    def socket_path(self):
        return os.path.join(self.tmp, "run", "tokenfcgi.sock")

    def _start_spawn_fcgi(self):
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        log = open(os.path.join(self.tmp, "logs", "worker.log"), "ab")
        self._logs.append(log)
        if self.separate_user:
            # The worker as SERVICE_USER; the socket SERVICE_USER:www-data 0660, so Apache can connect.
            owner = ["-u", SERVICE_USER, "-g", SERVICE_USER, "-U", SERVICE_USER, "-G", "www-data"]
        else:
            owner = ["-U", "www-data", "-G", "www-data"] if self.root else []
        self.spawn = subprocess.Popen(
            [find_tool("spawn-fcgi"), "-n", "-s", self.socket_path, "-M", "0660"] + owner +
            ["--", self.worker_binary, "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.spawn.poll() is not None:
                raise AssertionError(f"worker exited {self.spawn.returncode}:\n{tail(log.name)}")
            if os.path.exists(self.socket_path):
                return
            time.sleep(0.02)
        raise AssertionError("worker socket did not appear")

    def _start_apache(self):
        t = self.tmp
        site = os.path.join(t, "site.conf")
        with open(site, "w") as f:
            f.write(self._site_conf())
        modules = ["mpm_event", "authz_core"]
        modules += ["fcgid"] if self.mode == "fcgid" else ["proxy", "proxy_fcgi"]
        loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in modules)
        user = "User www-data\nGroup www-data" if self.root else ""
        fcgid = f"FcgidIPCDir {t}/fcgid\nFcgidProcessTableFile {t}/fcgid/shm" if self.mode == "fcgid" else ""
        conf = os.path.join(t, "httpd.conf")
        with open(conf, "w") as f:
            f.write(f"""# written by tests/integration/test_apache.py
ServerRoot {t}
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile {t}/run/httpd.pid
DefaultRuntimeDir {t}/run
Mutex file:{t}/run default
ErrorLog {self.error_log}
LogLevel warn
{user}
{loads}
{fcgid}
DocumentRoot {t}/htdocs
Include {site}
""")
        log = open(os.path.join(t, "logs", "stderr.log"), "ab")
        self._logs.append(log)
        # APACHE_* variables from a Debian envvars file must not leak in; the configuration names everything.
        env = {k: v for k, v in os.environ.items() if not k.startswith("APACHE_")}
        self.apache = subprocess.Popen([apache_binary(), "-f", conf, "-D", "FOREGROUND"], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=log, start_new_session=True, env=env)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.apache.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                r = self.request("GET", DISCOVERY)
                if r.status == 200 and r.json.get("issuer") == self.issuer:
                    return True
                if r.status not in (500, 503):
                    raise AssertionError(f"discovery through Apache answered {r!r}\n{tail(self.error_log)}")
            except OSError:
                pass
            time.sleep(0.05)
        return False

    # -- teardown -------------------------------------------------------------------------------------------------

    def worker_pids(self):
        """Processes running this deployment's copy of tokenfcgi."""
        pids = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.readlink(f"/proc/{pid}/exe") == self.worker_binary:
                        pids.append(int(pid))
                except OSError:
                    pass
        return pids

    def stop_processes(self):
        for proc in (self.apache, self.spawn):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.apache = self.spawn = None

    def stop(self):
        if self.tmp is None:
            return []
        problems = []
        try:
            self.stop_processes()
            deadline = time.monotonic() + 5
            while self.worker_pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            leftover = self.worker_pids()
            if leftover:
                problems.append(f"workers still running after Apache stopped: {leftover}")
                for pid in leftover:
                    os.kill(pid, signal.SIGKILL)
            logs = tail(self.error_log, 100000) + tail(os.path.join(self.tmp, "logs", "worker.log"), 100000)
            for marker in harness.SANITIZER_MARKERS:
                if marker in logs:
                    problems.append(f"sanitizer report in the logs ({marker})")
        finally:
            for f in self._logs:
                f.close()
            if os.environ.get("TF_KEEP_TMP"):
                print(f"kept {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return problems

    def logs(self):
        return tail(self.error_log, 100000) + tail(os.path.join(self.tmp, "logs", "worker.log"), 100000)

    # -- HTTP -----------------------------------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()

    def post_form(self, fields, auth=None):
        import urllib.parse
        headers = {"Content-Type": harness.FORM}
        if auth is not None:
            headers["Authorization"] = basic_auth(*auth)
        return self.request("POST", TOKEN, body=urllib.parse.urlencode(fields), headers=headers)


class _ApacheChecks:
    """The token-endpoint checks, shared by both Apache modes."""

    MODE = None

    @classmethod
    def setUpClass(cls):
        cls.d = ApacheDeployment(cls.MODE)
        try:
            cls.d.start()
        except BaseException:
            cls.d.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.d.stop()
        if problems:
            raise AssertionError("; ".join(problems))

    def verify(self, token):
        import jwt
        header = jwt.get_unverified_header(token)
        keys = {k["kid"]: k for k in self.d.request("GET", JWKS).json["keys"]}
        self.assertIn(header["kid"], keys)
        jwk = keys[header["kid"]]
        return jwt.decode(token, key=jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], issuer=self.d.issuer,
                          audience="orders", options={"require": ["iss", "exp", "iat", "nbf"]}, leeway=5)

    def test_discovery(self):
        r = self.d.request("GET", DISCOVERY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        self.assertEqual(r.json["issuer"], self.d.issuer)
        self.assertEqual(r.json["token_endpoint"], self.d.issuer + TOKEN)
        self.assertEqual(r.json["jwks_uri"], self.d.issuer + JWKS)
        self.assertIn("client_credentials", r.json["grant_types_supported"])

    def test_jwks(self):
        r = self.d.request("GET", JWKS)
        self.assertEqual(r.status, 200, r)
        keys = r.json["keys"]
        # ES256 signs access tokens; tokenctl init also made the RS256 key for id_token_signing_alg.
        self.assertEqual(sorted(k["alg"] for k in keys), ["ES256", "RS256"])
        for k in keys:
            self.assertFalse({"d", "p", "q"} & set(k), "private key material in the JWKS")

    def test_token_with_basic_authentication(self):
        # Without CGIPassAuth On, Apache withholds the Authorization header and this is invalid_client.
        r = self.d.post_form({"grant_type": "client_credentials", "scope": "api1"}, auth=(BASIC_ID, SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        self.assertEqual(r.json["token_type"], "Bearer")
        self.assertEqual(r.json["scope"], "api1")
        claims = self.verify(r.json["access_token"])
        self.assertEqual(claims["client_id"], BASIC_ID)
        self.assertEqual(claims["sub"], BASIC_ID)
        self.assertEqual(claims["scope"], "api1")

    def test_token_with_body_credentials(self):
        r = self.d.post_form({"grant_type": "client_credentials", "scope": "api1", "client_id": BODY_ID,
                              "client_secret": SECRET})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.verify(r.json["access_token"])["client_id"], BODY_ID)

    def test_invalid_client_is_401_with_www_authenticate(self):
        for auth, fields in (((BASIC_ID, "wrong"), {}), (("nobody", SECRET), {}),
                             (None, {"client_id": BODY_ID, "client_secret": "wrong"})):
            r = self.d.post_form(dict(grant_type="client_credentials", **fields), auth=auth)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json["error"], "invalid_client")
            self.assertTrue(re.match(r'Basic realm="[^"]+"', r.headers.get("WWW-Authenticate") or ""),
                            r.headers.get("WWW-Authenticate"))

    def test_every_endpoint_reaches_the_worker(self):
        form = {"Content-Type": harness.FORM, "Authorization": basic_auth(BASIC_ID, SECRET)}
        r = self.d.request("POST", "/connect/revocation", body="token=x", headers=form)
        self.assertEqual(r.status, 200, r)
        r = self.d.request("POST", "/connect/introspect", body="token=x", headers=form)
        self.assertEqual((r.status, r.json), (200, {"active": False}), r)
        r = self.d.request("GET", "/connect/userinfo")
        self.assertEqual(r.status, 401, r)
        self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
        r = self.d.request("GET", "/connect/authorize?client_id=nobody")
        self.assertEqual(r.status, 400, r)
        self.assertIn("text/html", r.headers.get("Content-Type", ""))
        r = self.d.request("POST", "/connect/deviceauthorization", body="", headers=form)
        self.assertEqual((r.status, r.json["error"]), (400, "unauthorized_client"), r)
        r = self.d.request("GET", "/device")
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/html", r.headers.get("Content-Type", ""))
        r = self.d.request("GET", "/connect/endsession")
        self.assertEqual(r.status, 200, r)
        self.assertIn("__Host-tf_session=;", r.headers.get("Set-Cookie", ""))
        r = self.d.request("GET", "/connect/other")
        self.assertEqual(r.status, 404, r)
        self.assertNotIn("application/json", r.headers.get("Content-Type", ""))

    def test_wrong_method_is_405_with_allow(self):
        r = self.d.request("GET", TOKEN)
        self.assertEqual(r.status, 405, r)
        self.assertIn("POST", r.headers.get("Allow", ""))
        r = self.d.request("POST", JWKS, body="", headers={"Content-Type": harness.FORM})
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers.get("Allow", ""))

    def test_body_over_limit_is_413(self):
        # Just over max_body_bytes (64K): the worker's own 413 (mod_fcgid), or Apache's LimitRequestBody
        # (mod_proxy_fcgi). Never a token, and never the 400 that an emptied body would give.
        headers = {"Content-Type": harness.FORM, "Authorization": basic_auth(BASIC_ID, SECRET)}
        r = self.d.request("POST", TOKEN, body="grant_type=client_credentials&pad=" + "a" * 70000, headers=headers)
        self.assertEqual(r.status, 413, r)
        # Far over it: refused by the web server (mod_fcgid: FcgidMaxRequestLen gives 500).
        r = self.d.request("POST", TOKEN, body="grant_type=client_credentials&pad=" + "a" * 300000, headers=headers)
        self.assertIn(r.status, (413, 500), r)

    def test_log_names_the_client_but_no_secret(self):
        self.d.post_form({"grant_type": "client_credentials"}, auth=(BASIC_ID, SECRET))
        deadline = time.monotonic() + 5
        while f"client={BASIC_ID}" not in self.d.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        logs = self.d.logs()
        self.assertIn(f"POST {TOKEN} client={BASIC_ID} grant=client_credentials", logs)
        self.assertNotIn(SECRET, logs)


class ModFcgidTest(_ApacheChecks, unittest.TestCase):
    MODE = "fcgid"

    def test_workers_run_as_apache_user(self):
        self.assertEqual(self.d.request("GET", DISCOVERY).status, 200)
        pids = self.d.worker_pids()
        self.assertTrue(pids, "mod_fcgid started no tokenfcgi process")
        expected = pwd.getpwnam("www-data").pw_uid if self.d.root else os.geteuid()
        for pid in pids:
            self.assertEqual(os.stat(f"/proc/{pid}").st_uid, expected)


@unittest.skipIf(find_tool("spawn-fcgi") is None or not os.path.isfile(os.path.join(MODULES, "mod_proxy_fcgi.so")),
                 "spawn-fcgi or mod_proxy_fcgi missing")
class ProxyFcgiTest(_ApacheChecks, unittest.TestCase):
    MODE = "proxy_fcgi"

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run Apache and the worker as two users")
    def test_worker_runs_as_another_user_and_apache_reads_none_of_its_files(self):
        r = self.d.post_form({"grant_type": "client_credentials", "scope": "api1"}, auth=(BASIC_ID, SECRET))
        self.assertEqual(r.status, 200, r)
        service = pwd.getpwnam(SERVICE_USER)
        www = pwd.getpwnam("www-data")
        pids = self.d.worker_pids()
        self.assertTrue(pids)
        for pid in pids:
            self.assertEqual(os.stat(f"/proc/{pid}").st_uid, service.pw_uid)
        sock = os.stat(self.d.socket_path)
        self.assertEqual((sock.st_uid, sock.st_gid, sock.st_mode & 0o777), (service.pw_uid, www.pw_gid, 0o660))
        for path in (os.path.join(self.d.tmp, "db", "data.mdb"), self.d.kek_path):
            self.assertEqual(os.stat(path).st_uid, service.pw_uid, path)
            probe = subprocess.run(["runuser", "-u", "www-data", "--", "head", "-c", "1", path],
                                   capture_output=True, timeout=30)
            self.assertNotEqual(probe.returncode, 0, f"www-data can read {path}")
        self.assertEqual(os.stat(self.d.kek_path).st_mode & 0o7777, 0o400)
        with open(os.path.join(self.d.tmp, "db", "data.mdb"), "rb") as f:
            self.assertNotIn(b"PRIVATE KEY", f.read())


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print("SKIP: " + reason, file=sys.stderr)
        sys.exit(harness.SKIP)
    harness.main(need_jwt=True)
