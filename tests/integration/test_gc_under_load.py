"""`tokenctl gc` while a load test refreshes tokens, without a single failed request.

nginx -> 4 tokenfcgi workers -> one LMDB. A client with short sliding refresh tokens (RefreshTokenUsage OneTimeOnly,
RefreshTokenExpiration Sliding, SlidingRefreshTokenLifetime a few seconds, no absolute cap) and reference access
tokens of the same lifetime makes every rotation store a grant that expires a few seconds later (a rotation itself
leaves nothing of the consumed refresh token), and abandoned families expire too. For LOAD_SECONDS
(longer on a busy machine, until enough has happened to check), parallel loops each refresh their own token chain as
fast as they can while `tokenctl gc --batch 10` runs again and again, deleting those expired grants in many small
write transactions under the workers' feet. Every refresh must
answer 200 with a new refresh token (no 5xx, no invalid_grant for a live token, no connection error), gc must exit 0
every time and must really have deleted grants while the loops ran, and at the end no expired grant is left.
"""

import json
import sys
import threading
import time
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "load-s3cret"
SLIDING_SECONDS = 4       # refresh and reference access tokens expire (and gc deletes them) this long after issue
LOAD_SECONDS = 10         # at least; longer (up to MAX_LOAD_SECONDS) until the load did what the test checks
MAX_LOAD_SECONDS = 120
LOOPS = 8                 # parallel refresh chains
ABANDONED = 6             # families issued up front and never used again: they expire and gc deletes them


def configuration():
    return {
        "Clients": [{
            "ClientId": "load", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
            "AllowedScopes": ["api1"], "AllowOfflineAccess": True,
            "RefreshTokenUsage": "OneTimeOnly", "RefreshTokenExpiration": "Sliding",
            "SlidingRefreshTokenLifetime": SLIDING_SECONDS, "AbsoluteRefreshTokenLifetime": 0,
            "AccessTokenType": "Reference", "AccessTokenLifetime": SLIDING_SECONDS,
        }],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api", "Scopes": ["api1"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}],
    }


class GcUnderLoadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=4, access_token_signing_alg="ES256",
                           password_hash_memory_kib=1024, password_hash_iterations=1, log_level="error")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def issue(self):
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                "password": "Alice-pass-1", "scope": "api1 offline_access"},
                             auth=("load", SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertIn("refresh_token", r.json, r)
        return r.json["refresh_token"]

    def gc(self):
        proc = self.d.tokenctl("--json", "gc", "--batch", "10", check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        return json.loads(proc.stdout)

    def grants(self):
        return json.loads(self.d.tokenctl("--json", "grants", "list", "--client", "load").stdout)

    def test_gc_while_refreshing(self):
        for _ in range(ABANDONED):
            self.issue()
        chains = [self.issue() for _ in range(LOOPS)]

        stop = threading.Event()
        lock = threading.Lock()
        counts = {"ok": 0}
        failures = []  # (what, detail): every one of them fails the test

        def refresh_loop(token):
            while not stop.is_set():
                try:
                    r = self.d.post_form("/connect/token", {"grant_type": "refresh_token", "refresh_token": token},
                                         auth=("load", SECRET))
                except OSError as e:
                    with lock:
                        failures.append(("connection", repr(e)))
                    return
                if r.status != 200:
                    with lock:
                        failures.append((f"HTTP {r.status}", r.text[:300]))
                    return  # the chain is broken; its token is no longer usable
                new = r.json.get("refresh_token")
                if not new or new == token:
                    with lock:
                        failures.append(("no new refresh token", r.text[:300]))
                    return
                token = new
                with lock:
                    counts["ok"] += 1

        threads = [threading.Thread(target=refresh_loop, args=(t,), daemon=True) for t in chains]
        started = time.monotonic()
        for t in threads:
            t.start()

        gc_runs = []        # the reports of the gc runs made while the loops were running
        gc_errors = []

        def enough_done():  # what the assertions below need; on a busy machine it takes longer than LOAD_SECONDS
            with lock:
                refreshed = counts["ok"]
            return (refreshed > LOOPS * 5 and sum(r["grants"] for r in gc_runs) > ABANDONED
                    and any(r["batches"] > 1 for r in gc_runs))

        while (time.monotonic() - started < LOAD_SECONDS or not enough_done()) and not failures and not gc_errors \
                and time.monotonic() - started < MAX_LOAD_SECONDS:
            try:
                gc_runs.append(self.gc())
            except AssertionError as e:
                gc_errors.append(str(e))
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "a refresh loop did not stop")
        print(f"{counts['ok']} refreshes in {time.monotonic() - started:.1f}s; {len(gc_runs)} gc runs removed "
              f"{sum(r['grants'] for r in gc_runs)} grants in {sum(r['batches'] for r in gc_runs)} batches "
              f"(most in one run: {max((r['grants'] for r in gc_runs), default=0)})", file=sys.stderr)

        self.assertEqual(gc_errors, [], "tokenctl gc failed while the workers served")
        self.assertEqual(failures, [], f"failed requests during gc ({counts['ok']} refreshes succeeded)")
        self.assertGreater(counts["ok"], LOOPS * 5, "the load loops barely ran")
        removed_under_load = sum(r["grants"] for r in gc_runs)
        # Reference tokens from the first seconds of load and the abandoned families expired during the run.
        self.assertGreater(removed_under_load, ABANDONED, f"gc removed too little while the loops ran: {gc_runs}")
        self.assertTrue(any(r["batches"] > 1 for r in gc_runs), f"gc never needed more than one batch: {gc_runs}")

        # Once the last token of every chain has expired, one more gc leaves nothing behind.
        time.sleep(SLIDING_SECONDS + 1)
        final = self.gc()
        self.assertGreaterEqual(final["grants"], LOOPS, final)
        self.assertEqual(self.grants(), [], f"grants left after the final gc ({final})")


if __name__ == "__main__":
    harness.main()
