"""The device flow (RFC 8628) over real HTTP: nginx -> tokenfcgi workers -> LMDB.

  DeviceFlowTest   login_providers = remote_user local (the test's nginx passes X-Test-Remote-User as REMOTE_USER;
                   client "tv" is restricted to local, "tvr" uses remote_user):
                   the device authorization endpoint and its errors, every answer of the device_code grant (pending,
                   slow_down, access_denied, expired_token, invalid_grant, invalid_request, tokens), the polling rules
                   that can be shown without waiting (first poll; a decision answered at once), the verification
                   page driven as a browser does with the login form (local) and with REMOTE_USER, the neutral
                   message, CSRF, a parallel double redemption across 4 workers (exactly one 200), and the flow
                   driven by python3-oauthlib's DeviceClient.
  ThrottleTest     a deployment of its own (the lock is per address, and every test comes from 127.0.0.1): wrong
                   codes are refused after five, even the right one, and logged at warn without the code.
Short lifetimes and intervals: no test waits more than about two seconds.
"""

import concurrent.futures
import threading
import time
import unittest
import urllib.parse

import harness
from harness import Browser, Deployment, hashed_secret, parse_html

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTHZ = "/connect/deviceauthorization"
NEUTRAL = "This code is not valid"
SESSION = "__Host-tf_session"
CSRF = "__Host-tf_csrf"


def configuration():
    tv = {"ClientId": "tv", "ClientName": "Living-room <TV>", "RequireClientSecret": False,
          "AllowedGrantTypes": [GRANT], "AllowedScopes": ["openid", "profile", "api1"], "AllowOfflineAccess": True,
          "DeviceCodeLifetime": 30, "PollingInterval": 3, "IdentityProviderRestrictions": ["local"]}
    return {
        "Clients": [
            tv,
            {**tv, "ClientId": "short", "DeviceCodeLifetime": 1},
            {**tv, "ClientId": "tvr", "IdentityProviderRestrictions": []},
            {**tv, "ClientId": "digits", "UserCodeType": "Numeric"},
            {"ClientId": "svc", "ClientSecrets": [hashed_secret("svc-secret")],
             "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"]},
        ],
        "ApiScopes": [{"Name": "api1", "DisplayName": "Read your <files>", "Description": "Lists and reads files"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"], "Required": True,
                               "DisplayName": "Your user identifier"},
                              {"Name": "profile", "UserClaims": ["name"], "DisplayName": "Your profile"}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
                   "Claims": [{"Type": "name", "Value": "Alice"}]}],
    }


class DeviceFlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=4, remote_user_header=True, key_algs=("ES256",),
                           login_providers="remote_user local", password_hash_memory_kib=1024,
                           password_hash_iterations=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # ---- helpers ----

    def authorize(self, client="tv", scope="openid profile api1 offline_access", **extra):
        r = self.d.post_form(AUTHZ, {"client_id": client, "scope": scope, **extra})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        return r.json

    def poll(self, device_code, client="tv"):
        return self.d.post_form("/connect/token", {"grant_type": GRANT, "device_code": device_code,
                                                   "client_id": client})

    def assertError(self, r, error, status=400):
        self.assertEqual((r.status, r.json.get("error")), (status, error), r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")

    def enter_code(self, browser, code, via_complete=None):
        """GET /device (or verification_uri_complete) and submit the code form; returns the answer."""
        r = browser.get(via_complete or "/device")
        self.assertEqual(r.status, 200, r)
        page = parse_html(r.text)
        form = page.forms[0]
        self.assertEqual(page.labels.get("user_code"), "Code shown on your device")
        if via_complete:
            return browser.submit(form)
        return browser.submit(form, user_code=code)

    def approve(self, code, decision="approve", user=None):
        """The whole page flow for `code`: enter it, sign in (the local form; or REMOTE_USER `user` for a code of
        client tvr), decide."""
        b = Browser(self.d, remote_user=user)
        r = self.enter_code(b, code)
        page = parse_html(r.text)
        if user is None:
            self.assertEqual(r.status, 200, r)
            self.assertIn("Sign in to Living-room <TV>", page.text)
            r = b.submit(page.forms[0], username="alice", password="Alice-pass-1")
            page = parse_html(r.text)
        self.assertEqual(r.status, 200, r)
        form = page.forms[0]
        self.assertEqual([x.get("value") for x in form.buttons], ["approve", "deny"])
        fields = form.values() + [("tf_device", decision)]
        r = b.post_form(form.action, fields)
        self.assertEqual(r.status, 200, r)
        return b, r

    # ---- the endpoint ----

    def test_authorization_response(self):
        j = self.authorize()
        self.assertRegex(j["device_code"], r"^[A-Za-z0-9_-]{43}$")
        self.assertRegex(j["user_code"], r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
        self.assertEqual(j["verification_uri"], self.d.issuer + "/device")
        self.assertEqual(j["verification_uri_complete"], self.d.issuer + "/device?user_code=" + j["user_code"])
        self.assertEqual((j["expires_in"], j["interval"]), (30, 3))
        self.assertRegex(self.authorize(client="digits")["user_code"], r"^\d{3}-\d{3}-\d{3}$")
        discovery = self.d.discovery()
        self.assertEqual(discovery["device_authorization_endpoint"], self.d.issuer + AUTHZ)
        self.assertIn(GRANT, discovery["grant_types_supported"])

    def test_authorization_errors(self):
        r = self.d.get(AUTHZ)
        self.assertEqual(r.status, 405, r)
        self.assertIn("POST", r.headers.get("Allow", ""))
        self.assertError(self.d.post_form(AUTHZ, {"scope": "api1"}, auth=("svc", "wrong")), "invalid_client", 401)
        self.assertError(self.d.post_form(AUTHZ, {"scope": "api1"}, auth=("svc", "svc-secret")),
                         "unauthorized_client")
        self.assertError(self.d.post_form(AUTHZ, {"client_id": "tv", "scope": "nope"}), "invalid_scope")

    # ---- the grant ----

    def test_grant_errors_and_first_poll(self):
        j = self.authorize()
        self.assertError(self.poll(j["device_code"]), "authorization_pending")  # at once: never too fast
        self.assertError(self.poll(j["device_code"]), "slow_down")              # interval 3, polled again at once
        self.assertError(self.d.post_form("/connect/token", {"grant_type": GRANT, "client_id": "tv"}),
                         "invalid_request")
        self.assertError(self.poll("x" * 43), "invalid_grant")
        self.assertError(self.poll(j["device_code"], client="digits"), "invalid_grant")

    def test_expired(self):
        j = self.authorize(client="short")
        time.sleep(1.1)
        self.assertError(self.poll(j["device_code"], client="short"), "expired_token")

    def test_approval_with_the_login_form(self):
        j = self.authorize()
        self.assertError(self.poll(j["device_code"]), "authorization_pending")
        b, r = self.approve(j["user_code"])
        self.assertIn("Device connected", parse_html(r.text).text)
        r = self.poll(j["device_code"])  # right after the previous poll: the decision comes at once
        self.assertEqual(r.status, 200, r)
        tokens = r.json
        self.assertEqual(tokens["scope"], "openid profile api1 offline_access")
        _, claims = self.d.verify_access_token(tokens["access_token"], audience="api-main")
        self.assertEqual((claims["sub"], claims["client_id"], claims["idp"]), ("1001", "tv", "local"))
        self.assertIn("refresh_token", tokens)
        idt = harness.b64url_decode(tokens["id_token"].split(".")[1])
        self.assertNotIn(b'"nonce"', idt)
        self.assertError(self.poll(j["device_code"]), "invalid_grant")  # once only
        # The session is reused for the next code: no login form.
        j2 = self.authorize(scope="api1")
        r = self.enter_code(b, j2["user_code"])
        page = parse_html(r.text)
        self.assertIn("Only continue if you started this on a device you are holding", page.text)
        self.assertIn("Read your <files>", page.text)
        # One family: revoking the refresh token ends the access token.
        r = self.d.post_form("/connect/revocation", {"token": tokens["refresh_token"], "client_id": "tv"})
        self.assertEqual(r.status, 200, r)
        r = self.d.post_form("/connect/introspect", {"token": tokens["access_token"]}, auth=("svc", "svc-secret"))
        self.assertEqual(r.json, {"active": False})

    def test_approval_with_remote_user_and_the_complete_uri(self):
        j = self.authorize(client="tvr", scope="openid api1")
        b = Browser(self.d, remote_user="alice")
        r = self.enter_code(b, None, via_complete=j["verification_uri_complete"])
        self.assertEqual(r.status, 200, r)
        page = parse_html(r.text)
        self.assertIn("Living-room <TV> wants to access your account", page.text)
        self.assertIn("Your user identifier (required)", page.text)
        self.assertIn("Read your <files> : Lists and reads files", page.text)
        self.assertEqual(r.headers.get("X-Frame-Options"), "DENY")
        self.assertIn("frame-ancestors 'none'", r.headers.get("Content-Security-Policy"))
        self.assertEqual(page.scripts, [])
        form = page.forms[0]
        r = b.post_form(form.action, form.values() + [("tf_device", "approve")])
        self.assertEqual(r.status, 200, r)
        r = self.poll(j["device_code"], client="tvr")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.d.verify_access_token(r.json["access_token"])[1]["idp"], "remote_user")
        # Without REMOTE_USER: the web server did not authenticate the user.
        j = self.authorize(client="tvr", scope="api1")
        r = self.enter_code(Browser(self.d), j["user_code"])
        self.assertEqual(r.status, 401, r)

    def test_deny(self):
        j = self.authorize()
        self.assertError(self.poll(j["device_code"]), "authorization_pending")
        _, r = self.approve(j["user_code"], decision="deny")
        self.assertIn("Request denied", parse_html(r.text).text)
        self.assertError(self.poll(j["device_code"]), "access_denied")
        # A decided code: the neutral message, and it can no longer be approved.
        b = Browser(self.d)
        r = self.enter_code(b, j["user_code"])
        self.assertIn(NEUTRAL, parse_html(r.text).text)

    def test_codes_compare_ignoring_case_spaces_and_dashes(self):
        j = self.authorize(client="tvr")
        b = Browser(self.d, remote_user="alice")
        typed = " " + j["user_code"].lower().replace("-", " ") + " "
        r = self.enter_code(b, typed)
        self.assertIn("wants to access your account", parse_html(r.text).text)

    def test_csrf(self):
        j = self.authorize()
        b = Browser(self.d, remote_user="alice")
        r = b.get("/device")
        form = parse_html(r.text).forms[0]
        b.jar.pop(CSRF)
        r = b.submit(form, user_code=j["user_code"])
        self.assertEqual(r.status, 400, r)
        self.assertIn("the form has expired", parse_html(r.text).text)

    def test_parallel_double_redemption_across_workers(self):
        parallel = 12
        for round_no in range(2):
            j = self.authorize(client="tvr")
            self.approve(j["user_code"], user="alice")
            barrier = threading.Barrier(parallel)

            def redeem(_):
                barrier.wait()
                return self.poll(j["device_code"], client="tvr")

            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                results = list(pool.map(redeem, range(parallel)))
            winners = [r for r in results if r.status == 200]
            self.assertEqual(len(winners), 1, f"round {round_no}: {results}")
            for r in results:
                if r.status != 200:
                    self.assertError(r, "invalid_grant")

    def test_oauthlib_device_client(self):
        from oauthlib.oauth2 import DeviceClient
        client = DeviceClient("tvr", scope=["openid", "api1"])
        # oauthlib has no helper for the authorization request itself; the token request and response are its own.
        j = self.authorize(client="tvr", scope="openid api1")
        self.approve(j["user_code"], user="alice")
        body = client.prepare_request_body(j["device_code"], include_client_id=True)
        r = self.d.request("POST", "/connect/token", body=body, headers={"Content-Type": harness.FORM})
        self.assertEqual(r.status, 200, r)
        token = client.parse_request_body_response(r.text, scope=["openid", "api1"])
        self.assertEqual(token["token_type"], "Bearer")
        self.assertEqual(client.access_token, token["access_token"])
        self.assertIn("id_token", token)


class ThrottleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024,
                           password_hash_iterations=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    enter_code = DeviceFlowTest.enter_code
    authorize = DeviceFlowTest.authorize

    def test_wrong_codes_are_throttled_and_logged(self):
        j = self.authorize()
        mark = self.d.log_mark()
        address_user = Browser(self.d)
        for i in range(5):
            r = self.enter_code(address_user, "BBBB-BBBB")
            self.assertEqual(r.status, 200, r)
            page = parse_html(r.text)
            self.assertIn(NEUTRAL, page.text)
            field = page.forms[0].field("user_code")
            self.assertEqual(field.get("aria-describedby"), "error")
        # Now even the right code is refused for a while, from this address.
        r = self.enter_code(Browser(self.d), j["user_code"])
        self.assertEqual(r.status, 429, r)
        self.assertIn("Too many wrong codes", parse_html(r.text).text)
        logs = self.d.logs_since(mark)
        self.assertGreaterEqual(logs.count("wrong user code from"), 5, logs)
        self.assertNotIn("BBBBBBBB", logs)


if __name__ == "__main__":
    harness.main()
