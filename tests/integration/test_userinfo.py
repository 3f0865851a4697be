"""The UserInfo endpoint (OpenID Connect Core §5.3) and id_tokens on refresh (§12.2) over real HTTP: nginx -> 2
tokenfcgi workers -> LMDB.

Access tokens come from the password grant (a client allowed the openid scope, an IdentityResource "openid"). The
bearer token travels as nginx passes it (HTTP_AUTHORIZATION) or in a form body. id_tokens are verified with python3-jwt
against the served JWKS, and at_hash is computed here with hashlib (SHA-256 for RS256; EdDSA id_tokens have none).
"""

import base64
import hashlib
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
REALM = "tokenfcgi"
USERINFO = "/connect/userinfo"


def configuration():
    app = {"ClientId": "app", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
           "AllowedScopes": ["openid", "profile", "email", "api1"], "AllowOfflineAccess": True,
           "AlwaysIncludeUserClaimsInIdToken": True}
    return {
        "Clients": [
            app,
            {**app, "ClientId": "ed", "AllowedIdentityTokenSigningAlgorithms": ["EdDSA"],
             "AlwaysIncludeUserClaimsInIdToken": False},
            {**app, "ClientId": "ref", "AccessTokenType": "Reference"},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]},
                              {"Name": "profile", "UserClaims": ["name", "role"]},
                              {"Name": "email", "UserClaims": ["email", "email_verified"]}],
        "Users": [
            {"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
             "Claims": [{"Type": "name", "Value": "Alice"}, {"Type": "email", "Value": "alice@example.com"},
                        {"Type": "email_verified", "Value": "true",
                         "ValueType": "http://www.w3.org/2001/XMLSchema#boolean"},
                        {"Type": "role", "Value": "admin"}, {"Type": "role", "Value": "user"},
                        {"Type": "sub", "Value": "forged"}]},
            {"SubjectId": "2001", "Username": "carol", "Password": "Carol-pass-2",
             "Claims": [{"Type": "name", "Value": "Carol"}]},
        ],
    }


def at_hash(access_token, alg):
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:len(digest) // 2]).rstrip(b"=").decode()


