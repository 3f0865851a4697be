"""kill -9 of a multi-threaded worker in the middle of group-committed refresh rotations.

nginx -> one tokenfcgi worker with --threads 8 -> LMDB. CHAINS clients each rotate their own refresh token as fast as
they are answered, so the worker's threads keep queueing Updates that the store commits in batches (one write
transaction, one sync, for all requests waiting at that moment). After a moment of load the worker is killed with
SIGKILL, so a batch is cut at any point: while callbacks run, during the commit or its sync, or after the commit and
before the answers went out. The worker is started again, and then, for every chain:

  * the store holds exactly one live refresh token for the family (a rotation is never half-applied: never the old
    token consumed without its successor stored, nor a successor stored beside an old token that still works);
  * the last token the client received (its last rotation was acknowledged with 200) was committed: either it works
    now, or the request that was in flight with it at the kill committed its rotation after all (the worker died
    before answering); then the token before it is consumed, which the test checks last (presenting it is reuse);
  * the rotation before that is committed too: the previous token no longer works.

Runs ROUNDS such kills. lmdb_sync = full and meta-async both keep everything on a process crash (the page cache
survives it), so the test runs with meta-async, the weaker of the two.

Then one round stops the worker gracefully (SIGTERM) under the same load instead: rotations answer from the thread
that commits their batch (durability.md), and a stopping worker must still answer every request it accepted. So
there, no request in flight may have committed without its answer: every chain's last token works. Requests that
reach the worker after the stop (its socket file is removed first; test_listen_backlog.py checks that the backlog is
answered) get nginx's 502.
"""

import json
import os
import signal
import sys
import threading
import time
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "kill-s3cret"
CHAINS = 24
THREADS = 8
ROUNDS = 3
MIN_ROTATIONS = CHAINS * 2   # rotations acknowledged in a round before the kill (at least)
MAX_LOAD_SECONDS = 60


def configuration():
    return {
        "Clients": [{
            "ClientId": "app", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
            "AllowedScopes": ["api1"], "AllowOfflineAccess": True, "RefreshTokenUsage": "OneTimeOnly",
        }],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api", "Scopes": ["api1"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}],
    }


class Chain:
    """One client's refresh-token chain: the tokens it received, oldest first, and whether its last request's answer
    was lost (the request was in flight when the worker died)."""

    def __init__(self, first):
        self.tokens = [first]
        self.lost = False


class KillDuringBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=1, threads=THREADS, access_token_signing_alg="ES256",
                           password_hash_memory_kib=1024, password_hash_iterations=1, log_level="error",
                           refresh_token_reuse_grace_seconds=0, lmdb_sync="meta-async")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def refresh(self, token):
        return self.d.post_form("/connect/token", {"grant_type": "refresh_token", "refresh_token": token},
                                auth=("app", SECRET))

    def issue(self):
        r = self.d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                "password": "Alice-pass-1", "scope": "api1 offline_access"},
                             auth=("app", SECRET))
        self.assertEqual(r.status, 200, r)
        return r.json["refresh_token"]

    def live_per_family(self):
        grants = json.loads(self.d.tokenctl("--json", "grants", "list", "--client", "app").stdout)
        live = {}
        for g in grants:
            if g["kind"] == "refresh_token":
                live.setdefault(g["family"], 0)
                if g["consumed_at"] is None and not g["expired"]:
                    live[g["family"]] += 1
        return live

    def stop_and_restart(self, sig):
        for proc in self.d.workers:
            os.kill(proc.pid, sig)
            self.assertEqual(proc.wait(30), 0 if sig == signal.SIGTERM else -signal.SIGKILL)
        self.d._start_workers()

    def run_round(self, round_no, sig=signal.SIGKILL):
        chains = [Chain(self.issue()) for _ in range(CHAINS)]
        families_before = set(self.live_per_family())
        lock = threading.Lock()
        acked = [0]
        unexpected = []

        stop = threading.Event()  # set at the kill: a loop not in flight then stops with its last token answered

        def loop(chain):
            while not stop.is_set():
                try:
                    r = self.refresh(chain.tokens[-1])
                except OSError:
                    chain.lost = True
                    return
                if r.status != 200:
                    # 502/504 from nginx: the worker died with this request in flight or before it arrived.
                    if r.status not in (502, 503, 504):
                        with lock:
                            unexpected.append(f"HTTP {r.status}: {r.text[:200]}")
                    chain.lost = True
                    return
                chain.tokens.append(r.json["refresh_token"])
                with lock:
                    acked[0] += 1

        threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in chains]
        started = time.monotonic()
        for t in threads:
            t.start()
        while time.monotonic() - started < MAX_LOAD_SECONDS:
            with lock:
                if acked[0] >= MIN_ROTATIONS or unexpected:
                    break
            time.sleep(0.01)
        self.assertEqual(unexpected, [], "a rotation failed before the kill")
        self.assertGreaterEqual(acked[0], MIN_ROTATIONS, "the load barely ran")
        time.sleep(0.05 * round_no)  # a different moment of the batch cycle in each round
        stop.set()
        self.stop_and_restart(sig)
        for t in threads:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "a refresh loop did not stop after the kill")
        self.assertEqual(unexpected, [], "a request got an answer that is neither 200 nor a lost connection")

        # The store first (the HTTP checks below revoke families by presenting consumed tokens).
        live = self.live_per_family()
        new_families = {f: n for f, n in live.items() if f not in families_before}
        self.assertEqual(len(new_families), 0, f"rotations started families of their own: {new_families}")
        wrong = {f: n for f, n in live.items() if n != 1}
        self.assertEqual(wrong, {}, "a family without exactly one live refresh token: a half-applied rotation")

        committed_unanswered = 0
        for i, chain in enumerate(chains):
            last = chain.tokens[-1]
            r = self.refresh(last)
            if r.status == 200:
                continue_ok = r.json.get("refresh_token")
                self.assertTrue(continue_ok, r)
            else:
                # Only possible if the request in flight with `last` at the kill committed its rotation.
                self.assertEqual((r.status, r.json.get("error")), (400, "invalid_grant"), f"chain {i}: {r}")
                self.assertTrue(chain.lost, f"chain {i}: its last token was refused though nothing was in flight")
                committed_unanswered += 1
            if len(chain.tokens) >= 2:
                # The acknowledged rotation that produced `last` consumed the token before it.
                r = self.refresh(chain.tokens[-2])
                self.assertEqual((r.status, r.json.get("error")), (400, "invalid_grant"),
                                 f"chain {i}: an acknowledged rotation was undone: the token before the last works")
        print(f"round {round_no} ({sig.name}): {acked[0]} rotations acknowledged before the stop; "
              f"{committed_unanswered} of {sum(c.lost for c in chains)} requests in flight had committed",
              file=sys.stderr)
        if sig == signal.SIGTERM:
            self.assertEqual(committed_unanswered, 0, "a graceful stop committed a rotation it did not answer")

    def test_acknowledged_rotations_survive_kill_9(self):
        for round_no in range(ROUNDS):
            self.run_round(round_no)

    def test_a_graceful_stop_answers_every_request_it_accepted(self):
        self.run_round(ROUNDS, signal.SIGTERM)


if __name__ == "__main__":
    harness.main()
