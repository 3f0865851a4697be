"""Login sessions that end when the user's credentials or grants do, and OpenID Connect RP-Initiated Logout, over
real HTTP: nginx -> 2 tokenfcgi workers -> LMDB.

Checked: the session cookie carries the user's security stamp, and `tokenctl user passwd`, `user disable`,
`grants revoke --subject` and `session revoke --subject` each end every existing session (authorize with the session
and prompt=none both need a new login), while other users' sessions live on; /connect/endsession (GET and POST)
clears the session cookie, validates id_token_hint (our signature and issuer; an expired hint is accepted), follows
post_logout_redirect_uri only when it is exactly registered for the hint's (or client_id's) client, echoes state,
and otherwise shows the signed-out page; discovery lists end_session_endpoint.
"""

import base64
import json
import secrets
import unittest
import urllib.parse

import harness
from harness import Browser, Deployment, hashed_secret, parse_html, pkce_pair, split_redirect

SECRET = "web-s3cret"
CB = "https://app.example/cb"
LOGGED_OUT = "https://app.example/logged-out"
AUTHORIZE = "/connect/authorize"
TOKEN = "/connect/token"
END_SESSION = "/connect/endsession"
SESSION = "__Host-tf_session"


def configuration():
    web = {"ClientId": "web", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["authorization_code"],
           "RedirectUris": [CB], "AllowedScopes": ["openid", "api1"], "AllowOfflineAccess": True,
           "PostLogoutRedirectUris": [LOGGED_OUT, LOGGED_OUT + "?from=tf"]}
    return {
        "Clients": [web,
                    {**web, "ClientId": "expired", "IdentityTokenLifetime": 0},   # every id_token already expired
                    {**web, "ClientId": "other", "PostLogoutRedirectUris": ["https://other.example/bye"]},
                    {**web, "ClientId": "off", "Enabled": False}],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"},
                  {"SubjectId": "2001", "Username": "bob", "Password": "Bob-pass-2"},
                  {"SubjectId": "3001", "Username": "carol", "Password": "Carol-pass-3"}],
    }


def session_payload(cookie_value):
    return json.loads(harness.b64url_decode(cookie_value.split(".")[1]))


class SessionsAndLogoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024, password_hash_iterations=1)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- helpers ---------------------------------------------------------------------------------------------------

    def params(self, client="web", **extra):
        verifier, challenge = pkce_pair()
        p = {"client_id": client, "redirect_uri": CB, "response_type": "code", "scope": "openid api1",
             "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256"}
        p.update(extra)
        return p, verifier

    def sign_in(self, username, password, client="web"):
        """A browser signed in with the login form; returns (browser, id_token)."""
        b = Browser(self.d)
        p, verifier = self.params(client)
        r = b.get(AUTHORIZE, params=p)
        self.assertEqual(r.status, 200, r)
        form = [f for f in parse_html(r.text).forms if f.field("password") is not None][0]
        r = b.submit(form, username=username, password=password)
        self.assertEqual(r.status, 302, r)
        code = split_redirect(r.headers["Location"])[1]["code"]
        t = self.d.post_form(TOKEN, {"grant_type": "authorization_code", "code": code, "redirect_uri": CB,
                                     "code_verifier": verifier}, auth=(client, SECRET))
        self.assertEqual(t.status, 200, t)
        return b, t.json["id_token"]

    def assertSessionWorks(self, b):
        p, _ = self.params(prompt="none")
        r = b.get(AUTHORIZE, params=p)
        self.assertEqual(r.status, 302, r)
        self.assertIn("code", split_redirect(r.headers["Location"])[1], r.headers["Location"])

    def assertSessionEnded(self, b):
        p, _ = self.params(prompt="none")
        r = b.get(AUTHORIZE, params=p)
        self.assertEqual(r.status, 302, r)
        self.assertEqual(split_redirect(r.headers["Location"])[1].get("error"), "login_required", r)
        p, _ = self.params()
        r = b.get(AUTHORIZE, params=p)   # without prompt=none: the login form, not a code
        self.assertEqual(r.status, 200, r)
        self.assertTrue([f for f in parse_html(r.text).forms if f.field("password") is not None], r.text)

    # -- the security stamp ----------------------------------------------------------------------------------------

    def test_session_carries_the_stamp(self):
        b, _ = self.sign_in("alice", "Alice-pass-1")
        self.assertIn("stamp", session_payload(b.cookie(SESSION)))
        self.assertSessionWorks(b)

    def test_each_admin_action_ends_the_sessions(self):
        actions = [
            ("user passwd",
             lambda: self.d.tokenctl("user", "passwd", "--username", "carol", input_text="New-pass-1\n")),
            ("user disable", lambda: self.d.tokenctl("user", "disable", "3001")),
            ("grants revoke --subject", lambda: self.d.tokenctl("grants", "revoke", "--subject", "3001")),
            ("session revoke --subject", lambda: self.d.tokenctl("session", "revoke", "--subject", "3001")),
        ]
        password = "Carol-pass-3"
        for name, action in actions:
            with self.subTest(name):
                carol, _ = self.sign_in("carol", password)
                bob, _ = self.sign_in("bob", "Bob-pass-2")
                self.assertSessionWorks(carol)
                action()
                self.assertSessionEnded(carol)
                self.assertSessionWorks(bob)             # only carol was signed out
                if name == "user passwd":
                    password = "New-pass-1"
                if name == "user disable":
                    self.d.tokenctl("user", "enable", "3001")
                    self.assertSessionEnded(carol)        # enabling does not bring old sessions back
                again, _ = self.sign_in("carol", password)  # a new login works
                self.assertSessionWorks(again)

    def test_session_revoke_needs_a_known_subject(self):
        r = self.d.tokenctl("session", "revoke", "--subject", "nobody", check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no subject 'nobody'", r.stderr)

    # -- RP-initiated logout ---------------------------------------------------------------------------------------

    def test_discovery_lists_the_endpoint(self):
        self.assertEqual(self.d.discovery()["end_session_endpoint"], self.d.issuer + END_SESSION)

    def test_logout_with_hint_redirects_with_state_and_clears_the_cookie(self):
        b, id_token = self.sign_in("bob", "Bob-pass-2")
        state = secrets.token_urlsafe(8)
        r = b.get(END_SESSION, params={"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT + "?from=tf",
                                       "state": state})
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        where, got = split_redirect(r.headers["Location"])
        self.assertEqual((where, got), (LOGGED_OUT, {"from": "tf", "state": state}))
        self.assertTrue(b.last_set_cookies[SESSION].deletes)
        self.assertNotIn(SESSION, b.jar)
        self.assertSessionEnded(b)

    def test_logout_by_post_with_client_id(self):
        b, _ = self.sign_in("bob", "Bob-pass-2")
        r = b.post_form(END_SESSION, {"client_id": "web", "post_logout_redirect_uri": LOGGED_OUT})
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.headers["Location"], LOGGED_OUT)
        self.assertNotIn(SESSION, b.jar)

    def test_an_expired_hint_is_accepted(self):
        b, id_token = self.sign_in("bob", "Bob-pass-2", client="expired")
        payload = json.loads(harness.b64url_decode(id_token.split(".")[1]))
        self.assertEqual(payload["exp"], payload["iat"])   # dead from the start
        r = b.get(END_SESSION, params={"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT})
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.headers["Location"], LOGGED_OUT)

    def test_no_valid_redirect_shows_the_signed_out_page(self):
        b, id_token = self.sign_in("bob", "Bob-pass-2")
        cases = [
            {},                                                              # nothing at all
            {"post_logout_redirect_uri": LOGGED_OUT},                        # no client to check it against
            {"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT + "/"},      # not exact
            {"id_token_hint": id_token, "post_logout_redirect_uri": "https://other.example/bye"},  # another's
            {"client_id": "web", "post_logout_redirect_uri": "https://evil.example/"},
            {"id_token_hint": id_token},                                     # a hint, no URI
        ]
        for params in cases:
            with self.subTest(params=sorted(params)):
                b, _ = self.sign_in("bob", "Bob-pass-2")
                r = b.get(END_SESSION, params=params)
                self.assertEqual(r.status, 200, r)
                self.assertIsNone(r.headers.get("Location"))
                self.assertEqual(r.headers.get("Cache-Control"), "no-store")
                self.assertIn("signed out", parse_html(r.text).text)
                self.assertNotIn(SESSION, b.jar)

    def test_bad_requests_are_error_pages(self):
        _, id_token = self.sign_in("bob", "Bob-pass-2")
        header, payload, signature = id_token.split(".")
        forged = json.loads(harness.b64url_decode(payload))
        forged["aud"] = "other"
        forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        wrong_iss = dict(forged, aud="web", iss="https://evil.example")
        wrong_iss_payload = base64.urlsafe_b64encode(json.dumps(wrong_iss).encode()).decode().rstrip("=")
        for params in ({"id_token_hint": "garbage"},
                       {"id_token_hint": f"{header}.{forged_payload}.{signature}"},      # signature no longer fits
                       {"id_token_hint": f"{header}.{wrong_iss_payload}.{signature}"},
                       {"id_token_hint": id_token, "client_id": "other"},              # disagrees with the hint
                       {"client_id": "nobody"}, {"client_id": "off"}):
            with self.subTest(params=sorted(params)):
                b = Browser(self.d)
                r = b.get(END_SESSION, params=dict(params, post_logout_redirect_uri=LOGGED_OUT))
                self.assertEqual(r.status, 400, r)
                self.assertIsNone(r.headers.get("Location"))
        r = self.d.request("GET", END_SESSION + "?state=a&state=b")
        self.assertEqual(r.status, 400, r)
        r = self.d.request("PUT", END_SESSION)
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("Allow"), "GET, POST")


if __name__ == "__main__":
    harness.main()
