"""The authorization_code grant (RFC 6749 §4.1.3, RFC 7636, OpenID Connect Core §3.1.3) over real HTTP, end to end:
a browser gets a code from /connect/authorize (nginx passes the test header X-Test-Remote-User as REMOTE_USER, or the
login form), the client redeems it at /connect/token.

Checked: the response members per scope, PKCE (S256, plain, the downgrade), redirect_uri, another client's and expired
codes, a disabled user, code reuse revoking everything issued from the code (refresh tokens, reference and JWT access
tokens, via introspection and userinfo) when the replay proves possession (client authentication, or a public
client's matching code_verifier) and nothing otherwise, a parallel double redemption across 4 worker processes
(exactly one 200),
refresh returning a new id_token (same sub, auth_time, sid; no nonce), userinfo with the issued access token.

Every id_token is validated with python3-jose (signature against the served JWKS, iss, aud, exp, iat, at_hash, nonce),
an implementation independent of ours; access tokens with python3-jwt (harness.verify_access_token).
"""

import concurrent.futures
import hashlib
import json
import re
import secrets
import threading
import time
import unittest

import harness
from harness import Browser, Deployment, hashed_secret, parse_html, pkce_pair, split_redirect

SECRET = "web-s3cret"
API_SECRET = "api-s3cret"
CB = "https://app.example/cb"
CB_OTHER = "https://app.example/other"
AUTHORIZE = "/connect/authorize"
TOKEN = "/connect/token"
USERINFO = "/connect/userinfo"
INTROSPECTION = "/connect/introspect"
HANDLE = re.compile(r"^[A-Za-z0-9_-]{43}$")
REFRESH_HANDLE = re.compile(r"^[A-Za-z0-9_-]{87}$")
SID = re.compile(r"^[A-Za-z0-9_-]{22}$")
ALL_SCOPES = "openid profile email api1 offline_access"
ID_TOKEN_PROTOCOL_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash", "sid", "idp",
                            "amr", "acr"}


def configuration():
    web = {"ClientId": "web", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["authorization_code"],
           "RedirectUris": [CB, CB_OTHER], "AllowedScopes": ["openid", "profile", "email", "api1"],
           "AllowOfflineAccess": True, "AlwaysIncludeUserClaimsInIdToken": True}
    return {
        "Clients": [
            web,
            {**web, "ClientId": "other"},
            {**web, "ClientId": "es", "AllowedIdentityTokenSigningAlgorithms": ["ES256"],
             "AlwaysIncludeUserClaimsInIdToken": False, "IdentityTokenLifetime": 120},
            {**web, "ClientId": "plain", "AllowPlainTextPkce": True},
            {**web, "ClientId": "nopkce", "RequirePkce": False},
            {**web, "ClientId": "ref", "AccessTokenType": "Reference"},
            {**web, "ClientId": "short", "AuthorizationCodeLifetime": 1},
            {**web, "ClientId": "pw", "AllowedGrantTypes": ["password"]},
            {"ClientId": "spa", "RequireClientSecret": False, "AllowedGrantTypes": ["authorization_code"],
             "RedirectUris": [CB], "AllowedScopes": ["openid", "api1"], "AllowOfflineAccess": True},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"], "ApiSecrets": [hashed_secret(API_SECRET)]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]},
                              {"Name": "profile", "UserClaims": ["name", "role"]},
                              {"Name": "email", "UserClaims": ["email", "email_verified"]}],
        "Users": [
            {"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
             "Claims": [{"Type": "name", "Value": "Alice"}, {"Type": "email", "Value": "alice@example.com"},
                        {"Type": "email_verified", "Value": "true",
                         "ValueType": "http://www.w3.org/2001/XMLSchema#boolean"},
                        {"Type": "role", "Value": "admin"}, {"Type": "role", "Value": "user"},
                        {"Type": "sub", "Value": "forged"}]},   # never overwrites the protocol claim
            {"SubjectId": "6001", "Username": "frank", "Password": "Frank-pass-6"},
        ],
    }


ALICE_CLAIMS = {"name": "Alice", "email": "alice@example.com", "email_verified": True, "role": ["admin", "user"]}


def start_deployment(workers):
    return Deployment(configuration(), workers=workers, remote_user_header=True, key_algs=("ES256",),
                      login_providers="remote_user local", password_hash_memory_kib=1024,
                      password_hash_iterations=1, acr_claim="true", remote_user_acr="urn:example:sso").start()


