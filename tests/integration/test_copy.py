"""`tokenctl copy FROM TO` over real HTTP: tokens issued by one deployment keep working against a copy of its store.

Deployment A issues a refresh token (rotated once, so a consumed one exists too), a reference access token from
client_credentials, and a second refresh-token family that is revoked (RFC 7009) while its JWT access token is still
valid. The store is copied while A serves; deployment B, with the same issuer, serves from the copy. Through B: the
live refresh token rotates, reuse of the consumed one is still detected (and kills the family), the reference token
introspects active, the revoked family's refresh token and JWT access token are dead, the signing key is the same
(A's tokens verify against B's JWKS), and passwords and clients work. LMDB -> LMDB, and LMDB -> PostgreSQL -> LMDB
(a private PostgreSQL 15 cluster, pg_cluster.py). Also: the target must be empty unless --force, the same
database is refused, and --json reports the counts.
"""

import json
import os
import unittest

import harness
import pg_cluster
from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
API_SECRET = "api-s3cret"
INTROSPECTION = "/connect/introspect"


def configuration():
    user_client = {"ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password", "refresh_token"],
                   "AllowedScopes": ["api1"], "AllowOfflineAccess": True}
    return {
        "Clients": [
            {**user_client, "ClientId": "app"},
            {"ClientId": "refm2m", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"], "AccessTokenType": "Reference"},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"], "ApiSecrets": [hashed_secret(API_SECRET)]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}],
    }


CHEAP_HASHING = {"password_hash_memory_kib": 1024, "password_hash_iterations": 1}


class Tokens:
    """What deployment A issued before the copy."""


class CopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = Deployment(configuration(), workers=1, access_token_signing_alg="ES256",
                           refresh_token_reuse_grace_seconds=0, **CHEAP_HASHING)
        cls.a.start()
        cls.t = cls.issue(cls.a)

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()

    # -- helpers ----------------------------------------------------------------------------------------------------

    @staticmethod
    def token(d, fields, auth):
        r = d.post_form("/connect/token", fields, auth=auth)
        if r.status != 200:
            raise AssertionError(f"token request {fields.get('grant_type')} answered {r!r}")
        return r.json

    @classmethod
    def login(cls, d):
        return cls.token(d, {"grant_type": "password", "username": "alice", "password": "Alice-pass-1",
                             "scope": "api1 offline_access"}, ("app", SECRET))

    @classmethod
    def issue(cls, d):
        t = Tokens()
        first = cls.login(d)
        t.consumed = first["refresh_token"]
        t.live = cls.token(d, {"grant_type": "refresh_token", "refresh_token": t.consumed}, ("app", SECRET))
        t.reference = cls.token(d, {"grant_type": "client_credentials", "scope": "api1"},
                                ("refm2m", SECRET))["access_token"]
        t.revoked = cls.login(d)
        r = d.post_form("/connect/revocation", {"token": t.revoked["refresh_token"]}, auth=("app", SECRET))
        if r.status != 200:
            raise AssertionError(f"revocation answered {r!r}")
        return t

    def introspect(self, d, token):
        r = d.post_form(INTROSPECTION, {"token": token}, auth=("api-main", API_SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json

    def copy(self, source, target, *extra, check=True):
        return self.a.tokenctl("--json", "copy", source, target, *extra, check=check)

    def serve(self, database):
        """Deployment B: the copy at `database`, with A's issuer."""
        return Deployment(None, workers=1, provision=False, database=database, issuer=self.a.issuer,
                          access_token_signing_alg="ES256", refresh_token_reuse_grace_seconds=0, **CHEAP_HASHING)

    def check_served_copy(self, b):
        t = self.t
        # A's JWT still verifies against B's JWKS: the signing key was copied.
        b.verify_access_token(t.live["access_token"], audience="api-main")
        # The reference token is known to B.
        self.assertTrue(self.introspect(b, t.reference)["active"])
        # The revoked family stays revoked: its refresh token and its (unexpired) JWT access token are dead.
        self.assertEqual(self.introspect(b, t.revoked["refresh_token"]), {"active": False})
        self.assertEqual(self.introspect(b, t.revoked["access_token"]), {"active": False})
        # Users and their passwords came along; B issues tokens with the copied key.
        fresh = self.login(b)
        b.verify_access_token(fresh["access_token"], audience="api-main")
        # The live refresh token rotates on B.
        rotated = self.token(b, {"grant_type": "refresh_token", "refresh_token": t.live["refresh_token"]},
                             ("app", SECRET))
        self.assertNotEqual(rotated["refresh_token"], t.live["refresh_token"])
        # Reuse of the refresh token rotated on A is detected on B and revokes the family, the newest token too.
        r = b.post_form("/connect/token", {"grant_type": "refresh_token", "refresh_token": t.consumed},
                        auth=("app", SECRET))
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"], "invalid_grant", r)
        r = b.post_form("/connect/token", {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
                        auth=("app", SECRET))
        self.assertEqual(r.status, 400, r)

    def check_counts(self, report):
        self.assertTrue(report["ok"], report)
        self.assertEqual(report["Clients"], 2)
        self.assertEqual(report["ApiScopes"], 1)
        self.assertEqual(report["ApiResources"], 1)
        self.assertEqual(report["Users"], 1)
        self.assertEqual(report["Keys"], len(json.loads(self.a.tokenctl("--json", "key", "list").stdout)))
        self.assertTrue(report["SessionKey"])
        self.assertEqual(report["Revocations"], 1)
        # the live refresh token and the reference token: a rotation keeps no record of the consumed refresh token,
        # whose reuse is recognised from its handle (family, generation, MAC) alone
        self.assertGreaterEqual(report["Grants"], 2)

    # -- tests ------------------------------------------------------------------------------------------------------

    def test_lmdb_to_lmdb(self):
        target = os.path.join(self.a.tmp, "copy-lmdb")
        report = json.loads(self.copy(self.a.config["database"], target).stdout)
        self.check_counts(report)
        with self.serve(target) as b:
            self.check_served_copy(b)

    def test_lmdb_to_postgresql_and_back(self):
        with pg_cluster.PgCluster() as cluster:
            uri = cluster.create_database()
            report = json.loads(self.copy(self.a.config["database"], uri).stdout)
            self.check_counts(report)
            self.assertNotIn("password", report["to"])
            back = os.path.join(self.a.tmp, "copy-back")
            report = json.loads(self.copy(uri, back).stdout)
            self.check_counts(report)
            with self.serve(back) as b:
                self.check_served_copy(b)

    def test_a_target_with_records_needs_force_and_the_same_database_is_refused(self):
        target = os.path.join(self.a.tmp, "copy-force")
        self.copy(self.a.config["database"], target)
        p = self.copy(self.a.config["database"], target, check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("already holds records", p.stderr)
        self.assertFalse(json.loads(p.stdout)["ok"])
        p = self.copy(self.a.config["database"], target, "--force", "--batch", "2")
        report = json.loads(p.stdout)
        self.check_counts(report)
        self.assertGreater(report["transactions"], 3)
        p = self.copy(self.a.config["database"], self.a.config["database"] + "/", check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("the same database", p.stderr)
        p = self.a.tokenctl("copy", os.path.join(self.a.tmp, "nothing-here"), target + "2", check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no database at", p.stderr)
        self.assertFalse(os.path.exists(target + "2"))


if __name__ == "__main__":
    harness.main()
