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
# A change made through one host is seen by the other within one second (the configuration generation is checked at
# most once per second); the rest is the time a request takes on a busy test machine.
PROPAGATION_LIMIT = 1.8


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


class MultiHostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pg_cluster.PgCluster().start()
        try:
            uri = cls.cluster.create_database()
            cls.a = Deployment(configuration(), workers=2, remote_user_header=True, database=uri, **SETTINGS).start()
            cls.b = Deployment(None, workers=2, remote_user_header=True, database=uri, provision=False,
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

    def code(self, host):
        verifier, challenge = pkce_pair()
        r = Browser(host, remote_user="alice").get("/connect/authorize", params={
            "client_id": "web", "redirect_uri": CB, "response_type": "code", "scope": "openid api1 offline_access",
            "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256"})
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

    def wait_for(self, what, check, limit=PROPAGATION_LIMIT):
        """Polls check() until it is true; fails if that took more than `limit` seconds. Returns the time taken."""
        start = time.monotonic()
        while not check():
            if time.monotonic() - start > limit + 5:
                break
            time.sleep(0.05)
        took = time.monotonic() - start
        self.assertTrue(check(), f"{what}: not seen after {took:.1f}s")
        self.assertLessEqual(took, limit, f"{what}: seen only after {took:.2f}s")
        return took

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
        self.wait_for("the rotated key on host B", lambda: kid(self.b) == current[0])
        # Host A's own workers load it within the second too; then tokens of either host verify with the other's JWKS.
        self.wait_for("the rotated key in host A's JWKS",
                      lambda: all(current[0] in {k["kid"] for k in self.a.jwks()["keys"]} for _ in range(4)))
        r = self.client_credentials(self.b)
        self.a.verify_access_token(r.json["access_token"], audience="api-main")
        r = self.client_credentials(self.a)
        self.b.verify_access_token(r.json["access_token"], audience="api-main")

    def test_a_client_added_through_one_host_works_on_the_other_within_a_second(self):
        added = json.loads(self.a.tokenctl("--json", "client", "add", "late", "--grant", "client_credentials",
                                           "--scope", "api1", "--generate-secret").stdout)
        secret = added["client_secret"]
        self.wait_for("the new client on host B",
                      lambda: self.client_credentials(self.b, ("late", secret)).status == 200)

    def test_a_user_disabled_through_one_host_is_refused_by_the_other_within_a_second(self):
        self.assertEqual(self.password(self.b, "dave").status, 200)
        self.a.tokenctl("user", "disable", "--username", "dave")
        self.wait_for("the disabled user on host B", lambda: self.password(self.b, "dave").status == 400)
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
            time.sleep(2)
            self.cluster.start()
            # Back: both hosts serve grants again (each worker reconnects by itself, after its backoff).
            for host in (self.a, self.b):
                deadline = time.monotonic() + 30
                while self.password(host, "alice").status != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                self.assertEqual(self.password(host, "alice").status, 200)
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


if __name__ == "__main__":
    harness.require()
    if not pg_cluster.available():
        print("SKIP: missing " + ", ".join(pg_cluster.missing()), file=sys.stderr)
        sys.exit(harness.SKIP)
    harness.main()
