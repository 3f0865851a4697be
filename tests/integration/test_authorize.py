"""The authorize endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2) over real HTTP, driven as a browser would:
nginx -> tokenfcgi workers -> LMDB.

Three deployments:
  LocalTest          login_providers = local: the built-in login form (CSRF, one message for every failure,
                     lockout), the signed session cookie (SSO, prompt, max_age, UserSsoLifetime, tampering,
                     deactivation, tenants), every request rule that is visible over HTTP (error page vs redirect),
                     the query and form_post response modes, discovery.
  RemoteUserTest     login_providers = remote_user local, remote_user_provision on, login_form_tenant on; the test's
                     nginx (loopback only) passes the header X-Test-Remote-User as REMOTE_USER.
  RemoteUserTenantMappingTest  remote_user_tenant_mapping = user@tenant: the tenant comes from the web server's
                     name, a disagreeing tenant:NAME is access_denied, provisioning only in that tenant.
  NoProvisionTest    login_providers = remote_user, provisioning off.
The Browser (harness.py) keeps cookies and follows nothing by itself, so every redirect is checked where it points.
"""

import base64
import json
import re
import secrets
import time
import unittest
import urllib.parse

import harness
from harness import Browser, Deployment, hashed_secret, parse_html, pkce_pair, split_redirect

SECRET = "web-s3cret"
CB = "https://app.example/cb"
CB_QUERY = "https://app.example/cb?from=tf"
AUTHORIZE = "/connect/authorize"
CODE = re.compile(r"^[A-Za-z0-9_-]{66}$")
SID = re.compile(r"^[A-Za-z0-9_-]{22}$")
BAD_LOGIN = "invalid username or password"
SESSION = "__Host-tf_session"
CSRF = "__Host-tf_csrf"
SESSION_LIFETIME = 600


def configuration():
    web = {"ClientId": "web", "ClientName": "Web <App>", "ClientSecrets": [hashed_secret(SECRET)],
           "AllowedGrantTypes": ["authorization_code"], "RedirectUris": [CB, CB_QUERY],
           "AllowedScopes": ["openid", "profile", "api1"], "AllowOfflineAccess": True}
    return {
        "Clients": [
            web,
            {**web, "ClientId": "plain", "AllowPlainTextPkce": True},
            {**web, "ClientId": "nopkce", "RequirePkce": False},
            {**web, "ClientId": "pw", "AllowedGrantTypes": ["password"]},
            {**web, "ClientId": "off", "Enabled": False},
            {**web, "ClientId": "sso", "UserSsoLifetime": 1},
            {**web, "ClientId": "remote-only", "IdentityProviderRestrictions": ["remote_user"]},
            {**web, "ClientId": "local-only", "IdentityProviderRestrictions": ["local"]},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]},
                              {"Name": "profile", "UserClaims": ["name"]}],
        "Users": [
            {"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
             "Claims": [{"Type": "name", "Value": "Alice"}]},
            {"SubjectId": "2001", "Username": "bob", "Password": "Bob-pass-2", "IsActive": False},
            {"SubjectId": "3001", "Username": "carol", "Password": "Carol-pass-3", "Tenant": "acme"},
            {"SubjectId": "4001", "Username": "dave", "Password": "Dave-pass-4"},
            {"SubjectId": "5001", "Username": "erin", "Password": "Erin-pass-5"},
        ],
    }


def form_action_sources(response):
    """The source list of the CSP form-action directive, as a set."""
    csp = response.headers.get("Content-Security-Policy") or ""
    for directive in csp.split(";"):
        name, *sources = directive.split()
        if name == "form-action":
            return set(sources)
    raise AssertionError(f"no form-action in {csp!r}")


def session_payload(cookie_value):
    """The JSON payload of a session cookie (session.h: "v1." base64url(payload) "." base64url(mac))."""
    version, payload, mac = cookie_value.split(".")
    assert version == "v1", cookie_value
    assert len(harness.b64url_decode(mac)) == 32
    return json.loads(harness.b64url_decode(payload))