class CodeMixin:
    """Helpers; self.d is the Deployment."""

    def get_code(self, client="web", scope=ALL_SCOPES, user="alice", pkce="S256", redirect_uri=CB, **extra):
        """Runs the browser part: returns (code, code_verifier or None, the authorize parameters)."""
        verifier, challenge = pkce_pair()
        p = {"client_id": client, "redirect_uri": redirect_uri, "response_type": "code", "scope": scope,
             "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(12)}
        if pkce == "S256":
            p.update(code_challenge=challenge, code_challenge_method="S256")
        elif pkce == "plain":
            verifier = challenge = secrets.token_urlsafe(40)
            p.update(code_challenge=challenge, code_challenge_method="plain")
        else:
            verifier = None
        p.update(extra)
        r = Browser(self.d, remote_user=user).get(AUTHORIZE, params=p)
        self.assertEqual(r.status, 302, r)
        _, got = split_redirect(r.headers["Location"])
        self.assertIn("code", got, got)
        self.assertEqual((got["state"], got["iss"]), (p["state"], self.d.issuer))
        return got["code"], verifier, p

    def redeem(self, code, verifier=None, client="web", redirect_uri=CB, secret=SECRET, **extra):
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                  "code_verifier": verifier}
        fields.update(extra)
        fields = {k: v for k, v in fields.items() if v is not None}
        auth = (client, secret) if secret is not None else None
        if secret is None:
            fields["client_id"] = client
        return self.d.post_form(TOKEN, fields, auth=auth)

    def tokens(self, *args, **kwargs):
        r = self.redeem(*args, **kwargs)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        return r.json

    def assertError(self, r, error, status=400):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"], error, r)

    def refresh(self, refresh_token, client="web"):
        return self.d.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                                auth=(client, SECRET))

    def introspect(self, token):
        r = self.d.post_form(INTROSPECTION, {"token": token}, auth=("api-main", API_SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json

    def userinfo(self, access_token):
        return self.d.get(USERINFO, headers={"Authorization": "Bearer " + access_token})

    def assertRevoked(self, body):
        """Everything issued from a code is dead: refresh token, access token (introspection and userinfo)."""
        self.assertEqual(self.introspect(body["access_token"]), {"active": False})
        self.assertEqual(self.userinfo(body["access_token"]).status, 401)
        if "refresh_token" in body:
            self.assertError(self.refresh(body["refresh_token"]), "invalid_grant")


class AuthorizationCodeTest(CodeMixin, unittest.TestCase):
    """One deployment: 2 workers, RS256 by default and an ES256 key; providers remote_user (default) and local."""

    @classmethod
    def setUpClass(cls):
        cls.d = start_deployment(workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- success ---------------------------------------------------------------------------------------------------

    def test_code_flow_with_id_token(self):
        before = int(time.time())
        mark = self.d.log_mark()
        code, verifier, p = self.get_code()
        r = self.redeem(code, verifier)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        body = r.json
        self.assertEqual(set(body), {"access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token"})
        self.assertEqual(body["token_type"], "Bearer")
        self.assertIsInstance(body["expires_in"], int)
        self.assertEqual(set(body["scope"].split()), set(ALL_SCOPES.split()))
        self.assertRegex(body["refresh_token"], REFRESH_HANDLE)
        # The access token (python3-jwt).
        _, access = self.d.verify_access_token(body["access_token"], audience="api-main")
        self.assertEqual((access["sub"], access["client_id"], access["idp"]), ("1001", "web", "remote_user"))
        self.assertEqual(access["amr"], ["external"])
        # The id_token (python3-jose): signature, iss, aud, exp, iat, at_hash, nonce.
        header, claims = self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"],
                                                nonce=p["nonce"])
        self.assertEqual(header["alg"], "RS256")
        self.assertEqual(claims["sub"], "1001")
        self.assertEqual(claims["aud"], "web")
        self.assertEqual(claims["exp"] - claims["iat"], 300)   # IdentityTokenLifetime's default
        self.assertEqual(claims["nbf"], claims["iat"])
        self.assertTrue(before - 1 <= claims["auth_time"] <= claims["iat"] + 1, claims)
        self.assertEqual(claims["auth_time"], access["auth_time"])
        self.assertRegex(claims["sid"], SID)
        self.assertEqual((claims["idp"], claims["amr"]), ("remote_user", ["external"]))
        self.assertEqual(claims["acr"], "urn:example:sso")   # remote_user_acr
        self.assertEqual(access["acr"], "urn:example:sso")
        # AlwaysIncludeUserClaimsInIdToken: the claims of the granted identity scopes, with their value types.
        self.assertEqual({k: v for k, v in claims.items() if k not in ID_TOKEN_PROTOCOL_CLAIMS}, ALICE_CLAIMS)
        # jose really checks at_hash and aud, and the nonce check bites: other values are refused.
        from jose.exceptions import JWTError
        with self.assertRaises(JWTError):
            self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"] + "x")
        with self.assertRaises(JWTError):
            self.d.verify_id_token(body["id_token"], "other", access_token=body["access_token"])
        with self.assertRaises(AssertionError):
            self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"], nonce="other")
        # Never logged: the code, the tokens, the verifier.
        logs = self.d.logs_since(mark)
        self.assertIn("POST /connect/token client=web grant=authorization_code outcome=ok status=200", logs)
        for secret in (code, verifier, body["access_token"], body["refresh_token"], body["id_token"]):
            self.assertNotIn(secret, logs)

    def test_session_data_reach_the_id_token(self):
        b = Browser(self.d, remote_user="alice")
        verifier, challenge = pkce_pair()
        p = {"client_id": "web", "redirect_uri": CB, "response_type": "code", "scope": "openid",
             "code_challenge": challenge, "code_challenge_method": "S256"}
        r = b.get(AUTHORIZE, params=p)
        code = split_redirect(r.headers["Location"])[1]["code"]
        session = json.loads(harness.b64url_decode(b.cookie("__Host-tf_session").split(".")[1]))
        body = self.tokens(code, verifier)
        _, claims = self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"])
        self.assertEqual((claims["sub"], claims["auth_time"], claims["sid"]),
                         (session["sub"], session["auth_time"], session["sid"]))
        self.assertNotIn("nonce", claims)  # none was sent (not required in the code flow)
        self.assertEqual(set(body["scope"].split()), {"openid"})
        self.assertNotIn("refresh_token", body)

    def test_local_login_form(self):
        b = Browser(self.d)
        verifier, challenge = pkce_pair()
        p = {"client_id": "web", "redirect_uri": CB, "response_type": "code", "scope": "openid profile",
             "nonce": "n-0S6_WzA2Mj", "acr_values": "idp:local", "code_challenge": challenge,
             "code_challenge_method": "S256"}
        r = b.get(AUTHORIZE, params=p)
        self.assertEqual(r.status, 200, r)
        form = [f for f in parse_html(r.text).forms if f.field("password") is not None][0]
        r = b.submit(form, username="alice", password="Alice-pass-1")
        self.assertEqual(r.status, 302, r)
        code = split_redirect(r.headers["Location"])[1]["code"]
        body = self.tokens(code, verifier)
        _, claims = self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"],
                                           nonce="n-0S6_WzA2Mj")
        self.assertEqual((claims["sub"], claims["idp"], claims["amr"]), ("1001", "local", ["pwd"]))
        self.assertEqual((claims["name"], claims["role"]), ("Alice", ["admin", "user"]))
        self.assertNotIn("email", claims)  # the email scope was not granted

    def test_acr_states_what_the_login_met_never_what_was_asked(self):
        # A local login (local_acr, default "1"), then a silent prompt=none login from its session asking for more.
        b = Browser(self.d)
        verifier, challenge = pkce_pair()
        p = {"client_id": "web", "redirect_uri": CB, "response_type": "code", "scope": "openid api1",
             "acr_values": "idp:local urn:example:mfa", "code_challenge": challenge, "code_challenge_method": "S256"}
        r = b.get(AUTHORIZE, params=p)
        form = [f for f in parse_html(r.text).forms if f.field("password") is not None][0]
        r = b.submit(form, username="alice", password="Alice-pass-1")
        body = self.tokens(split_redirect(r.headers["Location"])[1]["code"], verifier)
        _, claims = self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"])
        self.assertEqual(claims["acr"], "1")
        verifier, challenge = pkce_pair()
        p.update(prompt="none", acr_values="idp:local urn:example:mfa 3", code_challenge=challenge)
        r = b.get(AUTHORIZE, params=p)
        self.assertEqual(r.status, 302, r)
        body = self.tokens(split_redirect(r.headers["Location"])[1]["code"], verifier)
        _, claims = self.d.verify_id_token(body["id_token"], "web", access_token=body["access_token"])
        _, access = self.d.verify_access_token(body["access_token"], audience="api-main")
        self.assertEqual((claims["acr"], access["acr"]), ("1", "1"))

    def test_scopes_decide_the_tokens(self):
        code, verifier, _ = self.get_code(scope="api1")
        body = self.tokens(code, verifier)
        self.assertEqual(set(body), {"access_token", "token_type", "expires_in", "scope"})
        self.assertEqual(body["scope"], "api1")
        code, verifier, _ = self.get_code(scope="api1 offline_access")
        self.assertIn("refresh_token", self.tokens(code, verifier))
        # Per-client signing algorithm (ES256) and no user claims without AlwaysIncludeUserClaimsInIdToken.
        code, verifier, p = self.get_code("es", scope="openid profile email")
        body = self.tokens(code, verifier, client="es")
        header, claims = self.d.verify_id_token(body["id_token"], "es", access_token=body["access_token"],
                                                nonce=p["nonce"])
        self.assertEqual(header["alg"], "ES256")
        self.assertEqual(claims["exp"] - claims["iat"], 120)   # the client's IdentityTokenLifetime
        self.assertEqual(set(claims) - ID_TOKEN_PROTOCOL_CLAIMS, set())
        self.assertIn("ES256", self.d.discovery()["id_token_signing_alg_values_supported"])

    def test_public_client(self):
        code, verifier, p = self.get_code("spa", scope="openid api1 offline_access")
        body = self.tokens(code, verifier, client="spa", secret=None)
        self.d.verify_id_token(body["id_token"], "spa", access_token=body["access_token"], nonce=p["nonce"])
        self.assertIn("refresh_token", body)

    def test_userinfo_with_the_issued_access_token(self):
        code, verifier, _ = self.get_code()
        body = self.tokens(code, verifier)
        r = self.userinfo(body["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        self.assertEqual(r.json, {"sub": "1001", **ALICE_CLAIMS})
        r = self.d.post_form(USERINFO, {"access_token": body["access_token"]})
        self.assertEqual(r.json, {"sub": "1001", **ALICE_CLAIMS})
        # A reference access token works the same way.
        code, verifier, _ = self.get_code("ref", scope="openid email")
        body = self.tokens(code, verifier, client="ref")
        self.assertRegex(body["access_token"], HANDLE)
        r = self.userinfo(body["access_token"])
        self.assertEqual(r.json, {"sub": "1001", "email": "alice@example.com", "email_verified": True})
        # Without openid: insufficient_scope.
        code, verifier, _ = self.get_code(scope="api1")
        r = self.userinfo(self.tokens(code, verifier)["access_token"])
        self.assertEqual(r.status, 403, r)
        self.assertIn('error="insufficient_scope"', r.headers.get("WWW-Authenticate", ""))

    def test_refresh_returns_a_new_id_token(self):
        code, verifier, p = self.get_code()
        first = self.tokens(code, verifier)
        _, original = self.d.verify_id_token(first["id_token"], "web", access_token=first["access_token"],
                                             nonce=p["nonce"])
        time.sleep(1.1)
        r = self.refresh(first["refresh_token"])
        self.assertEqual(r.status, 200, r)
        second = r.json
        self.assertIn("id_token", second)
        self.assertNotEqual(second["id_token"], first["id_token"])
        _, renewed = self.d.verify_id_token(second["id_token"], "web", access_token=second["access_token"])
        for claim in ("sub", "auth_time", "sid"):
            self.assertEqual(renewed[claim], original[claim], claim)
        self.assertNotIn("nonce", renewed)
        self.assertGreater(renewed["iat"], original["iat"])
        self.assertEqual(renewed["aud"], "web")
        # The refreshed access token still reaches userinfo.
        self.assertEqual(self.userinfo(second["access_token"]).json["sub"], "1001")

    def test_codes_are_stored_only_as_their_sha256(self):
        # authorization_codes.h: the key is a chain key of the code's family ending in 16 bytes of SHA-256(code); the
        # code itself is nowhere in the database, nor are the tokens issued from it.
        code, verifier, _ = self.get_code()

        before = self.d.raw_database_dump()
        self.assertIn(harness.authorization_code_key(code).hex(), before)
        self.assertNotIn(code.encode().hex(), before)
        self.assertNotIn(code, before)
        body = self.tokens(code, verifier)
        after = self.d.raw_database_dump()
        # The refresh token: under its chain's key, with 16 bytes of its SHA-256 (refresh_tokens.h).
        self.assertIn(harness.refresh_token_key(body["refresh_token"]).hex(), after)
        # Beside the code: both keys begin with the family's prefix, so one leaf holds them.
        self.assertEqual(harness.refresh_token_key(body["refresh_token"])[:16],
                         harness.authorization_code_key(code)[:16])
        self.assertIn(hashlib.sha256(body["refresh_token"].encode()).hexdigest()[:32], after)
        for secret in (code, body["refresh_token"]):
            self.assertNotIn(secret.encode().hex(), after)
            self.assertNotIn(secret, after)

    # -- errors ----------------------------------------------------------------------------------------------------

    def test_request_errors(self):
        r = self.d.post_form(TOKEN, {"grant_type": "authorization_code", "redirect_uri": CB}, auth=("web", SECRET))
        self.assertError(r, "invalid_request")
        self.assertError(self.redeem("x" * 43, "v" * 43), "invalid_grant")
        self.assertError(self.redeem("x" * 101, "v" * 43), "invalid_grant")
        self.assertError(self.redeem("x" * 43, "v" * 43, client="pw"), "unauthorized_client")
        code, verifier, _ = self.get_code()
        self.assertError(self.redeem(code, verifier, secret="wrong"), "invalid_client", 401)
        self.assertEqual(self.redeem(code, verifier).status, 200)

    def test_redirect_uri_must_be_identical(self):
        code, verifier, _ = self.get_code()
        self.assertError(self.redeem(code, verifier, redirect_uri=None), "invalid_grant")
        self.assertError(self.redeem(code, verifier, redirect_uri=CB_OTHER), "invalid_grant")  # registered, not sent
        self.assertError(self.redeem(code, verifier, redirect_uri=CB + "/"), "invalid_grant")
        # Those were checks without a write (authorization_codes.h): the code is still good.
        self.assertEqual(self.redeem(code, verifier).status, 200)
        code, verifier, _ = self.get_code(redirect_uri=CB_OTHER)
        self.assertError(self.redeem(code, verifier), "invalid_grant")
        self.assertEqual(self.redeem(code, verifier, redirect_uri=CB_OTHER).status, 200)

    def test_another_clients_code(self):
        code, verifier, _ = self.get_code()
        self.assertError(self.redeem(code, verifier, client="other"), "invalid_grant")
        self.assertEqual(self.redeem(code, verifier).status, 200)  # rejected, nothing written

    def test_pkce_s256(self):
        code, verifier, p = self.get_code()
        other, _ = pkce_pair()
        for name, bad in {"missing": None, "another verifier": other, "42 characters": verifier[:42],
                          "129 characters": verifier + "a" * 86, "not unreserved": verifier[:42] + "+",
                          "the challenge itself": p["code_challenge"], "empty": ""}.items():
            with self.subTest(name):
                self.assertError(self.redeem(code, bad), "invalid_grant")
        self.assertEqual(self.redeem(code, verifier).status, 200)

    def test_pkce_plain_and_downgrade(self):
        code, verifier, _ = self.get_code("plain", pkce="plain")
        self.assertError(self.redeem(code, verifier[:-1] + ("A" if verifier[-1] != "A" else "B"), client="plain"),
                         "invalid_grant")
        self.assertEqual(self.redeem(code, verifier, client="plain").status, 200)
        # 128 characters, every unreserved character class.
        long_verifier = ("aZ9-._~" * 19)[:128]
        code, _, _ = self.get_code("plain", pkce=None, code_challenge=long_verifier, code_challenge_method="plain")
        self.assertEqual(self.redeem(code, long_verifier, client="plain").status, 200)
        # No challenge at authorize (RequirePkce false): a verifier at the token endpoint is a downgrade attempt.
        code, _, _ = self.get_code("nopkce", pkce=None)
        self.assertError(self.redeem(code, pkce_pair()[0], client="nopkce"), "invalid_grant")
        self.assertEqual(self.redeem(code, None, client="nopkce").status, 200)

    def test_expired_code(self):
        code, verifier, _ = self.get_code("short")  # AuthorizationCodeLifetime 1
        time.sleep(2.1)
        self.assertError(self.redeem(code, verifier, client="short"), "invalid_grant")

    def test_disabled_user(self):
        code, verifier, _ = self.get_code(user="frank")
        self.d.tokenctl("user", "disable", "--username", "frank")
        try:
            self.assertError(self.redeem(code, verifier), "invalid_grant")
        finally:
            self.d.tokenctl("user", "enable", "--username", "frank")

    # -- reuse -----------------------------------------------------------------------------------------------------

    def test_reuse_revokes_everything_issued_from_the_code(self):
        code, verifier, _ = self.get_code()
        first = self.tokens(code, verifier)
        self.assertTrue(self.introspect(first["access_token"])["active"])
        refreshed = self.refresh(first["refresh_token"]).json  # descendants die too
        self.assertTrue(self.introspect(refreshed["access_token"])["active"])
        mark = self.d.log_mark()
        self.assertError(self.redeem(code, verifier), "invalid_grant")
        self.assertIn("grant=authorization_code outcome=invalid_grant", self.d.logs_since(mark))
        self.assertRevoked(first)
        self.assertRevoked(refreshed)
        self.assertError(self.redeem(code, verifier), "invalid_grant")  # a third use: simply unknown

    def test_reuse_by_the_authenticated_confidential_client_revokes(self):
        # The client authenticated: that proves possession, with or without the verifier.
        code, verifier, _ = self.get_code()
        first = self.tokens(code, verifier)
        self.assertError(self.redeem(code, None), "invalid_grant")
        self.assertRevoked(first)

    def test_replay_by_a_public_client_without_the_verifier_revokes_nothing(self):
        # Anyone who saw a used public-client code (a log, a Referer) could otherwise sign the victim out.
        code, verifier, _ = self.get_code("spa", scope="openid api1 offline_access")
        first = self.tokens(code, verifier, client="spa", secret=None)
        mark = self.d.log_mark()
        self.assertError(self.redeem(code, None, client="spa", secret=None), "invalid_grant")
        self.assertError(self.redeem(code, pkce_pair()[0], client="spa", secret=None), "invalid_grant")  # wrong one
        self.assertIn("authorization code replay for public client spa without a matching code_verifier",
                      self.d.logs_since(mark))
        self.assertTrue(self.introspect(first["access_token"])["active"])
        self.assertEqual(self.userinfo(first["access_token"]).status, 200)
        refreshed = self.d.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                             "client_id": "spa"})
        self.assertEqual(refreshed.status, 200, refreshed)

    def test_replay_by_a_public_client_with_the_verifier_revokes(self):
        code, verifier, _ = self.get_code("spa", scope="openid api1 offline_access")
        first = self.tokens(code, verifier, client="spa", secret=None)
        self.assertError(self.redeem(code, verifier, client="spa", secret=None), "invalid_grant")
        self.assertEqual(self.introspect(first["access_token"]), {"active": False})
        self.assertEqual(self.userinfo(first["access_token"]).status, 401)
        refreshed = self.d.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                             "client_id": "spa"})
        self.assertError(refreshed, "invalid_grant")

    def test_reuse_revokes_reference_tokens(self):
        code, verifier, _ = self.get_code("ref", scope="openid api1 offline_access")
        first = self.tokens(code, verifier, client="ref")
        self.assertRegex(first["access_token"], HANDLE)
        self.assertTrue(self.introspect(first["access_token"])["active"])
        self.assertError(self.redeem(code, verifier, client="ref"), "invalid_grant")
        self.assertEqual(self.introspect(first["access_token"]), {"active": False})
        self.assertEqual(self.userinfo(first["access_token"]).status, 401)
        self.assertError(self.refresh(first["refresh_token"], client="ref"), "invalid_grant")


