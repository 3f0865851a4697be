"""Extension-grant plug-ins through nginx -> 2 tokenfcgi workers -> LMDB.

The example plug-in (plugins/hmac_assertion) end to end: a partner's HS256 assertion, signed here with python3-jwt
(an implementation that shares no code with the plug-in), exchanged for a token for the configured subject; its
signature, audience, expiry and replay checks; a refresh token with offline_access. A test plug-in
(tests/plugins/result_plugin.c) answers each kind of bad result: every one is a 500 server_error with a log line
naming the plug-in, and no token or grant. Plug-ins that cannot be loaded (missing file, another ABI version, a
failing init) stop the worker at start with one log line. tokenctl and discovery know the configured grant types.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import BUILD_DIR, Deployment, binary, hashed_secret

SECRET = "app-s3cret"
TOKEN = "/connect/token"
HMAC_GRANT = "urn:example:params:oauth:grant-type:hmac-assertion"
RESULT_GRANT = "urn:test:result-plugin"
PARTNER_KEY = bytes(range(32))
PARTNER = "partner-a"

HMAC_SO = os.path.join(BUILD_DIR, "plugins", "hmac_assertion", "hmac_assertion.so")
RESULT_SO = os.path.join(BUILD_DIR, "tests", "plugins", "result_plugin.so")
WRONG_ABI_SO = os.path.join(BUILD_DIR, "tests", "plugins", "wrong_abi_plugin.so")


def configuration():
    client = {"ClientSecrets": [hashed_secret(SECRET)], "AllowedScopes": ["api1", "api2"], "AllowOfflineAccess": True}
    return {
        "Clients": [
            {**client, "ClientId": "partner-app", "AllowedGrantTypes": [HMAC_GRANT]},
            {**client, "ClientId": "result-app", "AllowedGrantTypes": [RESULT_GRANT]},
            {**client, "ClientId": "other-app", "AllowedGrantTypes": ["client_credentials"]},
        ],
        "ApiScopes": [{"Name": "api1"}, {"Name": "api2"}],
        "ApiResources": [{"Name": "api-a", "Scopes": ["api1"]}, {"Name": "api-b", "Scopes": ["api2"]}],
        "Users": [{"SubjectId": "2001", "Username": "partner-service", "Password": "Unused-pass-1"}],
    }


class ExtensionGrantTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for so in (HMAC_SO, RESULT_SO, WRONG_ABI_SO):
            if not os.path.isfile(so):
                raise unittest.SkipTest(f"{so} is not built")
        cls.tmp = tempfile.mkdtemp(prefix="tokenfcgi-plugin-")
        cls.replay_dir = os.path.join(cls.tmp, "replay")
        os.mkdir(cls.replay_dir)
        cls.plugin_conf = os.path.join(cls.tmp, "partner.conf")
        with open(cls.plugin_conf, "w") as f:
            f.write("# hmac_assertion test configuration\n"
                    f"issuer = {PARTNER}   # an end-of-line comment\n"
                    "audience = tokenfcgi-test\n"
                    f"key_hex = {PARTNER_KEY.hex()}\n"
                    "subject = 2001\n"
                    f"replay_dir = {cls.replay_dir}\n"
                    "max_age = 120\n"
                    "claim = partner partner-a\n")
        os.chmod(cls.plugin_conf, 0o600)
        cls.d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024, password_hash_iterations=1,
                           extension_grant=[f"{HMAC_GRANT} {HMAC_SO} {cls.plugin_conf}",
                                            f"{RESULT_GRANT} {RESULT_SO} ready"])
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------------------------------------

    def assertion(self, key=PARTNER_KEY, **overrides):
        import jwt
        now = int(time.time())
        claims = {"iss": PARTNER, "aud": "tokenfcgi-test", "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key, algorithm="HS256")

    def redeem(self, assertion, client="partner-app", **extra):
        fields = {"grant_type": HMAC_GRANT, "assertion": assertion, **extra}
        return self.d.post_form(TOKEN, fields, auth=(client, SECRET))

    def result(self, mode, **extra):
        return self.d.post_form(TOKEN, {"grant_type": RESULT_GRANT, "mode": mode, **extra},
                                auth=("result-app", SECRET))

    def assertError(self, r, status, error, description=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"], error, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        self.assertNotIn("access_token", r.json)
        if description is not None:
            self.assertEqual(r.json.get("error_description"), description, r)

    def grant_count(self):
        return json.loads(self.d.tokenctl("--json", "stats").stdout)["grants"]

    # -- the example plug-in --------------------------------------------------------------------------------------

    def test_partner_assertion_end_to_end(self):
        r = self.redeem(self.assertion(), scope="api1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        self.assertEqual(r.json["scope"], "api1")
        self.assertNotIn("refresh_token", r.json)
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-a")
        self.assertEqual(claims["sub"], "2001")
        self.assertEqual(claims["client_id"], "partner-app")
        self.assertEqual(claims["partner"], "partner-a")
        self.assertEqual(claims["idp"], "hmac_assertion")

    def test_each_assertion_is_accepted_once(self):
        assertion = self.assertion()
        self.assertEqual(self.redeem(assertion, scope="api1").status, 200)
        for _ in range(3):  # whichever worker answers
            self.assertError(self.redeem(assertion, scope="api1"), 400, "invalid_grant",
                             "the assertion was used already")

    def test_bad_assertions(self):
        now = int(time.time())
        cases = [
            self.assertion(key=bytes(32)),                        # another key
            self.assertion(aud="someone-else"),
            self.assertion(iss="partner-b"),
            self.assertion(iat=now - 100, exp=now - 10),          # expired
            self.assertion(iat=now, exp=now + 3600),              # longer than max_age
            self.assertion(iat=now + 600, exp=now + 660),         # from the future
            self.assertion(jti=None),
            self.assertion()[:-2] + "AA",                          # signature changed
            "not-a-jws",
            "a.b.c",
        ]
        for assertion in cases:
            self.assertError(self.redeem(assertion), 400, "invalid_grant", "the assertion is not valid")
        self.assertError(self.d.post_form(TOKEN, {"grant_type": HMAC_GRANT}, auth=("partner-app", SECRET)), 400,
                         "invalid_request", "assertion is missing")

    def test_offline_access_gives_a_working_refresh_token(self):
        r = self.redeem(self.assertion(), scope="api1 offline_access")
        self.assertEqual(r.status, 200, r)
        self.assertIn("refresh_token", r.json)
        refreshed = self.d.post_form(TOKEN, {"grant_type": "refresh_token", "refresh_token": r.json["refresh_token"]},
                                     auth=("partner-app", SECRET))
        self.assertEqual(refreshed.status, 200, refreshed)
        _, claims = self.d.verify_access_token(refreshed.json["access_token"], audience="api-a")
        self.assertEqual(claims["sub"], "2001")

    def test_client_must_list_the_grant_type(self):
        self.assertError(self.redeem(self.assertion(), client="other-app"), 400, "unauthorized_client")
        self.assertError(self.redeem(self.assertion(), client="result-app"), 400, "unauthorized_client")
        self.assertError(self.redeem(self.assertion(), scope="admin"), 400, "invalid_scope")

    def test_discovery_and_tokenctl_know_the_grant_types(self):
        grant_types = self.d.discovery()["grant_types_supported"]
        self.assertIn(HMAC_GRANT, grant_types)
        self.assertIn(RESULT_GRANT, grant_types)
        self.assertIn("urn:ietf:params:oauth:grant-type:token-exchange", grant_types)
        p = self.d.tokenctl("client", "add", "partner-2", "--grant", HMAC_GRANT, "--scope", "api1")
        self.assertNotIn("unknown grant type", p.stderr)
        p = self.d.tokenctl("client", "add", "partner-3", "--grant", "urn:example:not-configured", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("unknown grant type 'urn:example:not-configured' (known: ", p.stderr)
        self.assertIn(f"{HMAC_GRANT} (extension_grant)", p.stderr)

    # -- results the worker must check ----------------------------------------------------------------------------

    def test_good_results(self):
        r = self.result("ok", scope="api1 api2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["expires_in"], 60)
        self.assertEqual(r.json["scope"], "api1 api2")
        _, claims = self.d.verify_access_token(r.json["access_token"])
        self.assertEqual(claims["sub"], "plugin-user")
        self.assertEqual(claims["partner"], "example")
        self.assertEqual(claims["exp"] - claims["iat"], 60)
        r = self.result("narrow", scope="api1 api2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "api1")
        self.assertError(self.result("denied"), 400, "invalid_grant", "the test plug-in says no")

    def test_bad_results_are_500_without_a_token(self):
        before = self.grant_count()
        for mode in ("bad_utf8", "protocol_claim", "foreign_scope", "unknown_error", "long_lifetime", "no_status"):
            mark = self.d.log_mark()
            r = self.result(mode, scope="api1 offline_access")
            self.assertError(r, 500, "server_error")
            logs = self.d.logs_since(mark)
            self.assertIn("extension grant plug-in result_plugin", logs, mode)
            self.assertIn("gave a bad result", logs, mode)
        self.assertEqual(self.grant_count(), before)  # no refresh token was stored
        r = self.result("ok", scope="api1 offline_access")  # the same request with a good result
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.grant_count(), before + 1)


class PluginCrashTest(unittest.TestCase):
    """A plug-in that crashes takes down its worker and the request in flight; the other worker serves on and the
    database holds nothing from the crashed request."""

    def test_crash_costs_one_worker_and_one_request(self):
        if not os.path.isfile(RESULT_SO):
            self.skipTest("the test plug-in is not built")
        d = Deployment(configuration(), workers=2, password_hash_memory_kib=1024, password_hash_iterations=1,
                       extension_grant=[f"{RESULT_GRANT} {RESULT_SO} ready"])
        d.start()
        try:
            def post(mode):
                return d.post_form(TOKEN, {"grant_type": RESULT_GRANT, "mode": mode, "scope": "api1 offline_access"},
                                   auth=("result-app", SECRET))
            before = json.loads(d.tokenctl("--json", "stats").stdout)["grants"]
            r = post("crash")
            self.assertEqual(r.status, 502, r)  # nginx: the upstream closed the connection
            # nginx sees the connection close while the kernel is still tearing the worker down: wait for its exit.
            deadline = time.monotonic() + 10
            while sum(1 for w in d.workers if w.poll() is not None) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(sum(1 for w in d.workers if w.poll() is not None), 1)
            self.assertEqual(json.loads(d.tokenctl("--json", "stats").stdout)["grants"], before)
            for _ in range(3):  # the surviving worker answers
                r = post("ok")
                self.assertEqual(r.status, 200, r)
            self.assertEqual(json.loads(d.tokenctl("--json", "stats").stdout)["grants"], before + 3)
        finally:
            d.stop(raise_on_problems=False)  # the crashed worker did not exit 0, as expected


class PluginLoadFailureTest(unittest.TestCase):
    """A worker whose plug-in cannot be used stops at start with one log line naming it."""

    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(RESULT_SO) or not os.path.isfile(WRONG_ABI_SO):
            raise unittest.SkipTest("the test plug-ins are not built")
        cls.tmp = tempfile.mkdtemp(prefix="tokenfcgi-plugin-load-")
        cls.db = os.path.join(cls.tmp, "db")
        os.mkdir(cls.db)
        cls.write_config("")
        subprocess.run([binary("tokenctl"), "--config", cls.config, "init"], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write_config(cls, line):
        cls.config = os.path.join(cls.tmp, "tokenfcgi.conf")
        with open(cls.config, "w") as f:
            f.write(f"issuer = http://127.0.0.1:1\ndatabase = {cls.db}\n{line}\n")

    def start_worker(self, line):
        self.write_config(line)
        sock = os.path.join(self.tmp, "w.sock")
        p = subprocess.run([binary("tokenfcgi"), "--config", self.config, "--listen", "unix:" + sock],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertFalse(os.path.exists(sock), "the worker listened before loading its plug-ins")
        return p

    def assertStopsWith(self, line, expected):
        p = self.start_worker(line)
        self.assertEqual(p.returncode, 1, p)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("cannot start: extension grant urn:test:x: ", lines[0])
        self.assertIn(expected, lines[0])

    def test_missing_file(self):
        self.assertStopsWith(f"extension_grant = urn:test:x {self.tmp}/missing.so", "missing.so: cannot load")

    def test_wrong_abi_version(self):
        self.assertStopsWith(f"extension_grant = urn:test:x {WRONG_ABI_SO}", "ABI version 2, this worker speaks 1")

    def test_not_a_plugin(self):
        self.assertStopsWith(f"extension_grant = urn:test:x {self.config}", "cannot load")

    def test_init_failure(self):
        self.assertStopsWith(f"extension_grant = urn:test:x {RESULT_SO} not-ready",
                             "init failed: the argument must be 'ready'")

    def test_check_config_loads_them_too(self):
        self.write_config(f"extension_grant = urn:test:x {WRONG_ABI_SO}")
        p = subprocess.run([binary("tokenfcgi"), "--config", self.config, "--check-config"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("ABI version 2", p.stderr)


if __name__ == "__main__":
    import harness
    harness.main()
