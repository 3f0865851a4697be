"""Revocation (RFC 7009) and introspection (RFC 7662) over real HTTP: nginx -> 2 tokenfcgi workers -> LMDB.

Introspection of each token kind (JWT access token, reference access token, refresh token) before and after
revocation, as an API resource (Name + ApiSecret) and as a client; revocation answers; the 401s, 405s and 400s the
two endpoints share with the token endpoint; and the discovery members. Refresh and reference tokens come from the
password and client_credentials grants; when this build does not issue them yet, those tests are skipped and say so.
"""

import time
import unittest

from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
API_SECRET = "api-s3cret"
REVOCATION = "/connect/revocation"
INTROSPECTION = "/connect/introspect"
INVALID_CLIENT = {"error": "invalid_client", "error_description": "client authentication failed"}


def configuration():
    user_client = {"ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password", "refresh_token"],
                   "AllowedScopes": ["openid", "api1"], "AllowOfflineAccess": True}
    m2m = {"ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
           "AllowedScopes": ["api1", "api2"]}
    return {
        "Clients": [
            {**user_client, "ClientId": "app"},
            {**user_client, "ClientId": "refapp", "AccessTokenType": "Reference"},
            {**m2m, "ClientId": "m2m"},
            {**m2m, "ClientId": "other"},
            {**m2m, "ClientId": "refm2m", "AccessTokenType": "Reference"},
            {"ClientId": "spa", "RequireClientSecret": False, "AllowedGrantTypes": ["password", "refresh_token"],
             "AllowedScopes": ["api1"], "AllowOfflineAccess": True},
        ],
        "ApiScopes": [{"Name": "api1", "UserClaims": ["email"]}, {"Name": "api2"}],
        "ApiResources": [
            {"Name": "api-main", "Scopes": ["api1"], "ApiSecrets": [hashed_secret(API_SECRET)]},
            {"Name": "api-other", "Scopes": ["api2"], "ApiSecrets": [hashed_secret(API_SECRET)]},
            {"Name": "api-off", "Scopes": ["api2"], "ApiSecrets": [hashed_secret(API_SECRET)], "Enabled": False},
        ],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
                   "Claims": [{"Type": "email", "Value": "alice@example.com"}]}],
    }


class RevocationIntrospectionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024, password_hash_iterations=1)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- helpers --------------------------------------------------------------------------------------------------

    def introspect(self, token, caller=("api-main", API_SECRET), **extra):
        r = self.d.post_form(INTROSPECTION, {"token": token, **extra}, auth=caller)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/json", r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        return r.json

    def assertInactive(self, token, caller=("api-main", API_SECRET)):
        self.assertEqual(self.introspect(token, caller), {"active": False})

    def revoke(self, token, client=("app", SECRET), **extra):
        r = self.d.post_form(REVOCATION, {"token": token, **extra}, auth=client)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"", r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        return r

    def client_credentials(self, client="m2m", scope="api1"):
        r = self.d.post_form("/connect/token", {"grant_type": "client_credentials", "scope": scope},
                             auth=(client, SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def login_offline(self, client=("app", SECRET), scope="openid api1 offline_access"):
        """Password grant with offline_access; skips the test when this build issues no refresh token."""
        fields = {"grant_type": "password", "username": "alice", "password": "Alice-pass-1", "scope": scope}
        if client[1] is None:
            r = self.d.post_form("/connect/token", {**fields, "client_id": client[0]})
        else:
            r = self.d.post_form("/connect/token", fields, auth=client)
        if r.status != 200 or "refresh_token" not in r.json:
            self.skipTest(f"this build issues no refresh token yet ({r.status} {r.text[:120]})")
        return r.json

    def refresh(self, refresh_token, client=("app", SECRET)):
        fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if client[1] is None:  # a public client: client_id in the body
            return self.d.post_form("/connect/token", {**fields, "client_id": client[0]})
        return self.d.post_form("/connect/token", fields, auth=client)

    # -- endpoints ------------------------------------------------------------------------------------------------

    def test_discovery_advertises_both_endpoints(self):
        doc = self.d.discovery()
        self.assertEqual(doc["revocation_endpoint"], self.d.issuer + REVOCATION)
        self.assertEqual(doc["introspection_endpoint"], self.d.issuer + INTROSPECTION)
        # The public client "spa" revokes with its client_id alone ("none"); introspection callers always
        # authenticate.
        self.assertEqual(doc["revocation_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post", "none"])
        self.assertEqual(doc["introspection_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post"])

    def test_other_methods_are_405(self):
        for path in (REVOCATION, INTROSPECTION):
            for method in ("GET", "PUT", "DELETE"):
                r = self.d.request(method, path)
                self.assertEqual(r.status, 405, (method, path, r))
                self.assertEqual(r.headers.get("Allow"), "POST")
                self.assertEqual(r.json["error"], "method_not_allowed")

    def test_non_form_bodies_are_400(self):
        for path, auth in ((REVOCATION, ("app", SECRET)), (INTROSPECTION, ("api-main", API_SECRET))):
            r = self.d.post_form(path, body='{"token":"x"}', auth=auth, content_type="application/json")
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["error"], "invalid_request")
            r = self.d.post_form(path, body="token=a&token=b", auth=auth)
            self.assertEqual(r.status, 400, r)
            r = self.d.post_form(path, {"token_type_hint": "access_token"}, auth=auth)
            self.assertEqual(r.status, 400, r)  # token is required
            self.assertEqual(r.json["error"], "invalid_request")

    def test_introspection_401s_are_identical(self):
        token = self.client_credentials()
        answers = [
            self.d.post_form(INTROSPECTION, {"token": token}),
            self.d.post_form(INTROSPECTION, {"token": token}, auth=("api-main", "wrong")),
            self.d.post_form(INTROSPECTION, {"token": token}, auth=("api-off", API_SECRET)),
            self.d.post_form(INTROSPECTION, {"token": token}, auth=("nobody", API_SECRET)),
            self.d.post_form(INTROSPECTION, {"token": token}, auth=("m2m", "wrong")),
            self.d.post_form(INTROSPECTION, {"token": token, "client_id": "spa"}),  # public client
            self.d.post_form(INTROSPECTION, {"token": token, "client_id": "api-main", "client_secret": "x"}),
        ]
        for r in answers:
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json, INVALID_CLIENT)
            self.assertEqual(r.body, answers[0].body)
            self.assertEqual(r.headers.get("WWW-Authenticate"), 'Basic realm="tokenfcgi"')

    def test_revocation_401(self):
        r = self.d.post_form(REVOCATION, {"token": "x"}, auth=("app", "wrong"))
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json, INVALID_CLIENT)
        self.assertEqual(r.headers.get("WWW-Authenticate"), 'Basic realm="tokenfcgi"')
        # An API resource is not a client: it cannot revoke.
        r = self.d.post_form(REVOCATION, {"token": "x"}, auth=("api-main", API_SECRET))
        self.assertEqual(r.status, 401, r)

    def test_unknown_tokens(self):
        self.revoke("no-such-token")
        self.revoke("no-such-token", token_type_hint="refresh_token")
        self.revoke("no-such-token", token_type_hint="made_up")
        self.assertInactive("no-such-token")
        self.assertInactive("a.b.c")
        self.assertInactive("no-such-token", caller=("app", SECRET))

    # -- JWT access tokens ----------------------------------------------------------------------------------------

    def test_jwt_access_token(self):
        before = int(time.time())
        token = self.client_credentials(scope="api1")
        answer = self.introspect(token, token_type_hint="access_token")
        _, claims = self.d.verify_access_token(token, audience="api-main")
        self.assertTrue(answer["active"])
        for name in ("iss", "client_id", "sub", "scope", "aud", "iat", "nbf", "exp", "jti"):
            self.assertEqual(answer[name], claims[name], name)
        self.assertEqual(answer["token_type"], "Bearer")
        self.assertEqual(answer["client_id"], "m2m")
        self.assertLessEqual(before - 5, answer["iat"])
        # Only the audience and the client itself see it.
        self.assertInactive(token, caller=("api-other", API_SECRET))
        self.assertTrue(self.introspect(token, caller=("m2m", SECRET))["active"])
        self.assertInactive(token, caller=("other", SECRET))
        # Tampered: inactive.
        head, payload, sig = token.split(".")
        self.assertInactive(f"{head}.{payload}.{sig[:-4]}AAAA")
        # A JWT cannot be revoked on its own: 200, and it stays active.
        self.revoke(token, client=("m2m", SECRET), token_type_hint="access_token")
        self.assertTrue(self.introspect(token)["active"])

    # -- refresh tokens and their family --------------------------------------------------------------------------

    def test_refresh_token_and_family_before_and_after_revocation(self):
        tokens = self.login_offline()
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        _, claims = self.d.verify_access_token(access, audience="api-main")
        self.assertIn("grant_id", claims)

        answer = self.introspect(refresh, caller=("app", SECRET))
        self.assertTrue(answer["active"], answer)
        self.assertEqual(answer["token_type"], "refresh_token")
        self.assertEqual(answer["client_id"], "app")
        self.assertEqual(answer["sub"], "1001")
        self.assertEqual(answer["scope"].split(), ["openid", "api1", "offline_access"])
        self.assertInactive(refresh)                                  # API resources never see refresh tokens
        self.assertInactive(refresh, caller=("refapp", SECRET))      # nor other clients
        jwt_answer = self.introspect(access)
        self.assertTrue(jwt_answer["active"])
        self.assertNotIn("grant_id", jwt_answer)
        self.assertEqual(jwt_answer["email"], "alice@example.com")

        # Another client cannot revoke it (200, nothing happens).
        self.revoke(refresh, client=("refapp", SECRET))
        self.assertTrue(self.introspect(refresh, caller=("app", SECRET))["active"])

        # Rotate once, so the family has a consumed and a live refresh token and two JWTs.
        r = self.refresh(refresh)
        self.assertEqual(r.status, 200, r)
        access2, refresh2 = r.json["access_token"], r.json.get("refresh_token", refresh)
        self.assertTrue(self.introspect(access2)["active"])
        self.assertTrue(self.introspect(refresh2, caller=("app", SECRET))["active"])
        if refresh2 != refresh:
            self.assertInactive(refresh, caller=("app", SECRET))   # consumed by rotation

        self.revoke(refresh2, token_type_hint="refresh_token")
        for token in (access, access2):
            self.assertInactive(token)
            self.assertInactive(token, caller=("app", SECRET))
        self.assertInactive(refresh2, caller=("app", SECRET))
        self.assertEqual(self.refresh(refresh2).json.get("error"), "invalid_grant")

    def test_revoking_an_access_token_does_not_end_the_family(self):
        tokens = self.login_offline()
        self.revoke(tokens["access_token"], token_type_hint="access_token")
        self.assertTrue(self.introspect(tokens["refresh_token"], caller=("app", SECRET))["active"])
        self.assertTrue(self.introspect(tokens["access_token"])["active"])

    def test_public_client_revokes_with_its_id(self):
        tokens = self.login_offline(client=("spa", None), scope="api1 offline_access")
        r = self.d.post_form(REVOCATION, {"token": tokens["refresh_token"], "client_id": "spa"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"")
        self.assertInactive(tokens["access_token"])
        self.assertEqual(self.refresh(tokens["refresh_token"], client=("spa", None)).status, 400)

    # -- reference access tokens ----------------------------------------------------------------------------------

    def reference_token(self):
        r = self.d.post_form("/connect/token", {"grant_type": "client_credentials", "scope": "api1"},
                             auth=("refm2m", SECRET))
        if r.status != 200:
            self.skipTest(f"this build issues no reference access token yet ({r.status} {r.text[:120]})")
        token = r.json["access_token"]
        self.assertNotIn(".", token)
        return token

    def test_reference_access_token_before_and_after_revocation(self):
        token = self.reference_token()
        answer = self.introspect(token)
        self.assertTrue(answer["active"], answer)
        self.assertEqual(answer["client_id"], "refm2m")
        self.assertEqual(answer["aud"], "api-main")
        self.assertEqual(answer["scope"], "api1")
        self.assertEqual(answer["token_type"], "Bearer")
        self.assertEqual(answer["iss"], self.d.issuer)
        self.assertInactive(token, caller=("api-other", API_SECRET))
        self.assertTrue(self.introspect(token, caller=("refm2m", SECRET))["active"])
        self.assertInactive(token, caller=("m2m", SECRET))

        self.revoke(token, client=("m2m", SECRET))                  # not its token: nothing happens
        self.assertTrue(self.introspect(token)["active"])
        self.revoke(token, client=("refm2m", SECRET), token_type_hint="refresh_token")  # a wrong hint is fine
        self.assertInactive(token)
        self.assertInactive(token, caller=("refm2m", SECRET))

    def test_reference_token_of_a_family_dies_with_it(self):
        tokens = self.login_offline(client=("refapp", SECRET))
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        self.assertNotIn(".", access)
        self.assertEqual(self.introspect(access)["sub"], "1001")
        # Revoking the access token leaves the refresh token.
        self.revoke(access, client=("refapp", SECRET))
        self.assertInactive(access)
        self.assertTrue(self.introspect(refresh, caller=("refapp", SECRET))["active"])
        # Revoking the refresh token ends the reference tokens issued from it.
        r = self.refresh(refresh, client=("refapp", SECRET))
        self.assertEqual(r.status, 200, r)
        access2 = r.json["access_token"]
        refresh2 = r.json.get("refresh_token", refresh)
        self.assertTrue(self.introspect(access2)["active"])
        self.revoke(refresh2, client=("refapp", SECRET))
        self.assertInactive(access2)
        self.assertInactive(refresh2, caller=("refapp", SECRET))


if __name__ == "__main__":
    import harness
    harness.main()
