"""Refresh tokens (RFC 6749 §6) over real HTTP: nginx -> 4 tokenfcgi workers -> one LMDB.

Rotation, reuse detection (the whole family dies), scope narrowing and escalation, sliding and absolute expiry with
lifetimes of a few seconds, reference access tokens, the grace retry, and a parallel double-spend: the same refresh
token sent at once from many connections, which nginx spreads over the four worker processes; exactly one request
succeeds, and because the others are reuse, the winner's new refresh token is dead too. Every JWT access token is
verified by python3-jwt against the served JWKS.
"""

import concurrent.futures
import json
import re
import sys
import threading
import time
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "app-s3cret"
INVALID_GRANT = {"error": "invalid_grant", "error_description": "the refresh token is invalid"}
HANDLE = re.compile(r"^[A-Za-z0-9_-]{43}$")            # a reference access token
REFRESH_HANDLE = re.compile(r"^[A-Za-z0-9_-]{87}$")    # a refresh token (oauth/refresh_tokens.h)


def configuration():
    app = {"ClientId": "app", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["password"],
           "AllowedScopes": ["api1", "api2"], "AllowOfflineAccess": True}
    return {
        "Clients": [
            app,
            {**app, "ClientId": "other"},
            {**app, "ClientId": "sliding", "RefreshTokenExpiration": "Sliding", "SlidingRefreshTokenLifetime": 3,
             "AbsoluteRefreshTokenLifetime": 5},
            {**app, "ClientId": "absolute", "AbsoluteRefreshTokenLifetime": 2},
            {**app, "ClientId": "reuse", "RefreshTokenUsage": "ReUse"},
            {**app, "ClientId": "ref", "AccessTokenType": "Reference"},
            {"ClientId": "m2m", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"], "AccessTokenType": "Reference"},
        ],
        "ApiScopes": [{"Name": "api1", "UserClaims": ["email"]}, {"Name": "api2"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1", "api2"]}],
        "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1",
                   "Claims": [{"Type": "email", "Value": "alice@example.com"}]}],
    }


class Step:
    """Runs fn() at once and keeps its result and the wall-clock interval it ran in (the worker read its clock
    somewhere in between): start/end in seconds, second_start/second_end the whole seconds."""

    def __init__(self, fn):
        self.start = time.time()
        self.result = fn()
        self.end = time.time()
        self.second_start = int(self.start)
        self.second_end = int(self.end)

    @staticmethod
    def sleep_until(t):
        time.sleep(max(0.0, t - time.time()))

    @staticmethod
    def next_second():
        """Sleeps until just after the next whole second; returns it."""
        n = int(time.time()) + 1
        Step.sleep_until(n + 0.02)
        return n


class RefreshMixin:
    DEPLOYMENT = {}  # a class's own Deployment arguments, beside ES256 and cheap Argon2id

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), access_token_signing_alg="ES256", password_hash_memory_kib=1024,
                           password_hash_iterations=1, **cls.DEPLOYMENT)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def login(self, client="app", scope="api1 api2 offline_access"):
        fields = {"grant_type": "password", "username": "alice", "password": "Alice-pass-1", "scope": scope}
        r = self.d.post_form("/connect/token", fields, auth=(client, SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.json["refresh_token"], REFRESH_HANDLE)
        return r.json

    def refresh(self, token, client="app", **extra):
        fields = {"grant_type": "refresh_token", "refresh_token": token}
        fields.update(extra)
        return self.d.post_form("/connect/token", fields, auth=(client, SECRET))

    def assertInvalidGrant(self, r):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json, INVALID_GRANT, r)


