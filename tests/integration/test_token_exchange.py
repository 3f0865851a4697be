"""Token exchange (RFC 8693) through nginx -> 2 tokenfcgi workers -> LMDB.

Subject tokens of every kind this service issues (JWT and reference access tokens, id_tokens, client_credentials
tokens) exchanged for new tokens; expired, revoked, foreign-signed and garbage subject tokens refused; delegation
with an actor token (and a nested act); targets and scopes outside the exchanging client's allowance; every error
code of the grant; the grant family link (revoking the subject's family makes the exchanged token inactive); and
discovery.
"""

import base64
import json
import time
import unittest

from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
API_SECRET = "api-s3cret"
TOKEN = "/connect/token"
INTROSPECTION = "/connect/introspect"
REVOCATION = "/connect/revocation"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"


def configuration():
    user_client = {"ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password", "refresh_token"],
                   "AllowedScopes": ["openid", "api1"], "AllowOfflineAccess": True}
    exchanger = {"ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": [GRANT],
                 "AllowedScopes": ["openid", "api1", "api2"], "AllowOfflineAccess": True}
    return {
        "Clients": [
            {**user_client, "ClientId": "app"},
            {**user_client, "ClientId": "refapp", "AccessTokenType": "Reference"},
            {**user_client, "ClientId": "shortapp", "AccessTokenLifetime": 1},
            {"ClientId": "m2m", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"]},
            {**exchanger, "ClientId": "exchanger"},
            {**exchanger, "ClientId": "refexchanger", "AccessTokenType": "Reference"},
            {**exchanger, "ClientId": "nooffline", "AllowOfflineAccess": False},
            {"ClientId": "noexchange", "ClientSecrets": [hashed_secret(SECRET)],
             "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"]},
        ],
        "ApiScopes": [{"Name": "api1", "UserClaims": ["email"]}, {"Name": "api2", "UserClaims": ["email"]},
                      {"Name": "admin"}, {"Name": "api3"}],
        "ApiResources": [
            {"Name": "api-a", "Scopes": ["api1"], "ApiSecrets": [hashed_secret(API_SECRET)]},
            {"Name": "api-b", "Scopes": ["api2"], "ApiSecrets": [hashed_secret(API_SECRET)]},
            {"Name": "api-admin", "Scopes": ["admin"], "ApiSecrets": [hashed_secret(API_SECRET)]},
            {"Name": "api-off", "Scopes": ["api3"], "Enabled": False},
        ],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
                   "Claims": [{"Type": "email", "Value": "alice@example.com"}]}],
    }