class AuthorizeMixin:
    """Helpers shared by the deployments. self.d is the Deployment."""

    def params(self, client="web", **override):
        """A valid authorize request (S256 PKCE, a random state and nonce); None values are left out."""
        verifier, challenge = pkce_pair()
        p = {"client_id": client, "redirect_uri": CB, "response_type": "code", "scope": "openid profile",
             "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12), "code_challenge": challenge,
             "code_challenge_method": "S256"}
        p.update(override)
        return {k: v for k, v in p.items() if v is not None}

    def authorize(self, browser, params):
        return browser.get(AUTHORIZE, params=params)

    def assertPageHeaders(self, r):
        self.assertEqual(r.headers.get("Content-Type"), "text/html; charset=utf-8", r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        self.assertEqual(r.headers.get("Pragma"), "no-cache", r)
        self.assertEqual(r.headers.get("X-Frame-Options"), "DENY", r)
        self.assertEqual(r.headers.get("Referrer-Policy"), "no-referrer", r)
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff", r)
        csp = r.headers.get("Content-Security-Policy") or ""
        for directive in ("default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"):
            self.assertIn(directive, csp, r)
        return csp

    def assertErrorPage(self, r, status=400):
        """An HTML error page: never a redirect (RFC 6749 §4.1.2.1), never a code."""
        self.assertEqual(r.status, status, r)
        self.assertIsNone(r.headers.get("Location"), r)
        self.assertPageHeaders(r)
        self.assertNotIn("code=", r.text)
        self.assertNotIn(SESSION, r.headers.get("Set-Cookie") or "")

    def assertRedirectError(self, r, error, params, base=CB, check_state=True):
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        where, got = split_redirect(r.headers["Location"])
        self.assertEqual(where, base, r.headers["Location"])
        self.assertEqual(got.get("error"), error, got)
        self.assertTrue(got.get("error_description"), got)
        self.assertEqual(got.get("iss"), self.d.issuer, got)  # RFC 9207
        self.assertNotIn("code", got)
        if check_state and "state" in params:
            self.assertEqual(got.get("state"), params["state"], got)
        return got

    def assertCode(self, r, params, base=CB):
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        where, got = split_redirect(r.headers["Location"])
        self.assertEqual(where, base, r.headers["Location"])
        self.assertRegex(got.get("code", ""), CODE, got)
        self.assertEqual(got.get("iss"), self.d.issuer, got)
        if "state" in params:
            self.assertEqual(got.get("state"), params["state"], got)
        else:
            self.assertNotIn("state", got)
        self.assertNotIn("error", got)
        return got["code"]

    def login_form(self, r):
        """The login page of an answer: (HtmlPage, its one POST form)."""
        self.assertEqual(r.status, 200, r)
        self.assertPageHeaders(r)
        page = parse_html(r.text)
        forms = [f for f in page.forms if f.field("password") is not None]
        self.assertEqual(len(forms), 1, r.text)
        self.assertEqual(forms[0].method, "post")
        return page, forms[0]

    def sign_in(self, browser, params, username, password, **typed):
        """GET authorize -> the form -> POST it with the credentials; returns the answer to the POST."""
        _, form = self.login_form(self.authorize(browser, params))
        return browser.submit(form, username=username, password=password, **typed)

    def logs_since(self, mark):
        return self.d.logs_since(mark)


class LocalTest(AuthorizeMixin, unittest.TestCase):
    """login_providers = local (the default); 2 workers; cheap Argon2id; lockout after 3 failures."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024, password_hash_iterations=1,
                           lockout_max_failures=3, session_lifetime_seconds=SESSION_LIFETIME)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def logged_in(self, username="alice", password="Alice-pass-1", client="web"):
        b = Browser(self.d)
        p = self.params(client)
        self.assertCode(self.sign_in(b, p, username, password), p)
        return b

    # -- discovery ------------------------------------------------------------------------------------------------

    def test_discovery(self):
        doc = self.d.discovery()
        self.assertEqual(doc["authorization_endpoint"], self.d.issuer + AUTHORIZE)
        self.assertEqual(doc["userinfo_endpoint"], self.d.issuer + "/connect/userinfo")
        self.assertEqual(doc["response_types_supported"], ["code"])
        self.assertEqual(doc["response_modes_supported"], ["query", "form_post"])
        # "plain" because the enabled client "plain" has AllowPlainTextPkce (discovery.h).
        self.assertEqual(sorted(doc["code_challenge_methods_supported"]), ["S256", "plain"])
        self.assertEqual(doc["id_token_signing_alg_values_supported"], ["RS256"])
        self.assertEqual(doc["subject_types_supported"], ["public"])
        for claim in ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "idp", "amr",
                      "name"):
            self.assertIn(claim, doc["claims_supported"])
        self.assertEqual(len(doc["claims_supported"]), len(set(doc["claims_supported"])))
        self.assertIs(doc["authorization_response_iss_parameter_supported"], True)
        self.assertIn("authorization_code", doc["grant_types_supported"])

    # -- requests that cannot be trusted: an error page, never a redirect --------------------------------------------

    def test_untrusted_client_or_redirect_uri_is_an_error_page(self):
        b = Browser(self.d)
        cases = {
            "no client_id": self.params(client_id=None),
            "unknown client": self.params("nobody"),
            "client_id too long": self.params("w" * 101),
            "disabled client": self.params("off"),
            "no redirect_uri": self.params(redirect_uri=None),
            "unregistered redirect_uri": self.params(redirect_uri="https://evil.example/cb"),
            "trailing slash": self.params(redirect_uri=CB + "/"),
            "other case": self.params(redirect_uri="https://APP.example/cb"),
            "extra query": self.params(redirect_uri=CB + "?x=1"),
            "markup": self.params(redirect_uri="https://evil.example/\"><script>alert(1)</script>"),
        }
        for name, p in cases.items():
            with self.subTest(name):
                r = self.authorize(b, p)
                self.assertErrorPage(r)
                self.assertNotIn("<script>alert(1)", r.text)
        # Strict decoding: a repeated parameter or bad percent-encoding is not a request to trust.
        query = urllib.parse.urlencode(self.params())
        for name, q in {"repeated client_id": query + "&client_id=web", "bad escape": query + "&x=%zz",
                        "NUL": query + "&x=a%00b"}.items():
            with self.subTest(name):
                self.assertErrorPage(b.get(AUTHORIZE + "?" + q))
        # A POST must be a form.
        r = b.request("POST", AUTHORIZE, body=json.dumps(self.params()), headers={"Content-Type": "application/json"})
        self.assertErrorPage(r)
        mark = self.d.log_mark()
        self.assertErrorPage(self.authorize(b, self.params("nobody")))
        self.assertIn("GET /connect/authorize client=", self.logs_since(mark))
        self.assertIn("outcome=error_page status=400", self.logs_since(mark))

    def test_method_not_allowed(self):
        r = self.d.request("PUT", AUTHORIZE + "?" + urllib.parse.urlencode(self.params()))
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("Allow"), "GET, POST")

    # -- errors redirected to the client ---------------------------------------------------------------------------

    def test_response_mode(self):
        b = Browser(self.d)
        for mode in ("fragment", "FORM_POST", "query.jwt"):
            with self.subTest(mode):
                p = self.params(response_mode=mode)
                self.assertRedirectError(self.authorize(b, p), "invalid_request", p)
        # RFC 6749 §3.1: a parameter without a value is treated as omitted (query); so is an empty max_age.
        self.login_form(self.authorize(b, self.params(response_mode="", max_age="")))
        self.login_form(self.authorize(b, self.params(response_mode="query")))

    def test_redirected_errors(self):
        b = Browser(self.d)
        cases = [
            ("request_not_supported", self.params(request="eyJhbGciOiJub25lIn0.e30.")),
            ("request_uri_not_supported", self.params(request_uri="https://app.example/request.jwt")),
            ("invalid_request", self.params(response_type=None)),
            ("unsupported_response_type", self.params(response_type="token")),
            ("unsupported_response_type", self.params(response_type="code id_token")),
            ("unsupported_response_type", self.params(response_type="CODE")),
            ("unauthorized_client", self.params("pw")),
            ("invalid_scope", self.params(scope="openid unknown")),
            ("invalid_scope", self.params(scope="openid offline_access api2")),
            ("invalid_request", self.params(nonce="n" * 301)),
        ]
        for error, p in cases:
            with self.subTest(error=error, params=p):
                self.assertRedirectError(self.authorize(b, p), error, p)
        p = self.params(state="s" * 2001)
        self.assertRedirectError(self.authorize(b, p), "invalid_request", p, check_state=False)
        # The redirect keeps the registered URI's own query.
        p = self.params(redirect_uri=CB_QUERY, response_type="token")
        r = self.authorize(b, p)
        self.assertTrue(r.headers["Location"].startswith(CB_QUERY + "&"), r.headers["Location"])
        self.assertEqual(self.assertRedirectError(r, "unsupported_response_type", p, base=CB)["from"], "tf")

    def test_pkce_rules(self):
        b = Browser(self.d)
        _, challenge = pkce_pair()
        bad = [
            ("no challenge while RequirePkce", self.params(code_challenge=None, code_challenge_method=None)),
            ("42 characters", self.params(code_challenge=challenge[:42])),
            ("129 characters", self.params(code_challenge="a" * 129, code_challenge_method="plain", client="plain")),
            ("not unreserved", self.params(code_challenge=challenge[:42] + "+")),
            ("plain not allowed", self.params(code_challenge_method="plain")),
            ("absent method means plain", self.params(code_challenge_method=None)),
            ("method case", self.params(code_challenge_method="s256")),
            ("unknown method", self.params(code_challenge_method="S512", client="plain")),
            ("method without challenge", self.params("nopkce", code_challenge=None)),
        ]
        for name, p in bad:
            with self.subTest(name):
                self.assertRedirectError(self.authorize(b, p), "invalid_request", p)
        good = [
            ("no challenge, RequirePkce false", self.params("nopkce", code_challenge=None, code_challenge_method=None)),
            ("plain allowed", self.params("plain", code_challenge="p" * 43, code_challenge_method="plain")),
            ("absent method on plain client", self.params("plain", code_challenge="~._-" * 32,
                                                          code_challenge_method=None)),
        ]
        for name, p in good:
            with self.subTest(name):
                self.login_form(self.authorize(b, p))

    def test_prompt_and_max_age_syntax(self):
        b = Browser(self.d)
        for p in (self.params(prompt="bogus"), self.params(prompt="none login"), self.params(prompt="login none"),
                  self.params(max_age="-1"), self.params(max_age="abc"), self.params(max_age="12345678901"),
                  self.params(max_age="1.5"), self.params(max_age="+1"), self.params(max_age=" 1")):
            with self.subTest(p=p):
                self.assertRedirectError(self.authorize(b, p), "invalid_request", p)
        for p in (self.params(prompt="login consent"), self.params(prompt="consent"),
                  self.params(prompt="select_account"), self.params(max_age="3600")):
            with self.subTest(p=p):
                self.login_form(self.authorize(b, p))

    def test_acr_values_and_providers(self):
        b = Browser(self.d)
        for p in (self.params(acr_values="idp:remote_user"),       # not enabled in this configuration
                  self.params(acr_values="idp:nope"),
                  self.params(acr_values="tenant:a tenant:b"),
                  self.params(acr_values="tenant:a\x01"),
                  self.params("remote-only")):                     # the client's only provider is not enabled
            with self.subTest(p=p):
                self.assertRedirectError(self.authorize(b, p), "invalid_request", p)
        self.login_form(self.authorize(b, self.params(acr_values="idp:local")))
        self.login_form(self.authorize(b, self.params("local-only")))

    def test_prompt_none_without_a_session(self):
        mark = self.d.log_mark()
        p = self.params(prompt="none")
        self.assertRedirectError(self.authorize(Browser(self.d), p), "login_required", p)
        self.assertIn("outcome=login_required status=302", self.logs_since(mark))

    # -- the login form --------------------------------------------------------------------------------------------

    def test_login_form(self):
        b = Browser(self.d)
        # (prompt=consent adds the consent page after the form: test_consent.py)
        p = self.params(state='"><script>alert(1)</script>', prompt="login", max_age="0")
        mark = self.d.log_mark()
        r = self.authorize(b, p)
        page, form = self.login_form(r)
        self.assertIn("outcome=login_form status=200", self.logs_since(mark))
        # CSP lets the form post to this endpoint (its URL or the issuer's origin), not anywhere.
        sources = form_action_sources(r)
        self.assertTrue(sources & {self.d.issuer, self.d.issuer + AUTHORIZE}, sources)
        self.assertFalse(sources & {"*", "http:", "https:"}, sources)
        self.assertEqual(form.action, self.d.issuer + AUTHORIZE)
        # No markup from the request or the client's name reaches the page unescaped.
        self.assertNotIn("<script>alert(1)", r.text)
        self.assertNotIn("Web <App>", r.text)
        self.assertIn("Sign in to Web <App>", page.text)
        # The CSRF cookie: __Host-, HttpOnly, Secure, SameSite=Strict, Path=/, a browser-session cookie.
        csrf = b.last_set_cookies[CSRF]
        self.assertIn("httponly", csrf.attributes)
        self.assertIn("secure", csrf.attributes)
        self.assertEqual(csrf.attributes.get("samesite"), "Strict")
        self.assertEqual(csrf.attributes.get("path"), "/")
        self.assertNotIn("max-age", csrf.attributes)
        self.assertNotIn("expires", csrf.attributes)
        self.assertNotIn(SESSION, b.last_set_cookies)
        # Every authorize parameter travels in a hidden field, with its value intact; plus tf_login and csrf.
        hidden = dict(form.hidden())
        self.assertEqual(len(hidden), len(form.hidden()), "a hidden field twice")
        for name, value in p.items():
            self.assertEqual(hidden.get(name), value, name)
        self.assertEqual(hidden.get("tf_login"), "1")
        self.assertTrue(hidden.get("csrf"))
        self.assertNotEqual(hidden["csrf"], b.cookie(CSRF))
        # Accessible: lang, labels bound to the inputs, autocomplete, a password input, a submit button.
        self.assertTrue(page.html_attrs.get("lang"))
        username, password = form.field("username"), form.field("password")
        self.assertEqual(username.get("autocomplete"), "username")
        self.assertEqual(password.get("type"), "password")
        self.assertEqual(password.get("autocomplete"), "current-password")
        for field in (username, password):
            self.assertTrue(page.labels.get(field.get("id")), field)
        self.assertIsNone(form.field("tenant"))  # login_form_tenant is off
        self.assertTrue(form.buttons or [i for i in form.inputs if i.get("type") == "submit"])
        self.assertFalse(page.scripts)
        # A successful form login is fresh by definition, whatever prompt and max_age said.
        self.assertCode(b.submit(form, username="alice", password="Alice-pass-1"), p)

    def test_login_form_csp_allows_the_redirect_after_login(self):
        # A successful POST of the form answers 302 to the client's redirect_uri. Chrome and Safari check that
        # redirect against the form page's form-action too (w3c/webappsec-csp#8; MDN, form-action), so the
        # directive must allow the redirect_uri (its origin: CSP ignores paths after a redirect), or a real browser
        # stops at the login form and never reaches the client.
        for redirect_uri in (CB, CB_QUERY):
            with self.subTest(redirect_uri):
                r = self.authorize(Browser(self.d), self.params(redirect_uri=redirect_uri))
                self.login_form(r)
                sources = form_action_sources(r)
                self.assertTrue(sources & {"https://app.example", "https://app.example/", "https://app.example/cb"},
                                f"form-action {sorted(sources)} blocks the redirect to {redirect_uri}")

    def test_csrf(self):
        attacker = Browser(self.d)
        _, attacker_form = self.login_form(self.authorize(attacker, self.params()))
        victim = Browser(self.d)
        p = self.params()
        _, form = self.login_form(self.authorize(victim, p))
        good = dict(form.values())
        good.update(username="alice", password="Alice-pass-1")
        cases = {
            "no cookie": (good, ""),
            "no token": ({k: v for k, v in good.items() if k != "csrf"}, None),
            "empty token": ({**good, "csrf": ""}, None),
            "another browser's token": ({**good, "csrf": dict(attacker_form.values())["csrf"]}, None),
            "another browser's cookie": (good, f"{CSRF}={attacker.cookie(CSRF)}"),
            "the nonce as token": ({**good, "csrf": victim.cookie(CSRF)}, None),
        }
        for name, (fields, cookie) in cases.items():
            with self.subTest(name):
                headers = {"Cookie": cookie} if cookie is not None else None
                r = victim.post_form(AUTHORIZE, fields, headers=headers)
                self.assertErrorPage(r)
                self.assertNotIn(SESSION, victim.last_set_cookies)
                self.assertIn("expired", parse_html(r.text).text)
        # The real form still works: those attempts were not logins (nor failures counted against alice).
        self.assertCode(victim.submit(form, username="alice", password="Alice-pass-1"), p)

    def test_failed_logins_show_one_message(self):
        b = Browser(self.d)
        p = self.params()
        messages = []
        mark = self.d.log_mark()
        for username, password in (("alice", "wrong-password"), ("nobody", "Alice-pass-1"),
                                   ("bob", "Bob-pass-2"),        # inactive
                                   ("carol", "Carol-pass-3"),    # another tenant's user
                                   ("alice", "")):
            with self.subTest(username=username):
                r = self.sign_in(b, p, username, password)
                page, form = self.login_form(r)
                self.assertNotIn(SESSION, b.last_set_cookies)
                error = page.ids.get("error")
                self.assertIsNotNone(error, r.text)
                for name in ("username", "password"):
                    self.assertEqual(form.field(name).get("aria-describedby"), "error")
                message = re.search(r'id="error"[^>]*>([^<]*)<', r.text).group(1).strip()
                messages.append(message)
                self.assertEqual(form.field("username").get("value", ""), username)
                self.assertEqual(form.field("password").get("value", ""), "")
                self.assertEqual(dict(form.hidden()).get("state"), p["state"])
        self.assertEqual(set(messages), {BAD_LOGIN}, messages)
        logs = self.logs_since(mark)
        self.assertIn("outcome=invalid_credentials status=200", logs)
        self.assertNotIn("Alice-pass-1", logs)
        self.assertNotIn("wrong-password", logs)
        # The form shown after a failure works.
        _, form = self.login_form(r)
        self.assertCode(b.submit(form, username="alice", password="Alice-pass-1"), p)

    def test_the_posted_form_is_validated_again(self):
        # The hidden fields come back from the browser: a changed redirect_uri or client is checked like a GET.
        b = Browser(self.d)
        _, form = self.login_form(self.authorize(b, self.params()))
        for name, value in (("redirect_uri", "https://evil.example/cb"), ("client_id", "off")):
            with self.subTest(name):
                self.assertErrorPage(b.submit(form, username="alice", password="Alice-pass-1", **{name: value}))
                self.assertNotIn(SESSION, b.jar)
        r = b.submit(form, username="alice", password="Alice-pass-1", code_challenge_method="plain")
        _, got = split_redirect(r.headers.get("Location", ""))
        self.assertEqual(got.get("error"), "invalid_request", r)
        self.assertNotIn(SESSION, b.jar)

    def test_user_names_ignore_ascii_case(self):
        b = self.logged_in("ALICE", "Alice-pass-1")
        self.assertEqual(session_payload(b.cookie(SESSION))["sub"], "1001")

    def test_lockout_applies_to_the_form(self):
        b = Browser(self.d)
        p = self.params()
        for _ in range(3):  # lockout_max_failures = 3
            page, _ = self.login_form(self.sign_in(b, p, "dave", "wrong"))
        r = self.sign_in(b, p, "dave", "Dave-pass-4")  # locked: the right password fails the same way
        page, _ = self.login_form(r)
        self.assertIn(BAD_LOGIN, page.text)
        self.assertNotIn(SESSION, b.jar)
        self.d.tokenctl("user", "unlock", "--username", "dave")
        self.assertCode(self.sign_in(b, p, "dave", "Dave-pass-4"), p)

    # -- sessions --------------------------------------------------------------------------------------------------

    def test_login_sets_a_session_and_single_sign_on(self):
        b = Browser(self.d)
        p = self.params()
        mark = self.d.log_mark()
        before = int(time.time())
        code = self.assertCode(self.sign_in(b, p, "alice", "Alice-pass-1"), p)
        cookie = b.last_set_cookies[SESSION]
        for flag in ("httponly", "secure"):
            self.assertIn(flag, cookie.attributes)
        self.assertEqual(cookie.attributes.get("samesite"), "Lax")
        self.assertEqual(cookie.attributes.get("path"), "/")
        self.assertNotIn("domain", cookie.attributes)
        self.assertTrue(SESSION_LIFETIME - 5 <= int(cookie.attributes["max-age"]) <= SESSION_LIFETIME, cookie.header)
        s = session_payload(cookie.value)
        self.assertEqual(set(s), {"sub", "tenant", "idp", "amr", "auth_time", "sid", "exp", "stamp"})
        self.assertEqual((s["sub"], s["tenant"], s["idp"], s["amr"]), ("1001", "", "local", ["pwd"]))
        self.assertRegex(s["sid"], SID)
        self.assertTrue(before - 1 <= s["auth_time"] <= time.time() + 1, s)
        self.assertEqual(s["exp"], s["auth_time"] + SESSION_LIFETIME)
        # Single sign-on: the next authorize answers with a code at once; the session stays as it was.
        for extra in ({}, {"prompt": "none"}, {"max_age": "3600"},
                      {"redirect_uri": CB_QUERY}, {"response_type": "code", "nonce": None, "state": None}):
            with self.subTest(extra=extra):
                p2 = self.params(**extra)
                r = self.authorize(b, p2)
                c = self.assertCode(r, p2)
                if p2["redirect_uri"] == CB_QUERY:  # the registered URI's own query is kept, then '&'
                    self.assertTrue(r.headers["Location"].startswith(CB_QUERY + "&"), r.headers["Location"])
                self.assertNotEqual(c, code)
                self.assertEqual(session_payload(b.cookie(SESSION))["sid"], s["sid"])
        # prompt=login and select_account force the form despite the session.
        for prompt in ("login", "select_account", "consent login"):
            with self.subTest(prompt=prompt):
                self.login_form(self.authorize(b, self.params(prompt=prompt)))
        # Nothing secret is logged: no code, no cookie, no password.
        logs = self.logs_since(mark)
        self.assertIn("outcome=ok status=302", logs)
        for secret in (code, cookie.value, b.cookie(CSRF), "Alice-pass-1"):
            self.assertNotIn(secret, logs)

    def test_a_new_login_replaces_the_session(self):
        b = self.logged_in()
        first = session_payload(b.cookie(SESSION))
        time.sleep(1.1)
        p = self.params(prompt="login")
        self.assertCode(self.sign_in(b, p, "dave", "Dave-pass-4"), p)
        second = session_payload(b.cookie(SESSION))
        self.assertEqual(second["sub"], "4001")
        self.assertNotEqual(second["sid"], first["sid"])
        self.assertGreater(second["auth_time"], first["auth_time"])

    def test_state_is_encoded_exactly(self):
        b = self.logged_in()
        for state in ("a b&c=d/é?#%", "+", "x" * 2000):
            with self.subTest(state=state[:20]):
                p = self.params(state=state, nonce="n" * 300)
                self.assertCode(self.authorize(b, p), p)
        p = self.params(state=None)
        self.assertCode(self.authorize(b, p), p)

    def test_tampered_or_foreign_sessions_are_ignored(self):
        b = self.logged_in()
        value = b.cookie(SESSION)
        version, payload, mac = value.split(".")
        forged = json.loads(harness.b64url_decode(payload))
        forged["sub"] = "4001"
        forged_payload = base64.urlsafe_b64encode(json.dumps(forged, separators=(",", ":")).encode()).rstrip(b"=")
        cases = {
            "another sub under the old MAC": f"{version}.{forged_payload.decode()}.{mac}",
            "MAC flipped": f"{version}.{payload}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BA'}",
            "version": f"v2.{payload}.{mac}",
            "garbage": "garbage",
            "empty": "",
        }
        for name, cookie in cases.items():
            with self.subTest(name):
                self.login_form(b.get(AUTHORIZE, params=self.params(), headers={"Cookie": f"{SESSION}={cookie}"}))
                p = self.params(prompt="none")
                self.assertRedirectError(b.get(AUTHORIZE, params=p, headers={"Cookie": f"{SESSION}={cookie}"}),
                                         "login_required", p)
        # The first cookie of that name wins (session.h FindCookie).
        r = b.get(AUTHORIZE, params=self.params(), headers={"Cookie": f"{SESSION}=garbage; {SESSION}={value}"})
        self.login_form(r)
        p = self.params()
        self.assertCode(b.get(AUTHORIZE, params=p, headers={"Cookie": f"other=1; {SESSION}={value}; x=2"}), p)

    def test_max_age_and_user_sso_lifetime(self):
        b = self.logged_in()
        time.sleep(2.2)
        p = self.params(prompt="none", max_age="1")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        self.login_form(self.authorize(b, self.params(max_age="1")))
        p = self.params(max_age="100")
        self.assertCode(self.authorize(b, p), p)
        # Client "sso" has UserSsoLifetime 1: a 2.2 s old login is too old for it, not for "web".
        self.login_form(self.authorize(b, self.params("sso")))
        p = self.params("sso", prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        p = self.params("web", prompt="none")
        self.assertCode(self.authorize(b, p), p)

    def test_rotating_the_session_key_ends_every_session(self):
        b = self.logged_in()
        p = self.params(prompt="none")
        self.assertCode(self.authorize(b, p), p)
        self.d.tokenctl("session", "rotate-key")
        self.d.wait_for_configuration()
        p = self.params(prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        # A CSRF token of a form shown before the rotation is dead too.
        _, form = self.login_form(self.authorize(b, self.params()))
        self.d.tokenctl("session", "rotate-key")
        self.d.wait_for_configuration()
        self.assertErrorPage(b.submit(form, username="alice", password="Alice-pass-1"))
        # Logging in again works with the new key.
        p = self.params()
        self.assertCode(self.sign_in(b, p, "alice", "Alice-pass-1"), p)

    def test_deactivated_user_loses_the_session(self):
        b = self.logged_in("erin", "Erin-pass-5")
        p = self.params(prompt="none")
        self.assertCode(self.authorize(b, p), p)
        self.d.tokenctl("user", "disable", "--username", "erin")
        try:
            p = self.params(prompt="none")
            self.assertRedirectError(self.authorize(b, p), "login_required", p)
            self.login_form(self.authorize(b, self.params()))
        finally:
            self.d.tokenctl("user", "enable", "--username", "erin")
        # Disabling moved erin's security stamp: enabling again does not bring the old session back.
        p = self.params(prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)

    def test_tenants(self):
        b = Browser(self.d)
        p = self.params(acr_values="tenant:acme")
        page, form = self.login_form(self.authorize(b, p))
        self.assertEqual(dict(form.hidden()).get("acr_values"), "tenant:acme")
        # alice has no tenant: not a user of acme.
        page, form = self.login_form(b.submit(form, username="alice", password="Alice-pass-1"))
        self.assertIn(BAD_LOGIN, page.text)
        self.assertCode(b.submit(form, username="carol", password="Carol-pass-3"), p)
        s = session_payload(b.cookie(SESSION))
        self.assertEqual((s["sub"], s["tenant"]), ("3001", "acme"))
        p = self.params(acr_values="tenant:acme", prompt="none")
        self.assertCode(self.authorize(b, p), p)
        # A session of another tenant is not a session for this one.
        p = self.params(acr_values="tenant:other", prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        alice = self.logged_in()
        p = self.params(acr_values="tenant:acme", prompt="none")
        self.assertRedirectError(self.authorize(alice, p), "login_required", p)

    # -- response modes and POST -----------------------------------------------------------------------------------

    def test_form_post(self):
        b = self.logged_in()
        p = self.params(response_mode="form_post", redirect_uri=CB_QUERY, state="a&b<c>")
        r = self.authorize(b, p)
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.headers.get("Location"))
        csp = self.assertPageHeaders(r)
        page = parse_html(r.text)
        self.assertEqual(len(page.forms), 1, r.text)
        form = page.forms[0]
        self.assertEqual((form.action, form.method), (CB_QUERY, "post"))
        # CSP source expressions cannot carry a query (CSP3 path-part): the origin or the path must allow the post.
        sources = form_action_sources(r)
        self.assertTrue(sources & {"https://app.example", "https://app.example/cb"}, csp)
        self.assertFalse(sources & {"*", "https:", "'self'"}, csp)
        fields = dict(form.hidden())
        self.assertEqual(set(fields), {"code", "state", "iss"}, fields)
        self.assertRegex(fields["code"], CODE)
        self.assertEqual((fields["state"], fields["iss"]), (p["state"], self.d.issuer))
        self.assertNotIn("<c>", r.text)
        # One inline script, allowed by its nonce; a submit button for browsers without scripts.
        self.assertEqual(len(page.scripts), 1)
        nonce = page.scripts[0][0].get("nonce")
        self.assertTrue(nonce)
        self.assertIn(f"script-src 'nonce-{nonce}'", csp)
        self.assertIn("<noscript>", r.text)
        # After the login form too.
        fresh = Browser(self.d)
        p = self.params(response_mode="form_post")
        r = self.sign_in(fresh, p, "alice", "Alice-pass-1")
        self.assertEqual(r.status, 200, r)
        self.assertIn(SESSION, fresh.last_set_cookies)
        fields = dict(parse_html(r.text).forms[0].hidden())
        self.assertRegex(fields.get("code", ""), CODE)
        self.assertEqual((fields.get("state"), fields.get("iss")), (p["state"], self.d.issuer))
        # Errors use the response mode too.
        p = self.params(response_mode="form_post", response_type="token")
        r = self.authorize(b, p)
        self.assertEqual(r.status, 200, r)
        fields = dict(parse_html(r.text).forms[0].hidden())
        self.assertEqual(fields.get("error"), "unsupported_response_type")
        self.assertEqual((fields.get("state"), fields.get("iss")), (p["state"], self.d.issuer))
        self.assertNotIn("code", fields)

    def test_post_to_authorize(self):
        b = self.logged_in()
        p = self.params()
        self.assertCode(b.post_form(AUTHORIZE, p), p)
        p = self.params(prompt="none")
        self.assertRedirectError(Browser(self.d).post_form(AUTHORIZE, p), "login_required", p)
        r = b.request("POST", AUTHORIZE, body=urllib.parse.urlencode(p), headers={"Content-Type": "text/plain"})
        self.assertErrorPage(r)

    def test_untrusted_remote_user_header_is_ignored(self):
        # This deployment's nginx clears REMOTE_USER: neither the test header nor a Basic user name logs anyone in.
        b = Browser(self.d, remote_user="alice")
        p = self.params(prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        r = b.get(AUTHORIZE, params=self.params(), headers={"Authorization": harness.basic_auth("alice", "x")})
        self.login_form(r)


class RemoteUserTest(AuthorizeMixin, unittest.TestCase):
    """login_providers = remote_user local; provisioning on; the login form asks for a tenant."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, remote_user_header=True, password_hash_memory_kib=1024,
                           password_hash_iterations=1, login_providers="remote_user local",
                           remote_user_provision="true", login_form_tenant="true")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_remote_user_logs_in_without_a_form(self):
        b = Browser(self.d, remote_user="alice")
        p = self.params()
        before = int(time.time())
        mark = self.d.log_mark()
        self.assertCode(self.authorize(b, p), p)
        self.assertIn("outcome=ok status=302", self.logs_since(mark))
        cookie = b.last_set_cookies[SESSION]
        self.assertEqual(cookie.attributes.get("samesite"), "Lax")
        s = session_payload(cookie.value)
        self.assertEqual((s["sub"], s["idp"], s["amr"], s["tenant"]), ("1001", "remote_user", ["external"], ""))
        self.assertGreaterEqual(s["auth_time"], before - 1)
        # The web server authenticates every request: auth_time moves, the session id stays.
        time.sleep(1.1)
        p = self.params(prompt="login")
        self.assertCode(self.authorize(b, p), p)
        again = session_payload(b.last_set_cookies[SESSION].value)
        self.assertEqual((again["sub"], again["sid"]), ("1001", s["sid"]))
        self.assertGreater(again["auth_time"], s["auth_time"])
        # prompt=none needs no form either: the web server authenticated this request.
        p = self.params(prompt="none")
        self.assertCode(self.authorize(b, p), p)
        # The user name is matched ignoring ASCII case.
        upper = Browser(self.d, remote_user="ALICE")
        self.assertCode(self.authorize(upper, p), p)
        self.assertEqual(session_payload(upper.cookie(SESSION))["sub"], "1001")
        self.assertNotEqual(session_payload(upper.cookie(SESSION))["sid"], s["sid"])

    def test_without_remote_user(self):
        b = Browser(self.d)
        r = self.authorize(b, self.params())
        self.assertErrorPage(r, 401)
        self.assertIn("did not authenticate you", parse_html(r.text).text)
        p = self.params(prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        self.assertErrorPage(self.authorize(Browser(self.d, remote_user=""), self.params()), 401)

    def test_only_the_test_header_sets_remote_user(self):
        # nginx's $remote_user (any Basic header's user name) must not reach the worker as REMOTE_USER.
        basic = {"Authorization": harness.basic_auth("bob", "x")}
        self.assertErrorPage(Browser(self.d).get(AUTHORIZE, params=self.params(), headers=basic), 401)
        b = Browser(self.d, remote_user="alice")
        p = self.params()
        self.assertCode(b.get(AUTHORIZE, params=p, headers=basic), p)
        self.assertEqual(session_payload(b.cookie(SESSION))["sub"], "1001")

    def test_remote_user_session_without_remote_user(self):
        # The session of a remote_user login does not stand in for the web server's authentication of this request.
        b = Browser(self.d, remote_user="alice")
        p = self.params()
        self.assertCode(self.authorize(b, p), p)
        b.remote_user = None
        self.assertErrorPage(self.authorize(b, self.params()), 401)

    def test_provisioning(self):
        name = "newbie-" + secrets.token_hex(4)
        b = Browser(self.d, remote_user=name)
        p = self.params()
        self.assertCode(self.authorize(b, p), p)
        sub = session_payload(b.cookie(SESSION))["sub"]
        self.assertRegex(sub, SID)
        again = Browser(self.d, remote_user=name)
        self.assertCode(self.authorize(again, p), p)
        self.assertEqual(session_payload(again.cookie(SESSION))["sub"], sub)
        # The request cannot choose a tenant to provision in (remote_user_tenant is "" here).
        t = Browser(self.d, remote_user="mallory-" + secrets.token_hex(4))
        p = self.params(acr_values="tenant:acme")
        self.assertRedirectError(self.authorize(t, p), "access_denied", p)
        self.assertNotIn(SESSION, t.jar)
        self.assertNotIn("mallory", self.d.tokenctl("user", "list").stdout)
        # A provisioned user has no password: the login form cannot log them in.
        p = self.params(acr_values="idp:local")
        page, _ = self.login_form(self.sign_in(Browser(self.d), p, name, ""))
        self.assertIn(BAD_LOGIN, page.text)

    def test_the_request_does_not_choose_the_tenant(self):
        # The web server authenticated "carol" of no tenant; acme's carol (3001) is someone else.
        b = Browser(self.d, remote_user="carol")
        p = self.params(acr_values="tenant:acme")
        mark = self.d.log_mark()
        self.assertRedirectError(self.authorize(b, p), "access_denied", p)
        self.assertNotIn(SESSION, b.jar)
        self.assertIn("outcome=access_denied", self.logs_since(mark))
        # Naming the configured tenant ("" here, so no tenant:) is what a login looks like.
        p = self.params()
        self.assertCode(self.authorize(b, p), p)
        s = session_payload(b.cookie(SESSION))
        self.assertEqual(s["tenant"], "")
        self.assertNotEqual(s["sub"], "3001")

    def test_inactive_user_is_access_denied(self):
        p = self.params()
        self.assertRedirectError(self.authorize(Browser(self.d, remote_user="bob"), p), "access_denied", p)

    def test_local_form_when_asked_or_required(self):
        b = Browser(self.d, remote_user="alice")
        for p in (self.params(acr_values="idp:local"), self.params("local-only")):
            with self.subTest(p["client_id"]):
                page, form = self.login_form(self.authorize(b, p))
                self.assertIsNotNone(form.field("tenant"))       # login_form_tenant = true
                self.assertTrue(page.labels.get(form.field("tenant").get("id")))
        # acr_values names the tenant: no tenant input.
        _, form = self.login_form(self.authorize(b, self.params(acr_values="idp:local tenant:acme")))
        self.assertIsNone(form.field("tenant"))
        # The tenant typed into the form selects the user.
        p = self.params(acr_values="idp:local")
        _, form = self.login_form(self.authorize(b, p))
        page, form = self.login_form(b.submit(form, username="carol", password="Carol-pass-3", tenant=""))
        self.assertIn(BAD_LOGIN, page.text)
        self.assertCode(b.submit(form, username="carol", password="Carol-pass-3", tenant="acme"), p)
        s = session_payload(b.cookie(SESSION))
        self.assertEqual((s["sub"], s["idp"], s["amr"], s["tenant"]), ("3001", "local", ["pwd"], "acme"))

    def test_sessions_are_per_provider(self):
        b = Browser(self.d, remote_user="alice")
        p = self.params()
        self.assertCode(self.authorize(b, p), p)
        # A remote_user session is not a local one.
        p = self.params(acr_values="idp:local", prompt="none")
        self.assertRedirectError(self.authorize(b, p), "login_required", p)
        # A local session: local requests use it; remote_user requests still follow REMOTE_USER (here: dave).
        local = Browser(self.d)
        p = self.params(acr_values="idp:local")
        self.assertCode(self.sign_in(local, p, "alice", "Alice-pass-1"), p)
        p = self.params(acr_values="idp:local", prompt="none")
        self.assertCode(self.authorize(local, p), p)
        local_sid = session_payload(local.cookie(SESSION))["sid"]
        local.remote_user = "dave"
        p = self.params()
        self.assertCode(self.authorize(local, p), p)
        s = session_payload(local.cookie(SESSION))
        self.assertEqual((s["sub"], s["idp"]), ("4001", "remote_user"))
        self.assertNotEqual(s["sid"], local_sid)   # another subject and provider: a new session id
        # Another REMOTE_USER in the same browser: a new session id too.
        local.remote_user = "alice"
        self.assertCode(self.authorize(local, p), p)
        s2 = session_payload(local.cookie(SESSION))
        self.assertEqual(s2["sub"], "1001")
        self.assertNotEqual(s2["sid"], s["sid"])


class RemoteUserTenantMappingTest(AuthorizeMixin, unittest.TestCase):
    """login_providers = remote_user; remote_user_tenant_mapping = user@tenant, remote_user_tenant = acme;
    provisioning on."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=1, remote_user_header=True, login_providers="remote_user",
                           remote_user_provision="true", remote_user_tenant_mapping="user@tenant",
                           remote_user_tenant="acme")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_the_tenant_comes_from_the_name(self):
        # "carol" has no @: the configured tenant, acme, where carol is 3001.
        b = Browser(self.d, remote_user="carol")
        p = self.params(acr_values="tenant:acme")    # agrees: fine
        self.assertCode(self.authorize(b, p), p)
        self.assertEqual((session_payload(b.cookie(SESSION))["sub"], session_payload(b.cookie(SESSION))["tenant"]),
                         ("3001", "acme"))
        # carol@globex is provisioned in globex, whatever the request asks.
        g = Browser(self.d, remote_user="carol@globex")
        p = self.params()
        self.assertCode(self.authorize(g, p), p)
        s = session_payload(g.cookie(SESSION))
        self.assertEqual(s["tenant"], "globex")
        self.assertNotEqual(s["sub"], "3001")
        users = self.d.tokenctl("--json", "user", "list").stdout
        self.assertIn('"globex"', users)

    def test_a_disagreeing_tenant_is_access_denied_and_provisions_nothing(self):
        before = self.d.tokenctl("--json", "user", "list").stdout
        for remote_user, acr in (("mallory@globex", "tenant:acme"), ("mallory", "tenant:globex")):
            with self.subTest(remote_user):
                b = Browser(self.d, remote_user=remote_user)
                p = self.params(acr_values=acr)
                self.assertRedirectError(self.authorize(b, p), "access_denied", p)
                self.assertNotIn(SESSION, b.jar)
        self.assertEqual(self.d.tokenctl("--json", "user", "list").stdout, before)

    def test_an_empty_part_is_refused(self):
        for name in ("@acme", "carol@"):
            with self.subTest(name):
                self.assertErrorPage(self.authorize(Browser(self.d, remote_user=name), self.params()), 400)


class NoProvisionTest(AuthorizeMixin, unittest.TestCase):
    """login_providers = remote_user only; remote_user_provision off."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=1, remote_user_header=True, login_providers="remote_user")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_unknown_user_is_access_denied(self):
        p = self.params()
        b = Browser(self.d, remote_user="stranger")
        self.assertRedirectError(self.authorize(b, p), "access_denied", p)
        self.assertNotIn(SESSION, b.jar)
        r = self.d.tokenctl("user", "list")
        self.assertNotIn("stranger", r.stdout)

    def test_known_user(self):
        p = self.params()
        self.assertCode(self.authorize(Browser(self.d, remote_user="alice"), p), p)

    def test_local_is_not_enabled(self):
        p = self.params(acr_values="idp:local")
        self.assertRedirectError(self.authorize(Browser(self.d, remote_user="alice"), p), "invalid_request", p)
        p = self.params("local-only")
        self.assertRedirectError(self.authorize(Browser(self.d, remote_user="alice"), p), "invalid_request", p)


if __name__ == "__main__":
    harness.main()
