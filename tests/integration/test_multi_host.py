"""Two hosts, one PostgreSQL: N hosts behave as one service.

Two independent "hosts" (each its own configuration file, worker pool, nginx and port: two harness Deployments) share
one database in a private PostgreSQL 15 cluster (pg_cluster.py) and the same issuer. Checked through real HTTP:
  * the same authorization code, and the same refresh token, redeemed at the same moment through both hosts gives
    exactly one success (the losers are reuse: the winner's tokens die too);
  * a key rotated with one host's tokenctl signs on the other within a second; a client added and a user disabled
    through one host are seen by the other within a second;
  * a lockout counts failures from both hosts and holds on both;
  * PostgreSQL stopped under load: grant requests that need the database answer 503 temporarily_unavailable with
    Retry-After and Cache-Control: no-store, client_credentials JWTs (cached configuration), discovery and JWKS keep
    answering 200, no worker crashes (no 502, every worker exits 0 at the end), and both hosts serve grants again
    once PostgreSQL is back.
"""

import concurrent.futures
import json
import secrets
import subprocess
import sys
import threading
import time
import unittest

import harness
import pg_cluster
from harness import Browser, Deployment, hashed_secret, pkce_pair, split_redirect

SECRET = "app-s3cret"
CB = "https://app.example/cb"
TOKEN = "/connect/token"
# The documented guarantee (docs/postgresql.md): a configuration change (key, client) committed through one host is
# served by every worker of every host to each request that reaches it a second or more after the commit (each
# worker's reload thread asks for the configuration generation twice a second and rebuilds, milliseconds for this
# test's configuration, while requests are answered with the previous one); a user change, at once. The tests check
# exactly that, by when each request was sent, so the time a request takes on a busy machine does not count against
# the guarantee.
CONFIG_SEEN_WITHIN = 1.0


def configuration():
    web = {"ClientId": "web", "ClientSecrets": [hashed_secret(SECRET)],
           "AllowedGrantTypes": ["authorization_code", "password", "refresh_token"], "RedirectUris": [CB],
           "AllowedScopes": ["openid", "api1"], "AllowOfflineAccess": True}
    return {
        "Clients": [web,
                    {"ClientId": "m2m", "ClientSecrets": [hashed_secret(SECRET)],
                     "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"]}],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]}],
        "Users": [{"SubjectId": f"s-{name}", "Username": name, "Password": f"{name}-Pass-1"}
                  for name in ("alice", "bob", "carol", "dave")],
    }


SETTINGS = {"access_token_signing_alg": "ES256", "login_providers": "remote_user local",
            "password_hash_memory_kib": 1024, "password_hash_iterations": 1,
            "refresh_token_reuse_grace_seconds": 0, "lockout_max_failures": 3, "lockout_seconds": 300}
WORKERS_PER_HOST = 2


class MultiHostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pg_cluster.PgCluster().start()
        try:
            uri = cls.cluster.create_database()
            cls.a = Deployment(configuration(), workers=WORKERS_PER_HOST, remote_user_header=True, database=uri,
                               **SETTINGS).start()
            cls.b = Deployment(None, workers=WORKERS_PER_HOST, remote_user_header=True, database=uri, provision=False,
                               issuer=cls.a.issuer, **SETTINGS).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for name in ("b", "a"):
                if hasattr(cls, name):
                    getattr(cls, name).stop()
        finally:
            cls.cluster.destroy()

    # -- helpers ----------------------------------------------------------------------------------------------------

    def password(self, host, user, password=None, client=("web", SECRET), scope="api1 offline_access"):
        return host.post_form(TOKEN, {"grant_type": "password", "username": user,
                                      "password": password or f"{user}-Pass-1", "scope": scope}, auth=client)

    def client_credentials(self, host, client=("m2m", SECRET)):
        return host.post_form(TOKEN, {"grant_type": "client_credentials", "scope": "api1"}, auth=client)

    @staticmethod
    def authorize_params(challenge):
        return {"client_id": "web", "redirect_uri": CB, "response_type": "code", "scope": "openid api1 offline_access",
                "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256"}

    def code(self, host):
        verifier, challenge = pkce_pair()
        r = Browser(host, remote_user="alice").get("/connect/authorize", params=self.authorize_params(challenge))
        self.assertEqual(r.status, 302, r)
        _, got = split_redirect(r.headers["Location"])
        return got["code"], verifier

    def race(self, requests_per_host, send):
        """send(host) from requests_per_host threads per host, all released at once; the responses."""
        hosts = [self.a, self.b] * requests_per_host
        barrier = threading.Barrier(len(hosts))

        def one(host):
            barrier.wait()
            return send(host)

        with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
            return list(pool.map(one, hosts))

    def served_within(self, what, guarantee, check, polls_after=8):
        """The change `what` committed before this call (the tokenctl that made it has returned). Sends check() (True
        when the answer shows the change) every 50 ms and fails if a request sent `guarantee` seconds or more after
        the call was answered without the change; stops once `polls_after` such requests have answered. Returns the
        time from the call to the sending of the first request answered with the change, and prints it."""
        committed = time.monotonic()
        first = None
        after = 0
        slowest = 0.0
        while after < polls_after:
            sent = time.monotonic() - committed
            seen = check()
            slowest = max(slowest, time.monotonic() - committed - sent)
            if seen and first is None:
                first = sent
            if sent >= guarantee:
                self.assertTrue(seen, f"{what}: a request sent {sent:.2f}s after the change was answered without it")
                after += 1
            self.assertLess(sent, guarantee + 120, f"{what}: the polls stopped answering")
            time.sleep(0.05)
        print(f"{what}: first seen by a request sent {first:.2f}s after the change (guarantee {guarantee:.1f}s; "
              f"slowest poll {slowest:.2f}s)", file=sys.stderr)
        return first

    # -- one-time grants across hosts -------------------------------------------------------------------------------

    def test_a_code_redeemed_through_both_hosts_at_once_has_one_winner(self):
        for _ in range(3):
            code, verifier = self.code(self.a)
            results = self.race(4, lambda h: h.post_form(TOKEN, {
                "grant_type": "authorization_code", "code": code, "redirect_uri": CB, "code_verifier": verifier},
                auth=("web", SECRET)))
            winners = [r for r in results if r.status == 200]
            self.assertEqual(len(winners), 1, results)
            for r in results:
                if r.status != 200:
                    self.assertEqual((r.status, r.json["error"]), (400, "invalid_grant"), r)
            # The losers were reuse: the winner's refresh token is dead on both hosts.
            refresh = winners[0].json["refresh_token"]
            for host in (self.a, self.b):
                r = host.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": refresh},
                                   auth=("web", SECRET))
                self.assertEqual(r.status, 400, r)

    def test_a_refresh_token_redeemed_through_both_hosts_at_once_has_one_winner(self):
        for _ in range(3):
            r = self.password(self.b, "carol")
            self.assertEqual(r.status, 200, r)
            refresh = r.json["refresh_token"]
            results = self.race(4, lambda h: h.post_form(
                TOKEN, {"grant_type": "refresh_token", "refresh_token": refresh}, auth=("web", SECRET)))
            winners = [r for r in results if r.status == 200]
            self.assertEqual(len(winners), 1, results)
            for r in results:
                if r.status != 200:
                    self.assertEqual((r.status, r.json["error"]), (400, "invalid_grant"), r)

    def test_a_refresh_token_issued_by_one_host_rotates_on_the_other(self):
        r = self.password(self.a, "carol")
        self.assertEqual(r.status, 200, r)
        r = self.b.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": r.json["refresh_token"]},
                             auth=("web", SECRET))
        self.assertEqual(r.status, 200, r)
        self.a.verify_access_token(r.json["access_token"], audience="api-main")

    # -- configuration and users across hosts -----------------------------------------------------------------------

    def test_a_key_rotated_through_one_host_signs_on_the_other_within_a_second(self):
        def kid(host):
            r = self.client_credentials(host)
            self.assertEqual(r.status, 200, r)
            return harness.unverified_header(r.json["access_token"])["kid"]

        before = kid(self.b)
        self.a.tokenctl("key", "generate", "--alg", "ES256")
        self.a.tokenctl("key", "rotate", "--alg", "ES256")
        keys = json.loads(self.a.tokenctl("--json", "key", "list").stdout)
        current = [k["kid"] for k in keys if k["state"] == "current" and k["alg"] == "ES256"]
        self.assertEqual(len(current), 1, keys)
        self.assertNotEqual(current[0], before)
        self.served_within("the rotated key on host B", CONFIG_SEEN_WITHIN,
                           lambda: kid(self.b) == current[0])
        # Host A's own workers load it within the second too; then tokens of either host verify with the other's JWKS.
        self.served_within("the rotated key in host A's JWKS", CONFIG_SEEN_WITHIN,
                           lambda: current[0] in {k["kid"] for k in self.a.jwks()["keys"]})
        r = self.client_credentials(self.b)
        self.a.verify_access_token(r.json["access_token"], audience="api-main")
        r = self.client_credentials(self.a)
        self.b.verify_access_token(r.json["access_token"], audience="api-main")

    def test_a_client_added_through_one_host_works_on_the_other_within_a_second(self):
        added = json.loads(self.a.tokenctl("--json", "client", "add", "late", "--grant", "client_credentials",
                                           "--scope", "api1", "--generate-secret").stdout)
        secret = added["client_secret"]
        self.served_within("the new client on host B", CONFIG_SEEN_WITHIN,
                           lambda: self.client_credentials(self.b, ("late", secret)).status == 200)

    def test_a_user_disabled_through_one_host_is_refused_by_the_other_within_a_second(self):
        self.assertEqual(self.password(self.b, "dave").status, 200)
        self.a.tokenctl("user", "disable", "--username", "dave")
        self.served_within("the disabled user on host B", 0.0, lambda: self.password(self.b, "dave").status == 400)
        self.assertEqual(self.password(self.b, "dave").json["error"], "invalid_grant")

    def test_a_lockout_counts_failures_from_both_hosts_and_holds_on_both(self):
        for host in (self.a, self.b, self.a):   # lockout_max_failures = 3, spread over the hosts
            r = self.password(host, "bob", "wrong-password")
            self.assertEqual((r.status, r.json["error"]), (400, "invalid_grant"), r)
        for host in (self.a, self.b):
            r = self.password(host, "bob")   # the right password, refused while locked
            self.assertEqual((r.status, r.json["error"]), (400, "invalid_grant"), r)
        shown = json.loads(self.b.tokenctl("--json", "user", "show", "--username", "bob").stdout)
        self.assertIn("LockoutEnd", json.dumps(shown))

    # -- PostgreSQL going away under load ---------------------------------------------------------------------------

    def userinfo(self, host, token):
        return host.get("/connect/userinfo", headers={"Authorization": "Bearer " + token})

    def assertUnavailable(self, r, html=False):
        """A 503 that says to come back: Retry-After, no-store, and temporarily_unavailable (JSON) or a page."""
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.headers.get("Retry-After", "").isdigit(), r.headers)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r.headers)
        if html:
            self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"), r.headers)
            self.assertIn("temporarily unavailable", r.text)
        else:
            self.assertEqual(r.json["error"], "temporarily_unavailable", r)

    def test_zz_postgresql_stopped_under_load(self):
        """Runs last (the name): it stops and restarts the cluster."""
        stop = threading.Event()
        seen = {"password": {}, "client_credentials": {}}
        bad = []
        lock = threading.Lock()

        def load(host, kind):
            while not stop.is_set():
                r = self.password(host, "alice") if kind == "password" else self.client_credentials(host)
                with lock:
                    seen[kind][r.status] = seen[kind].get(r.status, 0) + 1
                    if r.status not in (200, 503):
                        bad.append((kind, r))
                    elif r.status == 503:
                        if (r.json.get("error") != "temporarily_unavailable" or not r.headers.get("Retry-After")
                                or r.headers.get("Cache-Control") != "no-store"):
                            bad.append((kind, r))

        openid = {h: self.password(h, "carol", scope="openid api1").json["access_token"] for h in (self.a, self.b)}
        threads = [threading.Thread(target=load, args=(h, k)) for h in (self.a, self.b)
                   for k in ("password", "client_credentials")]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            self.cluster.stop("immediate")
            # While PostgreSQL is gone: grant requests that need it answer 503, the rest keeps working.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                r = self.password(self.a, "alice")
                if r.status == 503:
                    break
                time.sleep(0.1)
            for host in (self.a, self.b):
                r = self.password(host, "alice")
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.json["error"], "temporarily_unavailable", r)
                self.assertTrue(r.headers.get("Retry-After", "").isdigit(), r.headers)
                r = self.client_credentials(host)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(host.jwks()["keys"] != [], True)
                host.discovery()
                # The browser pages (here a sign-in through remote_user, which reads the user) and userinfo: a 503
                # that says to come back, never a 500.
                _, challenge = pkce_pair()
                self.assertUnavailable(Browser(host, remote_user="alice").get(
                    "/connect/authorize", params=self.authorize_params(challenge)), html=True)
                self.assertUnavailable(self.userinfo(host, openid[host]))
            time.sleep(2)
            self.cluster.start()
            # Back: both hosts serve grants again (each worker reconnects by itself, after its backoff). One 200 says
            # only that one worker is back: nginx takes turns between a host's workers, so wait for several in a row.
            for host in (self.a, self.b):
                deadline = time.monotonic() + 30
                while (not all(self.password(host, "alice").status == 200 for _ in range(2 * WORKERS_PER_HOST))
                       and time.monotonic() < deadline):
                    time.sleep(0.2)
                self.assertEqual(self.password(host, "alice").status, 200)
                self.assertEqual(self.userinfo(host, openid[host]).status, 200)
                self.code(host)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(bad, [], f"answers other than 200 and a proper 503: {bad[:5]}; counts {seen}")
        self.assertGreater(seen["password"].get(503, 0), 0, seen)
        self.assertGreater(seen["password"].get(200, 0), 0, seen)
        self.assertEqual(seen["client_credentials"].get(503, 0), 0, seen)
        for host in (self.a, self.b):
            self.assertNotIn("password=", host.read_worker_logs())

    def test_zzz_workers_started_while_postgresql_is_down_serve_once_it_is_up(self):
        """Runs after the outage test: host B's workers are restarted while the server is stopped."""
        token = self.password(self.b, "carol", scope="openid api1").json["access_token"]
        self.cluster.stop("fast")
        try:
            r = subprocess.run([harness.binary("tokenfcgi"), "--config", self.b.config_path, "--check-config"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("database postgresql://", r.stderr)
            self.b._stop_processes()
            mark = self.b.log_mark()
            self.b._start_workers()   # they start, and listen, without the database
            self.b._start_nginx()
            # No configuration yet: everything that needs it answers 503, discovery and JWKS included (an empty key
            # set would tell resource servers that no key is valid).
            self.assertUnavailable(self.client_credentials(self.b))
            self.assertUnavailable(self.password(self.b, "alice"))
            self.assertUnavailable(self.b.get("/.well-known/openid-configuration"))
            self.assertUnavailable(self.b.get("/.well-known/openid-configuration/jwks"))
            self.assertUnavailable(self.userinfo(self.b, token))
            _, challenge = pkce_pair()
            self.assertUnavailable(Browser(self.b).get("/connect/authorize", params=self.authorize_params(challenge)),
                                   html=True)
            for proc in self.b.workers:
                self.assertIsNone(proc.poll(), "a worker exited without its database")
            logs = self.b.logs_since(mark)
            self.assertIn("cannot be reached", logs)
            self.assertNotIn("password=", logs)
        finally:
            self.cluster.start()
        # Back: every worker connects by itself (its next attempt comes within the 5 s backoff cap).
        started = time.monotonic()
        in_a_row = 0
        while in_a_row < 8:
            r = self.client_credentials(self.b)
            in_a_row = in_a_row + 1 if r.status == 200 else 0
            self.assertLess(time.monotonic() - started, 15, f"host B still answers {r.status} 15 s after the restart")
            time.sleep(0.1)
        print(f"workers started without the database: serving {time.monotonic() - started:.1f}s after it started",
              file=sys.stderr)
        self.assertEqual(self.password(self.b, "alice").status, 200)
        self.assertEqual(self.userinfo(self.b, token).status, 200)
        self.assertEqual(self.b.get("/.well-known/openid-configuration/jwks").status, 200)


if __name__ == "__main__":
    harness.require()
    if not pg_cluster.available():
        print("SKIP: missing " + ", ".join(pg_cluster.missing()), file=sys.stderr)
        sys.exit(harness.SKIP)
    harness.main()