def unverified_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class TokenExchangeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024, password_hash_iterations=1,
                           clock_skew_seconds=0)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- helpers --------------------------------------------------------------------------------------------------

    def login(self, client="app", scope="openid api1 offline_access"):
        r = self.d.post_form(TOKEN, {"grant_type": "password", "username": "alice", "password": "Alice-pass-1",
                                     "scope": scope}, auth=(client, SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json

    def client_token(self):
        r = self.d.post_form(TOKEN, {"grant_type": "client_credentials", "scope": "api1"}, auth=("m2m", SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def exchange(self, subject_token, subject_token_type=ACCESS_TOKEN, client="exchanger", **extra):
        fields = {"grant_type": GRANT, "subject_token": subject_token, "subject_token_type": subject_token_type}
        fields.update(extra)
        return self.d.post_form(TOKEN, fields, auth=(client, SECRET))

    def assertError(self, r, status, error):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"], error, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)

    def introspect(self, token, caller=("api-b", API_SECRET)):
        r = self.d.post_form(INTROSPECTION, {"token": token}, auth=caller)
        self.assertEqual(r.status, 200, r)
        return r.json

    # -- subject tokens -------------------------------------------------------------------------------------------

    def test_jwt_access_token_for_another_api(self):
        subject = self.login(scope="openid api1")["access_token"]
        r = self.exchange(subject, audience="api-b")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        body = r.json
        self.assertEqual(body["issued_token_type"], ACCESS_TOKEN)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["scope"], "api2")
        self.assertEqual(body["expires_in"], 3600)
        self.assertNotIn("refresh_token", body)
        _, claims = self.d.verify_access_token(body["access_token"], audience="api-b")
        self.assertEqual(claims["sub"], "1001")
        self.assertEqual(claims["client_id"], "exchanger")
        self.assertEqual(claims["aud"], "api-b")
        self.assertEqual(claims["email"], "alice@example.com")  # carried over, asked for by api2
        self.assertEqual(claims["idp"], "local")
        self.assertNotIn("act", claims)
        self.assertTrue(self.introspect(body["access_token"])["active"])

    def test_default_scopes_are_the_subjects_within_the_allowance(self):
        subject = self.login(scope="openid api1")["access_token"]
        r = self.exchange(subject)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "openid api1")

    def test_reference_access_token_subject(self):
        subject = self.login(client="refapp", scope="api1")["access_token"]
        self.assertNotIn(".", subject)
        r = self.exchange(subject, scope="api1")
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-a")
        self.assertEqual(claims["sub"], "1001")

    def test_reference_token_for_a_reference_client(self):
        subject = self.login(scope="api1")["access_token"]
        r = self.exchange(subject, client="refexchanger", scope="api2")
        self.assertEqual(r.status, 200, r)
        handle = r.json["access_token"]
        self.assertNotIn(".", handle)
        self.assertEqual(r.json["issued_token_type"], ACCESS_TOKEN)
        info = self.introspect(handle)
        self.assertTrue(info["active"], info)
        self.assertEqual(info["sub"], "1001")
        self.assertEqual(info["client_id"], "refexchanger")

    def test_client_credentials_subject(self):
        r = self.exchange(self.client_token(), audience="api-b")
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-b")
        self.assertEqual(claims["sub"], "m2m")
        self.assertNotIn("auth_time", claims)
        # no user: no identity scopes, no refresh token
        self.assertError(self.exchange(self.client_token(), scope="openid api1"), 400, "invalid_scope")
        self.assertError(self.exchange(self.client_token(), scope="api1 offline_access"), 400, "invalid_scope")

    def test_id_token_subject(self):
        login = self.login()
        r = self.d.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
                             auth=("app", SECRET))
        self.assertEqual(r.status, 200, r)
        id_token = r.json["id_token"]
        r = self.exchange(id_token, ID_TOKEN, scope="api2")
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-b")
        self.assertEqual(claims["sub"], "1001")
        # an access token is not an id_token, and the other way round
        self.assertError(self.exchange(login["access_token"], ID_TOKEN), 400, "invalid_request")
        self.assertError(self.exchange(id_token, ACCESS_TOKEN), 400, "invalid_request")

    def test_expired_subject_token(self):
        subject = self.login(client="shortapp", scope="api1")["access_token"]
        self.assertEqual(unverified_claims(subject)["exp"] - unverified_claims(subject)["iat"], 1)
        time.sleep(2.1)
        r = self.exchange(subject)
        self.assertError(r, 400, "invalid_request")
        self.assertEqual(r.json["error_description"], "the subject_token is not valid")

    def test_revoked_family(self):
        login = self.login(scope="openid api1 offline_access")
        subject = login["access_token"]
        family = unverified_claims(subject)["grant_id"]
        r = self.exchange(subject, audience="api-b")
        self.assertEqual(r.status, 200, r)
        exchanged = r.json["access_token"]
        # the exchanged token joins the subject's grant family (grant_id is not shown by introspection)
        self.assertEqual(unverified_claims(exchanged)["grant_id"], family)
        self.assertTrue(self.introspect(exchanged)["active"])
        # revoking the refresh token revokes the family: the subject and the exchanged token die together
        r = self.d.post_form(REVOCATION, {"token": login["refresh_token"]}, auth=("app", SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.introspect(exchanged), {"active": False})
        r = self.exchange(subject, audience="api-b")
        self.assertError(r, 400, "invalid_request")
        self.assertEqual(r.json["error_description"], "the subject_token is not valid")

    def test_foreign_signed_subject_token(self):
        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa
        genuine = self.login(scope="api1")["access_token"]
        header = jwt.get_unverified_header(genuine)
        claims = unverified_claims(genuine)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"})
        self.assertError(self.exchange(forged), 400, "invalid_request")
        # the genuine one still works
        self.assertEqual(self.exchange(genuine).status, 200)

    def test_garbage_subject_tokens(self):
        for garbage in ("abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMDAxIn0.", "x" * 17000, "\u00e9t\u00e9"):
            r = self.exchange(garbage)
            self.assertError(r, 400, "invalid_request")

    # -- delegation -----------------------------------------------------------------------------------------------

    def test_actor_token_and_nested_act(self):
        subject = self.login(scope="openid api1")["access_token"]
        actor = self.client_token()
        r = self.exchange(subject, actor_token=actor, actor_token_type=ACCESS_TOKEN, scope="api1")
        self.assertEqual(r.status, 200, r)
        delegated = r.json["access_token"]
        _, claims = self.d.verify_access_token(delegated, audience="api-a")
        self.assertEqual(claims["sub"], "1001")
        self.assertEqual(claims["act"], {"sub": "m2m"})
        # a second hop: the new actor is outermost, the previous one nested inside
        actor2 = self.login(scope="api1")["access_token"]  # alice acting for herself, for the test
        r = self.exchange(delegated, actor_token=actor2, actor_token_type=ACCESS_TOKEN, audience="api-b")
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-b")
        self.assertEqual(claims["act"], {"sub": "1001", "act": {"sub": "m2m"}})
        # without an actor the subject's act stays as it is
        r = self.exchange(delegated, scope="api1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(unverified_claims(r.json["access_token"])["act"], {"sub": "m2m"})
        # a token that carries act gets no refresh token
        self.assertError(self.exchange(delegated, scope="api1 offline_access"), 400, "invalid_scope")
        # an invalid actor token
        self.assertError(self.exchange(subject, actor_token="garbage", actor_token_type=ACCESS_TOKEN), 400,
                         "invalid_request")

    # -- targets and scopes ---------------------------------------------------------------------------------------

    def test_targets_outside_the_allowance(self):
        subject = self.login(scope="api1")["access_token"]
        for fields in ({"audience": "api-admin"}, {"audience": "nobody"}, {"resource": "api-off"},
                       {"resource": "https://elsewhere.example/"}, {"audience": "api-b", "resource": "api-admin"}):
            r = self.exchange(subject, **fields)
            self.assertError(r, 400, "invalid_target")
        r = self.exchange(subject, resource="api-b")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "api2")
        for scope in ("admin", "api3", "unknown", "api1 admin"):
            self.assertError(self.exchange(subject, scope=scope), 400, "invalid_scope")
        # a scope of another API than the target
        self.assertError(self.exchange(subject, audience="api-b", scope="api1"), 400, "invalid_scope")
        # the audience and resource together: both APIs
        r = self.exchange(subject, audience="api-a", resource="api-b")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "api1 api2")

    def test_offline_access(self):
        subject = self.login(scope="openid api1 offline_access")["access_token"]
        family = unverified_claims(subject)["grant_id"]
        r = self.exchange(subject, scope="api2")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("refresh_token", r.json)  # not asked for
        r = self.exchange(subject, scope="openid api2 offline_access")
        self.assertEqual(r.status, 200, r)
        self.assertIn("refresh_token", r.json)
        self.assertEqual(unverified_claims(r.json["access_token"])["grant_id"], family)
        refreshed = self.d.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": r.json["refresh_token"]},
                                     auth=("exchanger", SECRET))
        self.assertEqual(refreshed.status, 200, refreshed)
        self.assertEqual(unverified_claims(refreshed.json["access_token"])["sub"], "1001")
        self.assertError(self.exchange(subject, client="nooffline", scope="api1 offline_access"), 400,
                         "invalid_scope")

    # -- the other error codes ------------------------------------------------------------------------------------

    def test_request_errors(self):
        subject = self.login(scope="api1")["access_token"]
        self.assertError(self.exchange(subject, client="noexchange"), 400, "unauthorized_client")
        base = {"grant_type": GRANT}
        cases = [
            {"subject_token_type": ACCESS_TOKEN},
            {"subject_token": subject},
            {"subject_token": subject, "subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
            {"subject_token": subject, "subject_token_type": ACCESS_TOKEN, "actor_token": subject},
            {"subject_token": subject, "subject_token_type": ACCESS_TOKEN, "actor_token_type": ACCESS_TOKEN},
            {"subject_token": subject, "subject_token_type": ACCESS_TOKEN, "actor_token": subject,
             "actor_token_type": "urn:x"},
            {"subject_token": subject, "subject_token_type": ACCESS_TOKEN,
             "requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        ]
        for fields in cases:
            r = self.d.post_form(TOKEN, {**base, **fields}, auth=("exchanger", SECRET))
            self.assertError(r, 400, "invalid_request")
        r = self.exchange(subject, client="refexchanger", requested_token_type=JWT)
        self.assertError(r, 400, "invalid_request")
        r = self.exchange(subject, requested_token_type=JWT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["issued_token_type"], JWT)
        # a repeated audience is a repeated parameter
        body = f"grant_type={GRANT}&subject_token={subject}&subject_token_type={ACCESS_TOKEN}&audience=api-a&audience=api-b"
        r = self.d.post_form(TOKEN, body=body, auth=("exchanger", SECRET))
        self.assertError(r, 400, "invalid_request")
        # a wrong secret is still invalid_client first
        r = self.d.post_form(TOKEN, {"grant_type": GRANT, "subject_token": subject,
                                     "subject_token_type": ACCESS_TOKEN}, auth=("exchanger", "wrong"))
        self.assertError(r, 401, "invalid_client")

    def test_discovery_lists_the_grant(self):
        self.assertIn(GRANT, self.d.discovery()["grant_types_supported"])


if __name__ == "__main__":
    import harness
    harness.main()
