"""The password grant (RFC 6749 §4.3) and acr_values over real HTTP: nginx -> 4 tokenfcgi workers -> LMDB.

Users come from `tokenctl import` (a Users array in IdentityServer's TestUser shape, plus Tenant) and from
`tokenctl user add` (password on standard input). Every access token is verified by python3-jwt against the served
JWKS. The lockout test fires parallel wrong passwords that nginx spreads over the four worker processes and checks,
with `tokenctl user show`, that every one of them was counted in the shared LMDB record.
"""

import concurrent.futures
import json
import subprocess
import time
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
MAX_FAILURES = 25
LOCKOUT_SECONDS = 300
INVALID_GRANT = {"error": "invalid_grant", "error_description": "invalid username or password"}


def configuration():
    app = {"ClientId": "app", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
           "AllowedScopes": ["openid", "profile", "api1", "api2"], "AllowOfflineAccess": True,
           "Claims": [{"Type": "kind", "Value": "mobile"}]}
    return {
        "Clients": [
            app,
            {"ClientId": "public", "RequireClientSecret": False, "AllowedGrantTypes": ["password"],
             "AllowedScopes": ["api1"]},
            {"ClientId": "m2m", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"]},
            {**app, "ClientId": "restricted", "IdentityProviderRestrictions": ["remote_user"]},
        ],
        "ApiScopes": [{"Name": "api1", "UserClaims": ["email"]}, {"Name": "api2"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1", "api2"], "UserClaims": ["role"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]},
                              {"Name": "profile", "UserClaims": ["name"]}],
        "Users": [
            {"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
             "Claims": [{"Type": "name", "Value": "Alice"}, {"Type": "email", "Value": "alice@example.com"},
                        {"Type": "role", "Value": "admin"}, {"Type": "role", "Value": "user"},
                        {"Type": "tenant", "Value": "forged"}]},
            {"SubjectId": "2001", "Username": "alice", "Tenant": "acme", "Password": "Acme-pass-2",
             "Claims": [{"Type": "email", "Value": "alice@acme.example"}]},
            {"SubjectId": "3001", "Username": "disabled", "Password": "Disabled-pass", "IsActive": False},
            {"SubjectId": "4001", "Username": "target", "Password": "Target-pass-4"},
            {"SubjectId": "5001", "Username": "wrongs", "Password": "Wrongs-pass-5"},
        ],
    }


class PasswordGrantTest(unittest.TestCase):
    """One deployment: 4 workers, cheap Argon2id, lockout after MAX_FAILURES, acr claim on, remote_user on."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=4, access_token_signing_alg="ES256",
                           password_hash_memory_kib=1024, password_hash_iterations=1,
                           lockout_max_failures=MAX_FAILURES, lockout_seconds=LOCKOUT_SECONDS,
                           acr_claim="true", login_providers="local remote_user")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- helpers --------------------------------------------------------------------------------------------------

    def login(self, username, password, client=("app", SECRET), **extra):
        fields = {"grant_type": "password", "username": username, "password": password}
        fields.update(extra)
        return self.d.post_form("/connect/token", fields, auth=client)

    def assertError(self, r, status, error, description=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        self.assertEqual(r.json["error"], error, r)
        if description is not None:
            self.assertEqual(r.json.get("error_description"), description, r)

    def assertInvalidGrant(self, r):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json, INVALID_GRANT, r)
        return r.body

    def user_show(self, username, tenant=None):
        args = ["--json", "user", "show", "--username", username]
        if tenant is not None:
            args += ["--tenant", tenant]
        return json.loads(self.d.tokenctl(*args).stdout)

    def user_add(self, username, password, *args):
        cmd = [harness.binary("tokenctl"), "--config", self.d.config_path, "user", "add", username] + list(args)
        proc = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        self.assertNotIn(password, proc.stdout + proc.stderr)

    # -- success --------------------------------------------------------------------------------------------------

    def test_happy_path_through_nginx(self):
        before = int(time.time())
        r = self.login("alice", "Alice-pass-1", scope="openid profile api1", acr_values="urn:mfa idp:local")
        self.assertEqual(r.status, 200, r)
        body = r.json
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["scope"], "openid profile api1")
        self.assertNotIn("refresh_token", body)
        self.assertNotIn("id_token", body)
        header, claims = self.d.verify_access_token(body["access_token"], audience="api-main")
        self.assertEqual(header["typ"], "at+jwt")
        self.assertEqual(header["alg"], "ES256")
        self.assertEqual(claims["sub"], "1001")
        self.assertEqual(claims["client_id"], "app")
        self.assertEqual(claims["idp"], "local")
        self.assertEqual(claims["amr"], ["pwd"])
        self.assertEqual(claims["acr"], "1")   # local_acr: what the password login met, never the requested urn:mfa
        self.assertLessEqual(before - 5, claims["auth_time"])
        self.assertLessEqual(claims["auth_time"], claims["iat"])
        self.assertEqual(claims["scope"], "openid profile api1")
        self.assertEqual(claims["email"], "alice@example.com")    # api1's UserClaims
        self.assertEqual(claims["role"], ["admin", "user"])       # api-main's UserClaims, repeated type
        self.assertNotIn("name", claims)                          # identity resources add nothing to access tokens
        self.assertNotIn("tenant", claims)                        # no tenant:, and the user's claim cannot forge it
        self.assertNotIn("client_kind", claims)                   # no AlwaysSendClientClaims

    def test_tenants(self):
        r = self.login("ALICE", "Acme-pass-2", scope="api1", acr_values="tenant:acme")
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-main")
        self.assertEqual(claims["sub"], "2001")
        self.assertEqual(claims["tenant"], "acme")
        self.assertEqual(claims["email"], "alice@acme.example")
        self.assertEqual(claims["acr"], "1")   # acr_claim on: the level met, also when none was asked
        # Each alice's password works only in her own tenant.
        self.assertInvalidGrant(self.login("alice", "Acme-pass-2"))
        self.assertInvalidGrant(self.login("alice", "Alice-pass-1", acr_values="tenant:acme"))

    def test_public_client(self):
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                "password": "Alice-pass-1", "client_id": "public"})
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-main")
        self.assertEqual((claims["sub"], claims["client_id"], claims["scope"]), ("1001", "public", "api1"))

    def test_user_added_with_tokenctl(self):
        self.user_add("dave", "Dave-pass-6", "--tenant", "globex", "--subject", "6001",
                      "--claim", "email=dave@globex.example")
        r = self.login("dave", "Dave-pass-6", scope="api1", acr_values="tenant:globex")
        self.assertEqual(r.status, 200, r)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-main")
        self.assertEqual((claims["sub"], claims["tenant"], claims["email"]), ("6001", "globex", "dave@globex.example"))

    def test_discovery_lists_password(self):
        self.assertIn("password", self.d.discovery()["grant_types_supported"])

    # -- errors ---------------------------------------------------------------------------------------------------

    def test_invalid_grant_answers_are_identical(self):
        bodies = {
            "unknown user": self.assertInvalidGrant(self.login("nobody", "Whatever-1")),
            "wrong password": self.assertInvalidGrant(self.login("wrongs", "not-it")),
            "disabled user": self.assertInvalidGrant(self.login("disabled", "Disabled-pass")),
            "wrong tenant": self.assertInvalidGrant(self.login("wrongs", "Wrongs-pass-5", acr_values="tenant:x")),
        }
        self.assertEqual(len(set(bodies.values())), 1, bodies)
        self.assertEqual(self.user_show("disabled")["AccessFailedCount"], 0)

    def test_request_errors(self):
        failures_before = self.user_show("alice")["AccessFailedCount"]
        self.assertError(self.login("alice", "Alice-pass-1", client=("m2m", SECRET)), 400, "unauthorized_client")
        r = self.d.post_form("/connect/token", {"grant_type": "password", "password": "x"}, auth=("app", SECRET))
        self.assertError(r, 400, "invalid_request", "username is missing")
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": "x"}, auth=("app", SECRET))
        self.assertError(r, 400, "invalid_request", "password is missing")
        self.assertError(self.login("u" * 101, "x"), 400, "invalid_request", "username is too long")
        self.assertError(self.login("alice", "p" * 101), 400, "invalid_request", "password is too long")
        self.assertError(self.login("alice", "Alice-pass-1", acr_values="x" * 301), 400, "invalid_request",
                         "acr_values is too long")
        self.assertError(self.login("alice", "Alice-pass-1", acr_values="tenant:a tenant:b"), 400,
                         "invalid_request", "acr_values names more than one tenant")
        self.assertError(self.login("alice", "Alice-pass-1", acr_values="idp:google"), 400, "invalid_request",
                         "the identity provider is not enabled")
        self.assertError(self.login("alice", "Alice-pass-1", acr_values="idp:remote_user"), 400, "invalid_request",
                         "the identity provider cannot check passwords")
        self.assertError(self.login("alice", "Alice-pass-1", client=("restricted", SECRET)), 400, "invalid_request",
                         "the client is not allowed the identity provider")
        self.assertError(self.d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                             "password": "Alice-pass-1", "client_id": "public",
                                                             "scope": "api1 offline_access"}),
                         400, "invalid_scope", "offline_access is not allowed for this client")
        self.assertError(self.login("alice", "Alice-pass-1", scope="api3"), 400, "invalid_scope")
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                "password": "Alice-pass-1"}, auth=("app", "wrong-secret"))
        self.assertError(r, 401, "invalid_client")
        # None of these was a failed login.
        self.assertEqual(self.user_show("alice")["AccessFailedCount"], failures_before)

    # -- lockout across worker processes --------------------------------------------------------------------------

    def parallel_wrong(self, n):
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
            results = list(pool.map(lambda i: self.login("target", f"wrong-{i}"), range(n)))
        for r in results:
            self.assertInvalidGrant(r)

    def test_concurrent_failures_from_all_workers_count_toward_one_lockout(self):
        log_before = [len(harness.tail(p, 100000)) for p in self.d.worker_logs]
        # 20 parallel wrong passwords: every one is counted, none lost to a race between processes.
        self.parallel_wrong(20)
        shown = self.user_show("target")
        self.assertEqual(shown["AccessFailedCount"], 20, shown)
        self.assertFalse(shown["LockedOut"], shown)
        # nginx spread them over several worker processes.
        served = 0
        for path, before in zip(self.d.worker_logs, log_before):
            if "grant=password outcome=invalid_grant" in harness.tail(path, 100000)[before:]:
                served += 1
        self.assertGreaterEqual(served, 2, "the attempts did not reach several workers")

        # 10 more: the 5th reaches MAX_FAILURES and locks; the rest arrive while locked and change nothing.
        started = int(time.time())
        self.parallel_wrong(10)
        shown = self.user_show("target")
        self.assertTrue(shown["LockedOut"], shown)
        self.assertEqual(shown["AccessFailedCount"], 0, shown)
        self.assertGreaterEqual(shown["LockoutEnd"], started + LOCKOUT_SECONDS - 1)
        self.assertLessEqual(shown["LockoutEnd"], int(time.time()) + LOCKOUT_SECONDS + 1)
        locked_until = shown["LockoutEnd"]

        # The correct password is refused while locked, with the same answer, and does not extend the lockout.
        self.assertInvalidGrant(self.login("target", "Target-pass-4"))
        self.assertEqual(self.user_show("target")["LockoutEnd"], locked_until)
        text = self.d.tokenctl("user", "show", "--username", "target").stdout
        self.assertIn("locked until", text)

        # An operator unlocks; the correct password works again.
        self.d.tokenctl("user", "unlock", "--username", "target")
        r = self.login("target", "Target-pass-4", scope="api1")
        self.assertEqual(r.status, 200, r)

    def test_log_never_carries_the_password(self):
        self.assertInvalidGrant(self.login("nobody", "Never-Logged-Pw-7"))
        self.assertNotIn("Never-Logged-Pw-7", self.d.read_worker_logs())


if __name__ == "__main__":
    harness.main()
