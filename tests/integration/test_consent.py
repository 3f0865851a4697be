"""Consent at /connect/authorize over real HTTP (nginx -> tokenfcgi workers -> LMDB), driven as a browser does:
RequireConsent shows the consent page after sign-in (client name, scopes with display names, descriptions and
"required"); Approve gives the code, Deny answers access_denied; AllowRememberConsent stores the answer (a "consent"
grant, listed and revoked by tokenctl, after which the page comes back); prompt=consent forces the page even for a
client without RequireConsent; prompt=none with consent needed answers consent_required; the CSRF pair is checked;
with REMOTE_USER the page comes the same way.
"""

import json
import secrets
import unittest
import urllib.parse

import harness
from harness import Browser, Deployment, hashed_secret, parse_html, pkce_pair, split_redirect

SECRET = "web-s3cret"
CB = "https://app.example/cb"
AUTHORIZE = "/connect/authorize"


def configuration():
    web = {"ClientId": "consent", "ClientName": "Photo <Book>", "ClientSecrets": [hashed_secret(SECRET)],
           "AllowedGrantTypes": ["authorization_code"], "RedirectUris": [CB], "RequireConsent": True,
           "AllowedScopes": ["openid", "profile", "api1"], "IdentityProviderRestrictions": ["local"]}
    return {
        "Clients": [
            web,
            {**web, "ClientId": "noremember", "AllowRememberConsent": False},
            {**web, "ClientId": "trusted", "RequireConsent": False},
            {**web, "ClientId": "remote", "IdentityProviderRestrictions": ["remote_user"]},
        ],
        "ApiScopes": [{"Name": "api1", "DisplayName": "Your photos", "Description": "Reads your albums"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"], "Required": True,
                               "DisplayName": "Your user identifier"},
                              {"Name": "profile", "UserClaims": ["name"], "DisplayName": "Your profile"}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"},
                  {"SubjectId": "1002", "Username": "bob", "Password": "Bob-pass-2"}],
    }


class ConsentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, remote_user_header=True, password_hash_memory_kib=1024,
                           password_hash_iterations=1, login_providers="remote_user local").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def params(self, client="consent", **override):
        _, challenge = pkce_pair()
        p = {"client_id": client, "redirect_uri": CB, "response_type": "code", "scope": "openid profile api1",
             "state": secrets.token_urlsafe(12), "code_challenge": challenge, "code_challenge_method": "S256"}
        p.update(override)
        return {k: v for k, v in p.items() if v is not None}

    def signed_in(self, user="alice", password="Alice-pass-1", **params):
        """A browser that signed in through the login form; returns (browser, the answer to the login POST)."""
        b = Browser(self.d)
        r = b.get(AUTHORIZE, params=self.params(**params))
        self.assertEqual(r.status, 200, r)
        form = parse_html(r.text).forms[0]
        return b, b.submit(form, username=user, password=password)

    def consent_form(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("X-Frame-Options"), "DENY")
        page = parse_html(r.text)
        self.assertEqual(page.scripts, [])
        form = page.forms[0]
        self.assertEqual([x.get("value") for x in form.buttons], ["approve", "deny"])
        return page, form

    def decide(self, b, form, decision, remember=False):
        # A browser sends an unchecked checkbox not at all.
        fields = [(n, v) for n, v in form.values() if n != "tf_remember"] + [("tf_consent", decision)]
        if remember:
            fields.append(("tf_remember", "1"))
        return b.post_form(form.action, fields)

    def assertRedirect(self, r, **expected):
        self.assertEqual(r.status, 302, r)
        base, query = split_redirect(r.headers["Location"])
        self.assertEqual(base, CB)
        for k, v in expected.items():
            if v is None:
                self.assertIn(k, query)
            else:
                self.assertEqual(query.get(k), v, query)
        return query

    def test_page_approve_and_deny(self):
        b, r = self.signed_in()
        page, form = self.consent_form(r)
        self.assertIn("Photo <Book> wants to access your account", page.text)
        self.assertIn("Your user identifier (required)", page.text)
        self.assertIn("Your photos : Reads your albums", page.text)
        self.assertEqual(page.labels.get("tf_remember"), "Remember my decision")
        self.assertNotIn(("prompt", "login"), form.hidden())
        self.assertRedirect(self.decide(b, form, "approve"), code=None)
        # Not remembered: the page comes again, and Deny is access_denied.
        r = b.get(AUTHORIZE, params=self.params())
        _, form = self.consent_form(r)
        self.assertRedirect(self.decide(b, form, "deny"), error="access_denied")
        # prompt=none while consent is still needed.
        r = b.get(AUTHORIZE, params=self.params(prompt="none"))
        self.assertRedirect(r, error="consent_required")

    def test_remembered_consent_and_its_revocation(self):
        b, r = self.signed_in(user="bob", password="Bob-pass-2")
        _, form = self.consent_form(r)
        self.assertRedirect(self.decide(b, form, "approve", remember=True), code=None)
        # Remembered: a code at once, with prompt=none too, and for fewer scopes.
        self.assertRedirect(b.get(AUTHORIZE, params=self.params()), code=None)
        self.assertRedirect(b.get(AUTHORIZE, params=self.params(prompt="none", scope="openid")), code=None)
        # prompt=consent forces the page anyway.
        self.consent_form(b.get(AUTHORIZE, params=self.params(prompt="consent")))
        listed = self.d.tokenctl("--json", "grants", "list", "--kind", "consent", "--subject", "1002").stdout
        listed = json.loads(listed)
        self.assertEqual(len(listed), 1, listed)
        self.d.tokenctl("grants", "revoke", "--subject", "1002")
        # Revoking by subject forgets the consent and also ends bob's sessions (his security stamp moved): he signs
        # in again, and is asked again.
        r = b.get(AUTHORIZE, params=self.params())
        self.assertEqual(r.status, 200, r)
        login = parse_html(r.text).forms[0]
        self.assertIsNotNone(login.field("password"), "the login form, not a code")
        self.consent_form(b.submit(login, username="bob", password="Bob-pass-2"))

    def test_remember_needs_allow_remember_consent(self):
        b, r = self.signed_in(client="noremember")
        page, form = self.consent_form(r)
        self.assertIsNone(form.field("tf_remember"))
        self.assertRedirect(self.decide(b, form, "approve", remember=True), code=None)
        self.consent_form(b.get(AUTHORIZE, params=self.params(client="noremember")))

    def test_prompt_consent_for_a_client_without_require_consent(self):
        b, r = self.signed_in(client="trusted")
        self.assertRedirect(r, code=None)
        self.consent_form(b.get(AUTHORIZE, params=self.params(client="trusted", prompt="consent")))

    def test_prompt_login_consent_and_max_age_zero(self):
        """The login form, then the consent page, then the code: the consent POST does not ask for a new login."""
        b, r = self.signed_in(client="trusted", prompt="login consent", max_age="0")
        _, form = self.consent_form(r)
        self.assertRedirect(self.decide(b, form, "approve"), code=None)

    def test_csrf(self):
        b, r = self.signed_in()
        _, form = self.consent_form(r)
        b.jar.pop("__Host-tf_csrf")
        r = self.decide(b, form, "approve")
        self.assertEqual(r.status, 400, r)

    def test_remote_user(self):
        b = Browser(self.d, remote_user="alice")
        _, form = self.consent_form(b.get(AUTHORIZE, params=self.params(client="remote")))
        self.assertRedirect(self.decide(b, form, "approve"), code=None)


if __name__ == "__main__":
    harness.main()
