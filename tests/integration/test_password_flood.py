"""A flood of password requests through nginx: the worker runs at most password_hash_concurrency password checks
at once and answers the excess 503 temporarily_unavailable with Retry-After (after password_hash_wait_ms), while
cheap requests keep being answered; once the flood is over, logins work again.

Deterministic: the one worker has more threads than the flood has requests, one password check slot and no wait,
and each password check is slow (Argon2id m = 32 MiB, t = 4): of the requests fired together, one holds the slot and
the others find it busy. Latency is never asserted (that is `make bench`'s job)."""

import concurrent.futures
import json
import threading
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
FLOOD = 8


def configuration():
    return {
        "Clients": [
            {"ClientId": "app", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
             "AllowedScopes": ["api1"]},
            {"ClientId": "m2m", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"]},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api", "Scopes": ["api1"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}],
    }


class PasswordFloodTest(unittest.TestCase):
    def test_excess_password_checks_are_503_with_retry_after(self):
        with Deployment(configuration(), workers=1, threads=FLOOD + 4, access_token_signing_alg="ES256",
                        password_hash_memory_kib=32768, password_hash_iterations=4,
                        password_hash_concurrency=1, password_hash_wait_ms=0, lockout_max_failures=100) as d:
            barrier = threading.Barrier(FLOOD)

            def wrong_password(i):
                barrier.wait(30)
                return d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                      "password": "wrong-%d" % i}, auth=("app", SECRET))

            with concurrent.futures.ThreadPoolExecutor(FLOOD) as pool:
                answers = list(pool.map(wrong_password, range(FLOOD)))
            statuses = sorted(r.status for r in answers)
            self.assertTrue(all(s in (400, 503) for s in statuses), statuses)
            self.assertIn(400, statuses)
            self.assertIn(503, statuses)
            for r in answers:
                if r.status == 503:
                    self.assertEqual(r.json, {"error": "temporarily_unavailable",
                                              "error_description": "too many password checks at once; retry shortly"})
                    self.assertEqual(r.headers.get("Retry-After"), "1")
                    self.assertEqual(r.headers.get("Cache-Control"), "no-store")
                else:
                    self.assertEqual(r.json["error"], "invalid_grant")
            # A refused check counts no failure against the user: the 400s alone did.
            shown = json.loads(d.tokenctl("--json", "user", "show", "--username", "alice").stdout)
            self.assertEqual(shown["AccessFailedCount"], statuses.count(400), shown)
            # Cheap requests are not refused, and a login after the flood works.
            r = d.post_form("/connect/token", {"grant_type": "client_credentials"}, auth=("m2m", SECRET))
            self.assertEqual(r.status, 200, r)
            r = d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                               "password": "Alice-pass-1"}, auth=("app", SECRET))
            self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    harness.main()