class UserinfoTest(unittest.TestCase):
    """One deployment: 2 workers, RS256 access tokens and id_tokens, an EdDSA key for the "ed" client."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, key_algs=("EdDSA",), password_hash_memory_kib=1024,
                           password_hash_iterations=1)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- helpers --------------------------------------------------------------------------------------------------

    def login(self, scope, username="alice", password="Alice-pass-1", client="app"):
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": username,
                                                "password": password, "scope": scope}, auth=(client, SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json

    def refresh(self, refresh_token, client="app", **extra):
        fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        fields.update(extra)
        r = self.d.post_form("/connect/token", fields, auth=(client, SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json

    def userinfo(self, token):
        return self.d.get(USERINFO, headers={"Authorization": "Bearer " + token})

    def assertNoStore(self, r):
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        self.assertEqual(r.headers.get("Pragma"), "no-cache", r)

    def assertBearerError(self, r, status, error):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"], error, r)
        self.assertIn(f'error="{error}"', r.headers.get("WWW-Authenticate", ""), r)
        self.assertTrue(r.headers["WWW-Authenticate"].startswith(f'Bearer realm="{REALM}"'), r)
        self.assertNoStore(r)

    def verify_id_token(self, token, client="app"):
        import jwt
        header = jwt.get_unverified_header(token)
        keys = {k["kid"]: k for k in self.d.jwks()["keys"]}
        self.assertIn(header["kid"], keys)
        key = jwt.PyJWK(keys[header["kid"]])
        claims = jwt.decode(token, key=key.key, algorithms=[header["alg"]], audience=client, issuer=self.d.issuer,
                            options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]}, leeway=5)
        self.assertEqual(header["typ"], "JWT")
        return header, claims

    # -- userinfo -------------------------------------------------------------------------------------------------

    def test_claims_of_the_granted_identity_scopes(self):
        token = self.login("openid profile api1")["access_token"]
        r = self.userinfo(token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        self.assertNoStore(r)
        # email not granted; a stored "sub" claim cannot forge the subject.
        self.assertEqual(r.json, {"sub": "1001", "name": "Alice", "role": ["admin", "user"]})

        token = self.login("openid email")["access_token"]
        r = self.d.post_form(USERINFO, {"access_token": token})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"sub": "1001", "email": "alice@example.com", "email_verified": True})
        # POST with the header and no body.
        r = self.d.post_form(USERINFO, body=b"", content_type=None, headers={"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 200, r)

    def test_errors(self):
        token = self.login("openid profile")["access_token"]
        r = self.d.get(USERINFO)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers.get("WWW-Authenticate"), f'Bearer realm="{REALM}"')
        self.assertNoStore(r)
        # The query string is never read.
        self.assertEqual(self.d.get(USERINFO + "?access_token=" + token).status, 401)
        self.assertBearerError(self.userinfo("not-a-token"), 401, "invalid_token")
        self.assertBearerError(self.userinfo(token[:-4] + "AAAA"), 401, "invalid_token")
        r = self.d.post_form(USERINFO, {"access_token": token}, headers={"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"], "invalid_request")
        r = self.d.get(USERINFO, headers={"Authorization": "Bearer a b"})
        self.assertEqual(r.status, 400, r)
        r = self.userinfo(self.login("profile api1")["access_token"])
        self.assertBearerError(r, 403, "insufficient_scope")
        self.assertIn('scope="openid"', r.headers["WWW-Authenticate"])
        r = self.d.request("PUT", USERINFO)
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("Allow"), "GET, POST")

    def test_inactive_user(self):
        token = self.login("openid profile", username="carol", password="Carol-pass-2")["access_token"]
        self.assertEqual(self.userinfo(token).json, {"sub": "2001", "name": "Carol"})
        self.d.tokenctl("user", "disable", "--username", "carol")
        try:
            self.assertBearerError(self.userinfo(token), 401, "invalid_token")
        finally:
            self.d.tokenctl("user", "enable", "--username", "carol")
        self.assertEqual(self.userinfo(token).status, 200)

    def test_reference_and_revoked_tokens(self):
        body = self.login("openid profile offline_access", client="ref")
        token = body["access_token"]
        self.assertNotIn(".", token)
        self.assertEqual(self.userinfo(token).json["sub"], "1001")
        r = self.d.post_form("/connect/revocation", {"token": token}, auth=("ref", SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertBearerError(self.userinfo(token), 401, "invalid_token")

        # A JWT whose refresh-token family was revoked is dead at userinfo too (as at introspection).
        body = self.login("openid offline_access")
        self.assertEqual(self.userinfo(body["access_token"]).status, 200)
        r = self.d.post_form("/connect/revocation", {"token": body["refresh_token"]}, auth=("app", SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertBearerError(self.userinfo(body["access_token"]), 401, "invalid_token")

    # -- id_tokens on refresh -------------------------------------------------------------------------------------

    def test_refresh_of_an_openid_grant_returns_an_id_token(self):
        login = self.login("openid profile api1 offline_access")
        _, access = self.d.verify_access_token(login["access_token"], audience="api-main")
        refreshed = self.refresh(login["refresh_token"])
        header, claims = self.verify_id_token(refreshed["id_token"])
        self.assertEqual(header["alg"], "RS256")
        self.assertEqual(claims["sub"], "1001")
        self.assertEqual(claims["auth_time"], access["auth_time"])
        self.assertEqual(claims["idp"], "local")
        self.assertEqual(claims["amr"], ["pwd"])
        self.assertEqual(claims["at_hash"], at_hash(refreshed["access_token"], "RS256"))
        self.assertNotIn("nonce", claims)
        self.assertEqual(claims["name"], "Alice")              # AlwaysIncludeUserClaimsInIdToken
        self.assertEqual(claims["role"], ["admin", "user"])
        self.assertNotIn("email", claims)                      # scope not granted
        self.assertLessEqual(claims["exp"] - claims["iat"], 300)

        # Narrowed to leave openid out: no id_token.
        again = self.refresh(refreshed["refresh_token"], scope="api1")
        self.assertNotIn("id_token", again)
        # A grant without openid never gets one.
        plain = self.login("api1 offline_access")
        self.assertNotIn("id_token", self.refresh(plain["refresh_token"]))

    def test_eddsa_id_token_has_no_at_hash(self):
        # OpenID Connect names no at_hash hash for EdDSA; Authlib and go-oidc refuse a SHA-512 one.
        login = self.login("openid profile offline_access", client="ed")
        refreshed = self.refresh(login["refresh_token"], client="ed")
        header, claims = self.verify_id_token(refreshed["id_token"], client="ed")
        self.assertEqual(header["alg"], "EdDSA")
        self.assertNotIn("at_hash", claims)
        self.assertNotIn("name", claims)  # AlwaysIncludeUserClaimsInIdToken off

    # -- discovery ------------------------------------------------------------------------------------------------

    def test_discovery(self):
        doc = self.d.discovery()
        self.assertEqual(doc["userinfo_endpoint"], self.d.issuer + USERINFO)
        self.assertEqual(doc["authorization_endpoint"], self.d.issuer + "/connect/authorize")
        self.assertEqual(doc["id_token_signing_alg_values_supported"], ["RS256", "EdDSA"])
        self.assertEqual(doc["subject_types_supported"], ["public"])
        self.assertEqual(doc["response_types_supported"], ["code"])
        self.assertEqual(doc["response_modes_supported"], ["query", "form_post"])
        self.assertEqual(doc["code_challenge_methods_supported"], ["S256"])
        self.assertIs(doc["authorization_response_iss_parameter_supported"], True)
        self.assertLessEqual({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "name",
                              "email"}, set(doc["claims_supported"]))


if __name__ == "__main__":
    harness.main()