class ParallelRedemptionTest(CodeMixin, unittest.TestCase):
    """4 worker processes; the same code redeemed at once from 12 connections, 3 times."""

    @classmethod
    def setUpClass(cls):
        cls.d = start_deployment(workers=4)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_parallel_double_redemption_across_workers(self):
        parallel = 12
        for round_no in range(3):
            code, verifier, _ = self.get_code()
            barrier = threading.Barrier(parallel)

            def redeem(_):
                barrier.wait()
                return self.redeem(code, verifier)

            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                results = list(pool.map(redeem, range(parallel)))
            winners = [r for r in results if r.status == 200]
            self.assertEqual(len(winners), 1, f"round {round_no}: {results}")
            for r in results:
                if r.status != 200:
                    self.assertError(r, "invalid_grant")
            # The losers were reuse: the winner's tokens are revoked.
            winner = winners[0].json
            self.assertError(self.refresh(winner["refresh_token"]), "invalid_grant")
            self.assertEqual(self.introspect(winner["access_token"]), {"active": False})
            self.assertEqual(self.userinfo(winner["access_token"]).status, 401)
        served = [harness.tail(path, 100000).count("grant=authorization_code") for path in self.d.worker_logs]
        self.assertGreaterEqual(sum(1 for n in served if n > 0), 3, served)


if __name__ == "__main__":
    harness.main(need_jose=True)
