"""A full store over real HTTP: nginx -> 2 tokenfcgi workers -> one LMDB with a 1 MiB map (docs/store.md).

Reference access tokens (one grant write each, with a large client claim so each fills a page) are issued until the
map is full. From then on every request that must write a new record answers 503 temporarily_unavailable with
Retry-After and Cache-Control: no-store, and the workers log one line naming map_size; requests that only read keep
working (a JWT from client_credentials, discovery, JWKS), and a refresh token obtained before still works afterwards.
`tokenctl stats` shows the map use in bytes and percent. `tokenctl map grow` then grows the map while the workers run:
they adopt the new size at their next transaction, without a restart, and writes succeed again; a worker started
afterwards with the configuration's smaller map_size uses the grown size too.
"""

import json
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "app-s3cret"


def configuration():
    app = {"ClientId": "app", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
           "AllowedScopes": ["api1"], "AllowOfflineAccess": True}
    return {
        "Clients": [
            app,
            # Every token of this client is a reference token (a grant write) carrying a 3 KB claim: a page each.
            {"ClientId": "filler", "ClientSecrets": [hashed_secret(SECRET)],
             "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"], "AccessTokenType": "Reference",
             "Claims": [{"Type": "blob", "Value": "x" * 3000}]},
            {"ClientId": "jwt", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"]},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}],
    }


class StoreFullTest(unittest.TestCase):
    def setUp(self):
        self.d = Deployment(configuration(), workers=2, map_size="1M", access_token_signing_alg="ES256",
                            password_hash_memory_kib=1024, password_hash_iterations=1)
        self.d.start()
        self.addCleanup(self.d.stop)

    def token(self, client, **fields):
        body = {"grant_type": "client_credentials", "scope": "api1"}
        body.update(fields)
        return self.d.post_form("/connect/token", body, auth=(client, SECRET))

    def login(self):
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                "password": "Alice-pass-1", "scope": "api1 offline_access"},
                             auth=("app", SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json["refresh_token"]

    def refresh(self, token):
        return self.d.post_form("/connect/token", {"grant_type": "refresh_token", "refresh_token": token},
                                auth=("app", SECRET))

    def fill(self):
        """Issues reference tokens until one is refused; returns that response."""
        for _ in range(1000):
            r = self.token("filler")
            if r.status != 200:
                return r
        self.fail("a 1 MiB map never filled up")

    def stats(self):
        return json.loads(self.d.tokenctl("--json", "stats").stdout)

    def assertUnavailable(self, r):
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"], "temporarily_unavailable", r)
        self.assertEqual(r.headers["Retry-After"], "60", r)
        self.assertEqual(r.headers["Cache-Control"], "no-store", r)

    def test_full_map_refuses_writes_keeps_reads_and_grows_while_workers_run(self):
        refresh_token = self.login()
        mark = self.d.log_mark()
        self.assertUnavailable(self.fill())
        # (A rotation replaces its chain's record in place, which the pages the last commit freed often suffice for:
        # refresh_grant_test's FullStoreRefreshTest has the refresh that finds no room.)
        logged = self.d.logs_since(mark)
        self.assertIn("map_size", logged)
        self.assertIn("MDB_MAP_FULL", logged)

        # Reads keep working: a JWT needs no write, nor do discovery and the JWKS.
        for _ in range(4):
            self.assertEqual(self.token("jwt").status, 200)
        self.assertIn("token_endpoint", self.d.discovery())
        self.assertEqual(self.d.get("/.well-known/openid-configuration/jwks").status, 200)

        stats = self.stats()
        self.assertEqual(stats["map_size"], 1 << 20)
        self.assertGreaterEqual(stats["used_percent"], 80.0)
        self.assertAlmostEqual(stats["used_bytes"] * 100.0 / stats["map_size"], stats["used_percent"], places=3)
        self.assertIn("%", self.d.tokenctl("stats").stdout)

        # Grow the map while the workers run: both adopt it at their next transaction.
        grown = self.d.tokenctl("map", "grow", "8M")
        self.assertIn("8388608", grown.stdout)
        r = self.refresh(refresh_token)  # the login's refresh token, obtained before the map filled, still works
        self.assertEqual(r.status, 200, r)
        for _ in range(6):
            self.assertEqual(self.token("filler").status, 200)
        self.assertEqual(self.stats()["map_size"], 8 << 20)
        self.assertIn("another process grew the map", self.d.read_worker_logs())

        # A restart with the configuration's map_size (1M) keeps the grown map.
        self.d._stop_processes()
        self.d._start_workers()
        self.d._start_nginx()
        for _ in range(6):
            self.assertEqual(self.token("filler").status, 200)

    def test_growing_to_a_smaller_size_is_refused(self):
        r = self.d.tokenctl("map", "grow", "512K", check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("map_size", r.stderr)


if __name__ == "__main__":
    harness.main()
