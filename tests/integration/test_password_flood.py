"""A flood of password requests through nginx: the worker runs at most password_hash_concurrency password checks
at once and answers the excess 503 temporarily_unavailable with Retry-After (after password_hash_wait_ms), while
cheap requests keep being answered; once the flood is over, logins work again.

Deterministic: the one worker has more threads than the flood has requests, one password check slot and no wait,
and each password check is slow (Argon2id m = 32 MiB, t = 4): of the requests fired together, one holds the slot and
the others find it busy. Latency is never asserted (that is `make bench`'s job).

The hashing runs in a helper process of the worker's (password/hash_helper.h), in a session and so a scheduling
group of its own at nice 19: the test finds it, sees the checks' CPU time spent there, kills it, finds logins still
answered correctly meanwhile, and the worker's next helper placed and used as the first."""

import concurrent.futures
import json
import os
import signal
import threading
import time
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


def stat_fields(pid):
    """/proc/PID/stat after the command name: fields 3.. of proc(5), so index 0 is the state."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def hashing_helpers(worker_pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if b"--hash-helper" in argv and int(stat_fields(entry)[1]) == worker_pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


class HashingHelperTest(unittest.TestCase):
    def test_password_checks_hash_in_a_low_priority_helper_and_survive_its_death(self):
        with Deployment(configuration(), workers=1, threads=4, access_token_signing_alg="ES256",
                        password_hash_memory_kib=32768, password_hash_iterations=4,
                        password_hash_concurrency=2, lockout_max_failures=100) as d:
            worker = d.workers[0].pid
            helpers = hashing_helpers(worker)
            self.assertEqual(len(helpers), 1, "the worker has no hashing helper")
            helper = helpers[0]
            self.assertIn(f"hashing helper pid={helper}", d.read_worker_logs())

            def check_placed(pid):
                fields = stat_fields(pid)
                # Its own session (so its own autogroup), nice 19, and the autogroup's nice 19 where the kernel has
                # them; named for ps and pgrep: "tokenfcgi --hash-helper 2", command name tokenfcgi-hash.
                self.assertNotEqual(int(fields[3]), int(stat_fields(worker)[3]), "the helper shares the worker's session")
                self.assertEqual(int(fields[16]), 19, "the helper does not run at nice 19")
                if os.path.exists(f"/proc/{pid}/autogroup"):
                    with open(f"/proc/{pid}/autogroup") as f:
                        self.assertIn("nice 19", f.read())
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    self.assertEqual(f.read().split(b"\0")[:3], [b"tokenfcgi", b"--hash-helper", b"2"])
                with open(f"/proc/{pid}/comm") as f:
                    self.assertEqual(f.read().strip(), "tokenfcgi-hash")

            def login(password):
                return d.post_form("/connect/token", {"grant_type": "password", "username": "alice",
                                                      "password": password}, auth=("app", SECRET))

            def cpu_ticks(pid):
                total = 0
                for task in os.listdir(f"/proc/{pid}/task"):
                    f = stat_fields(f"{pid}/task/{task}")
                    total += int(f[11]) + int(f[12])
                return total

            def check_hashes_there(pid):
                before = cpu_ticks(pid), cpu_ticks(worker)
                for _ in range(3):
                    self.assertEqual(login("wrong").status, 400)
                    self.assertEqual(login("Alice-pass-1").status, 200)
                spent = cpu_ticks(pid) - before[0], cpu_ticks(worker) - before[1]
                # Six Argon2id checks of 32 MiB x 4 passes: the helper spent the time, the worker did not.
                self.assertGreater(spent[0], spent[1], f"helper and worker CPU ticks: {spent}")

            check_placed(helper)
            check_hashes_there(helper)

            # Killed: logins keep working (on the worker's threads), and the worker starts another helper.
            mark = d.log_mark()
            os.kill(helper, signal.SIGKILL)
            for _ in range(2):
                self.assertEqual(login("wrong").status, 400)
                self.assertEqual(login("Alice-pass-1").status, 200)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                helpers = hashing_helpers(worker)
                if helpers and helpers != [helper] and "started again (pid" in d.logs_since(mark):
                    break
                time.sleep(0.05)
            self.assertEqual(len(helpers), 1, f"helpers of the worker: {helpers}")
            self.assertNotEqual(helpers[0], helper, "the killed helper is still there (not reaped)")
            log = d.logs_since(mark)
            self.assertEqual(log.count(f"password hashing helper (pid {helper}) exited (signal 9)"), 1, log)
            self.assertEqual(log.count(f"password hashing helper started again (pid {helpers[0]})"), 1, log)
            check_placed(helpers[0])
            check_hashes_there(helpers[0])
            self.assertIsNone(d.workers[0].poll())

if __name__ == "__main__":
    harness.main()