class RefreshTest(RefreshMixin, unittest.TestCase):
    """One deployment: 4 workers, cheap Argon2id, no reuse grace (refresh_token_reuse_grace_seconds = 0)."""

    DEPLOYMENT = {"workers": 4, "refresh_token_reuse_grace_seconds": 0}

    def test_discovery_lists_the_grant(self):
        self.assertIn("refresh_token", self.d.discovery()["grant_types_supported"])

    def test_rotation(self):
        first = self.login()
        _, claims = self.d.verify_access_token(first["access_token"], audience="api-main")
        family = claims["grant_id"]
        self.assertRegex(family, r"^[A-Za-z0-9_-]{22}$")
        time.sleep(1.1)  # so iat moves
        r = self.refresh(first["refresh_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        second = r.json
        self.assertEqual(second["token_type"], "Bearer")
        self.assertEqual(second["scope"], "api1 api2 offline_access")
        self.assertRegex(second["refresh_token"], REFRESH_HANDLE)
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        _, renewed = self.d.verify_access_token(second["access_token"], audience="api-main")
        self.assertEqual(renewed["grant_id"], family)
        self.assertEqual(renewed["sub"], "1001")
        self.assertEqual(renewed["auth_time"], claims["auth_time"])  # the original login
        self.assertGreater(renewed["iat"], claims["iat"])
        self.assertNotEqual(renewed["jti"], claims["jti"])
        self.assertEqual(renewed["email"], "alice@example.com")
        # The new token works in turn; a ReUse client keeps its handle.
        self.assertEqual(self.refresh(second["refresh_token"]).status, 200)
        kept = self.login("reuse")["refresh_token"]
        for _ in range(2):
            r = self.refresh(kept, "reuse")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["refresh_token"], kept)

    def test_reuse_revokes_the_family(self):
        first = self.login()["refresh_token"]
        second = self.refresh(first).json["refresh_token"]
        self.assertInvalidGrant(self.refresh(first))
        self.assertInvalidGrant(self.refresh(second))  # the whole family is dead

    def test_errors(self):
        r = self.d.post_form("/connect/token", {"grant_type": "refresh_token"}, auth=("app", SECRET))
        self.assertEqual((r.status, r.json["error"]), (400, "invalid_request"), r)
        self.assertInvalidGrant(self.refresh("x" * 43))
        token = self.login()["refresh_token"]
        self.assertInvalidGrant(self.refresh(token, "other"))  # another client's token; not consumed
        r = self.refresh(token, "app")
        self.assertEqual(r.status, 200, r)
        r = self.d.post_form("/connect/token", {"grant_type": "refresh_token", "refresh_token": token},
                             auth=("app", "wrong"))
        self.assertEqual(r.status, 401, r)

    def test_scope_narrowing_and_escalation(self):
        token = self.login(scope="api1 offline_access")["refresh_token"]
        r = self.refresh(token, scope="api2")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"], "invalid_scope")
        r = self.refresh(token, scope="api1 api2")
        self.assertEqual(r.json["error"], "invalid_scope", r)
        # Nothing was consumed: the token still works, narrowed.
        r = self.refresh(token, scope="api1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "api1")
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-main")
        self.assertEqual(claims["scope"], "api1")
        # The new refresh token keeps the original scope.
        r = self.refresh(r.json["refresh_token"])
        self.assertEqual(r.json["scope"], "api1 offline_access", r)

    # The expiry tests run on the worker's clock, in whole seconds: a grant with lifetime L issued at second I is
    # valid while the second of use is below I + L. Each step is timed (Step) and scheduled just after a second
    # starts; when load delayed a step so much that its outcome is no longer determined (e.g. a use meant to be
    # within the lifetime landed after it), the scenario starts over with new tokens, up to ATTEMPTS times. Whenever
    # the timing made an outcome certain, it is asserted.
    ATTEMPTS = 5

    def run_timed(self, scenario):
        """Runs scenario() (which returns None when the timing held, else what went wrong) until the timing holds."""
        late = []
        for _ in range(self.ATTEMPTS):
            problem = scenario()
            if problem is None:
                return
            late.append(problem)
            print(f"busy machine, starting over: {problem}", file=sys.stderr)
        self.fail(f"the machine was too busy to check expiry {self.ATTEMPTS} times: {late}")

    def test_absolute_expiry(self):
        def scenario():
            n = Step.next_second()
            login = Step(lambda: self.login("absolute")["refresh_token"])
            Step.sleep_until(n + 0.3)
            r = Step(lambda: self.refresh(login.result, "absolute"))
            if r.second_end >= login.second_start + 2:
                return f"the refresh came at second {r.second_end - login.second_start} of the 2 s lifetime"
            self.assertEqual(r.result.status, 200, r.result)
            # Past the 2 s absolute lifetime of the login, whatever rotation happened.
            Step.sleep_until(login.end + 2)
            late = Step(lambda: self.refresh(r.result.json["refresh_token"], "absolute"))
            self.assertGreaterEqual(late.second_start, login.second_end + 2)
            self.assertInvalidGrant(late.result)
            return None
        self.run_timed(scenario)

    def test_sliding_expiry(self):
        # Each use slides the 3 s window, within the 5 s cap of the login.
        def scenario():
            n = Step.next_second()
            login = Step(lambda: self.login("sliding")["refresh_token"])
            idle = Step(lambda: self.login("sliding")["refresh_token"])
            Step.sleep_until(n + 1)
            first = Step(lambda: self.refresh(login.result, "sliding"))
            if first.second_end >= login.second_start + 3:
                return "the first refresh came after the 3 s window"
            self.assertEqual(first.result.status, 200, first.result)
            Step.sleep_until(n + 3)
            second = Step(lambda: self.refresh(first.result.json["refresh_token"], "sliding"))
            if second.second_end >= first.second_start + 3 or second.second_end >= login.second_start + 5:
                return "the second refresh came after the window or the cap"
            # Only the cap, not the window of the second refresh, can end the last token before this second.
            if second.second_start < login.second_end + 3:
                return "the second refresh came too early to tell the cap from the window"
            self.assertEqual(second.result.status, 200, second.result)
            unused = Step(lambda: self.refresh(idle.result, "sliding"))
            if unused.second_start < idle.second_end + 3:
                return "the second login came too late to be unused for 3 s"
            self.assertInvalidGrant(unused.result)  # unused for 3 s
            Step.sleep_until(login.end + 5)
            capped = Step(lambda: self.refresh(second.result.json["refresh_token"], "sliding"))
            if capped.second_end >= second.second_start + 3:
                return "the last refresh came after the window of the second"
            self.assertGreaterEqual(capped.second_start, login.second_end + 5)
            self.assertInvalidGrant(capped.result)  # past the 5 s cap despite the sliding
            return None
        self.run_timed(scenario)

    def test_reference_tokens(self):
        r = self.d.post_form("/connect/token", {"grant_type": "client_credentials"}, auth=("m2m", SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.json["access_token"], HANDLE)
        body = self.login("ref")
        self.assertRegex(body["access_token"], HANDLE)
        self.assertNotEqual(body["access_token"], body["refresh_token"])
        r = self.refresh(body["refresh_token"], "ref")
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.json["access_token"], HANDLE)
        # A reference access token is not a refresh token.
        self.assertInvalidGrant(self.refresh(r.json["access_token"], "ref"))

    def stats(self):
        return json.loads(self.d.tokenctl("--json", "stats").stdout)

    def test_a_family_rotated_many_times_takes_the_space_of_one_rotated_once(self):
        """Each rotation deletes the record of the handle it consumes (an old handle is recognised by its MAC, not
        by a record): 2,000 rotations leave the grant count and the map use where one rotation left them."""
        token = self.refresh(self.login()["refresh_token"]).json["refresh_token"]
        once = self.stats()
        for i in range(2000):
            r = self.refresh(token)
            self.assertEqual(r.status, 200, (i, r))
            token = r.json["refresh_token"]
        after = self.stats()
        self.assertEqual(after["grants"], once["grants"])
        if harness.TEST_STORE == "lmdb":
            # The same pages, give or take what LMDB's free list holds at the moment (a tombstone per rotation would
            # have taken about 2,000 x 230 bytes, over a hundred pages). PostgreSQL's size counts the dead row
            # versions every update leaves until (auto)vacuum makes their space reusable, so there the grant count
            # above is the measure.
            self.assertLessEqual(after["used_bytes"], once["used_bytes"] + 8 * 4096, (once, after))
        # The family is alive, and its first handles are reuse.
        self.assertEqual(self.refresh(token).status, 200)
        # What the human `stats` says of the space depends on the store: LMDB's map, its free list and reader slots;
        # PostgreSQL's database size, with no map or reader table to speak of.
        human = self.d.tokenctl("stats").stdout
        if harness.TEST_STORE == "lmdb":
            self.assertIn("map used", human)
            self.assertIn("map free list", human)
            self.assertIn("readers", human)
        else:
            self.assertIn("database size", human)
            for lmdb_only in ("map used", "map free list", "map grow", "readers"):
                self.assertNotIn(lmdb_only, human)

    def test_parallel_double_spend_across_workers(self):
        parallel = 12
        for round_no in range(3):
            token = self.login()["refresh_token"]
            barrier = threading.Barrier(parallel)

            def spend(_):
                barrier.wait()
                return self.refresh(token)

            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                results = list(pool.map(spend, range(parallel)))
            winners = [r for r in results if r.status == 200]
            self.assertEqual(len(winners), 1, f"round {round_no}: {results}")
            for r in results:
                if r.status != 200:
                    self.assertInvalidGrant(r)
            # The others were reuse: the family is dead, the winner's new refresh token included.
            self.assertInvalidGrant(self.refresh(winners[0].json["refresh_token"]))
        # nginx spread the requests over the worker processes.
        served = [harness.tail(path, 100000).count("grant=refresh_token") for path in self.d.worker_logs]
        self.assertGreaterEqual(sum(1 for n in served if n > 0), 3, served)


class RefreshGraceTest(RefreshMixin, unittest.TestCase):
    """A second deployment with the default refresh_token_reuse_grace_seconds (not set in its configuration): a
    client's retry after the response was lost (a worker killed between the commit and the answer) keeps the
    family."""

    DEPLOYMENT = {"workers": 2}

    def test_one_retry_then_reuse(self):
        self.assertNotIn("refresh_token_reuse_grace_seconds", self.d.config)  # the default is what is tested
        first = self.login()["refresh_token"]
        lost = self.refresh(first).json["refresh_token"]  # the answer the client never saw
        r = self.refresh(first)                            # its retry
        self.assertEqual(r.status, 200, r)
        retried = r.json["refresh_token"]
        self.assertNotEqual(retried, lost)
        self.assertInvalidGrant(self.refresh(lost))        # replaced by the retry
        self.assertInvalidGrant(self.refresh(first))       # a second retry is reuse
        self.assertInvalidGrant(self.refresh(retried))     # and the family is dead

    def test_no_retry_once_the_successor_was_used(self):
        first = self.login()["refresh_token"]
        second = self.refresh(first).json["refresh_token"]
        third = self.refresh(second).json["refresh_token"]
        self.assertInvalidGrant(self.refresh(first))
        self.assertInvalidGrant(self.refresh(third))



class RefreshOverKeptConnectionsTest(RefreshMixin, unittest.TestCase):
    """nginx keeping its FastCGI connections open (fastcgi_keep_conn, upstream keepalive): a rotation's answer waits
    for a commit on another thread of the worker (a deferred response, fcgi_server.h), and the connection carries
    nginx's next request, so the thread that read the request waits for that answer and then reads the next one from
    the same connection. Were the connection handed off like one that closes, the second request on it would never
    be read. (A kept connection holds its thread between requests, so the worker has more threads than nginx opens
    connections here.)"""

    DEPLOYMENT = {"workers": 1, "threads": 8, "keep_conn": True, "refresh_token_reuse_grace_seconds": 0}

    def test_rotations_and_reuse_over_kept_connections(self):
        token = self.login()["refresh_token"]
        first = token
        for _ in range(12):
            r = self.refresh(token)
            self.assertEqual(r.status, 200, r)
            token = r.json["refresh_token"]
        self.assertInvalidGrant(self.refresh(first))
        self.assertInvalidGrant(self.refresh(token))
        # Several at once over the pool of kept connections: one winner, as without keep-alive.
        token = self.login()["refresh_token"]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: self.refresh(token), range(6)))
        self.assertEqual(sum(1 for r in results if r.status == 200), 1, results)


if __name__ == "__main__":
    harness.main()
