"""The token endpoint, discovery and JWKS over real HTTP: nginx -> tokenfcgi workers -> LMDB.

Every access token is verified by python3-jwt against the JWKS the service publishes, never by our own code.
REDIRECT_HTTP_AUTHORIZATION cannot be produced through nginx (it is an Apache rewrite artefact); the unit tests of
the FastCGI adapter cover it.
"""

import json
import secrets
import time
import unittest

import harness
from harness import Deployment, basic_auth, hashed_secret, jwk_thumbprint

SECRET = "s3cret-Value_1.~"
SPECIAL_ID = "svc:a b/é"
SPECIAL_SECRET = "p:w d+%&=é"
LIFETIME = 1234
ALGS = ("ES256", "EdDSA", "RS256", "PS256")
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def client(client_id, scopes, **extra):
    c = {"ClientId": client_id, "ClientSecrets": [hashed_secret(SECRET)],
         "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": list(scopes)}
    c.update(extra)
    return c


def configuration():
    clients = [
        client("m2m", ["api1", "api2", "openid"], AccessTokenLifetime=LIFETIME, AllowOfflineAccess=True,
               Claims=[{"Type": "role", "Value": "reader"}]),
        client("m2m-prefix", ["api1"], Claims=[{"Type": "tier", "Value": "gold"}], ClientClaimsPrefix="x_"),
        client("m2m-orphan", ["orphan"]),
        client("log-client", ["api1"]),
        client("disabled", ["api1"], Enabled=False),
        {**client("expired", ["api1"]), "ClientSecrets": [hashed_secret(SECRET, expiration="2001-01-01T00:00:00Z")]},
        {**client("sha512", ["api1"]), "ClientSecrets": [hashed_secret(SECRET, digest="sha512")]},
        {**client(SPECIAL_ID, ["api1"]), "ClientSecrets": [hashed_secret(SPECIAL_SECRET)]},
        {"ClientId": "public", "RequireClientSecret": False, "AllowedGrantTypes": ["client_credentials"],
         "AllowedScopes": ["api1"]},
        client("code-only", ["api1"], AllowedGrantTypes=["authorization_code"],
               RedirectUris=["https://app.example/cb"]),
    ]
    clients += [client(f"alg-{alg}", [f"scope.{alg}"]) for alg in ALGS]
    scopes = [{"Name": n} for n in ("api1", "api2", "api3", "orphan")]
    scopes.append({"Name": "hidden", "ShowInDiscoveryDocument": False})
    scopes += [{"Name": f"scope.{alg}"} for alg in ALGS]
    resources = [
        {"Name": "api-main", "Scopes": ["api1", "api2"]},
        {"Name": "api-other", "Scopes": ["api2", "api3"]},
        {"Name": "api-hidden", "Scopes": ["hidden"]},
    ]
    resources += [{"Name": f"res-{alg}", "Scopes": [f"scope.{alg}"], "AllowedAccessTokenSigningAlgorithms": [alg]}
                  for alg in ALGS]
    identity = [{"Name": "openid", "UserClaims": ["sub"]}, {"Name": "profile", "UserClaims": ["name"]}]
    return {"Clients": clients, "ApiScopes": scopes, "ApiResources": resources, "IdentityResources": identity}


def as_list(aud):
    return aud if isinstance(aud, list) else [aud]


class TokenEndpointTest(unittest.TestCase):
    """One deployment (2 workers, default signing alg ES256, keys for all four algorithms) shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=2, access_token_signing_alg="ES256",
                           key_algs=("EdDSA", "RS256", "PS256"))
        cls.d.start()
        cls.issued = []  # every access token seen, to check none reaches the log

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    # -- helpers --------------------------------------------------------------------------------------------------

    def token(self, client_id="m2m", secret=SECRET, scope=None, via="basic", expect=200, **extra):
        fields = {"grant_type": "client_credentials"}
        if scope is not None:
            fields["scope"] = scope
        fields.update(extra)
        auth = None
        if via == "basic":
            auth = (client_id, secret)
        else:
            fields["client_id"] = client_id
            fields["client_secret"] = secret
        r = self.d.post_form("/connect/token", fields, auth=auth)
        self.assertEqual(r.status, expect, r)
        if r.status == 200:
            self.issued.append(r.json["access_token"])
        return r

    def assertJsonNoStore(self, r):
        self.assertEqual(r.headers.get("Content-Type", "").split(";")[0].strip().lower(), "application/json", r)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r)
        self.assertEqual(r.headers.get("Pragma"), "no-cache", r)
        return r.json

    def assertOAuthError(self, r, status, error):
        self.assertEqual(r.status, status, r)
        body = self.assertJsonNoStore(r)
        self.assertEqual(body.get("error"), error, r)
        return body

    def post_raw(self, body, content_type=harness.FORM, auth=("m2m", SECRET), headers=None, path="/connect/token"):
        return self.d.post_form(path, body=body, content_type=content_type, auth=auth, headers=headers)

    # -- success --------------------------------------------------------------------------------------------------

    def test_client_credentials_basic(self):
        before = int(time.time())
        r = self.token(scope="api1")
        body = self.assertJsonNoStore(r)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertIs(type(body["expires_in"]), int)
        self.assertEqual(body["expires_in"], LIFETIME)
        self.assertEqual(body["scope"], "api1")
        self.assertNotIn("refresh_token", body)

        header, claims = self.d.verify_access_token(body["access_token"], audience="api-main")
        self.assertEqual(header["typ"], "at+jwt")
        self.assertEqual(header["alg"], "ES256")  # access_token_signing_alg from the configuration
        jwk = {k["kid"]: k for k in self.d.jwks()["keys"]}[header["kid"]]
        self.assertEqual(header["kid"], jwk_thumbprint(jwk))
        self.assertEqual(claims["iss"], self.d.issuer)
        self.assertEqual(claims["sub"], "m2m")
        self.assertEqual(claims["client_id"], "m2m")
        self.assertEqual(as_list(claims["aud"]), ["api-main"])
        self.assertEqual(claims["scope"], "api1")
        self.assertLessEqual(before - 5, claims["iat"])
        self.assertLessEqual(claims["iat"], int(time.time()) + 5)
        self.assertLessEqual(claims["nbf"], claims["iat"])
        self.assertEqual(claims["exp"] - claims["iat"], LIFETIME)
        self.assertGreaterEqual(len(claims["jti"]), 22)  # 128 bits or more
        self.assertEqual(claims["client_role"], "reader")

    def test_client_credentials_body_credentials(self):
        r = self.token(scope="api1", via="body")
        _, claims = self.d.verify_access_token(r.json["access_token"], audience="api-main")
        self.assertEqual(claims["client_id"], "m2m")

    def test_jti_is_unique(self):
        a = self.d.verify_access_token(self.token(scope="api1").json["access_token"])[1]
        b = self.d.verify_access_token(self.token(scope="api1").json["access_token"])[1]
        self.assertNotEqual(a["jti"], b["jti"])

    def test_omitted_scope_means_all_allowed_api_scopes(self):
        body = self.token().json
        self.assertEqual(set(body["scope"].split(" ")), {"api1", "api2"})  # not openid
        _, claims = self.d.verify_access_token(body["access_token"])
        self.assertIsInstance(claims["scope"], str)
        self.assertEqual(set(claims["scope"].split(" ")), {"api1", "api2"})
        self.assertEqual(set(as_list(claims["aud"])), {"api-main", "api-other"})

    def test_empty_scope_counts_as_absent(self):
        body = self.token(scope="").json
        self.assertEqual(set(body["scope"].split(" ")), {"api1", "api2"})

    def test_plus_is_space_in_form(self):
        r = self.post_raw("grant_type=client_credentials&scope=api1+api2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json["scope"].split(" ")), {"api1", "api2"})

    def test_audience_when_no_api_resource(self):
        body = self.token("m2m-orphan", scope="orphan").json
        _, claims = self.d.verify_access_token(body["access_token"])
        self.assertEqual(as_list(claims["aud"]), [self.d.issuer + "/resources"])

    def test_client_claims_prefix(self):
        body = self.token("m2m-prefix").json
        _, claims = self.d.verify_access_token(body["access_token"])
        self.assertEqual(claims.get("x_tier"), "gold")
        self.assertNotIn("client_tier", claims)

    def test_every_signing_algorithm(self):
        for alg in ALGS:
            with self.subTest(alg=alg):
                body = self.token(f"alg-{alg}").json
                header, claims = self.d.verify_access_token(body["access_token"], audience=f"res-{alg}")
                self.assertEqual(header["alg"], alg)
                self.assertEqual(header["typ"], "at+jwt")
                self.assertEqual(claims["sub"], f"alg-{alg}")

    def test_sha512_secret(self):
        self.token("sha512", scope="api1")

    def test_basic_scheme_is_case_insensitive(self):
        for scheme in ("basic", "BASIC", "bAsIc"):
            with self.subTest(scheme=scheme):
                r = self.post_raw("grant_type=client_credentials", auth=None,
                                  headers={"Authorization": basic_auth("m2m", SECRET, scheme=scheme)})
                self.assertEqual(r.status, 200, r)

    def test_basic_credentials_are_form_urldecoded(self):
        body = self.token(SPECIAL_ID, SPECIAL_SECRET).json
        _, claims = self.d.verify_access_token(body["access_token"])
        self.assertEqual(claims["client_id"], SPECIAL_ID)
        # Unreserved characters need no encoding: a client that forgets to encode still works.
        r = self.post_raw("grant_type=client_credentials", auth=None,
                          headers={"Authorization": basic_auth("m2m", SECRET, encode=False)})
        self.assertEqual(r.status, 200, r)

    def test_charset_parameter_and_media_type_case(self):
        for ct in ("application/x-www-form-urlencoded; charset=UTF-8", "Application/X-WWW-Form-URLEncoded",
                   "application/x-www-form-urlencoded;charset=utf-8"):
            with self.subTest(content_type=ct):
                self.assertEqual(self.post_raw("grant_type=client_credentials", content_type=ct).status, 200)

    def test_query_string_parameters_are_ignored(self):
        r = self.post_raw("scope=api1", path="/connect/token?grant_type=client_credentials")
        self.assertOAuthError(r, 400, "invalid_request")
        r = self.post_raw("grant_type=client_credentials&scope=api1", path="/connect/token?scope=nope&scope=api2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "api1")

    # -- grant and scope errors -----------------------------------------------------------------------------------

    def test_missing_grant_type(self):
        self.assertOAuthError(self.post_raw("scope=api1"), 400, "invalid_request")
        self.assertOAuthError(self.post_raw("grant_type=&scope=api1"), 400, "invalid_request")

    def test_unsupported_grant_type(self):
        self.assertOAuthError(self.post_raw("grant_type=urn%3Aexample%3Anope"), 400, "unsupported_grant_type")

    def test_unauthorized_client(self):
        r = self.post_raw("grant_type=client_credentials", auth=("code-only", SECRET))
        self.assertOAuthError(r, 400, "unauthorized_client")
        r = self.post_raw("grant_type=client_credentials&client_id=public", auth=None)
        self.assertOAuthError(r, 400, "unauthorized_client")

    def test_invalid_scope(self):
        for scope in ("nope", "api3", "openid", "offline_access", "api1 openid", "api1 nope", "hidden"):
            with self.subTest(scope=scope):
                self.assertOAuthError(self.token(scope=scope, expect=400), 400, "invalid_scope")

    # -- client authentication ------------------------------------------------------------------------------------

    def test_invalid_client_answers_are_identical(self):
        cases = {
            "unknown client": ("no-such-client", SECRET),
            "wrong secret": ("m2m", SECRET + "x"),
            "disabled client": ("disabled", SECRET),
            "expired secret": ("expired", SECRET),
        }
        answers = {}
        for name, (cid, secret) in cases.items():
            with self.subTest(case=name):
                r = self.post_raw("grant_type=client_credentials", auth=(cid, secret))
                self.assertOAuthError(r, 401, "invalid_client")
                self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith('Basic realm="'), r.headers)
                answers[name] = (r.body, r.headers.get("WWW-Authenticate"))
        self.assertEqual(len(set(answers.values())), 1, answers)
        # The same through body credentials, and with no credentials at all: still 401 with WWW-Authenticate.
        for cid, secret in cases.values():
            r = self.post_raw(f"grant_type=client_credentials&client_id={cid}&client_secret={secret}", auth=None)
            self.assertOAuthError(r, 401, "invalid_client")
            self.assertIn("WWW-Authenticate", r.headers)
        r = self.post_raw("grant_type=client_credentials", auth=None)
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertIn("WWW-Authenticate", r.headers)

    def test_two_authentication_methods(self):
        r = self.post_raw(f"grant_type=client_credentials&client_secret={SECRET}")
        self.assertOAuthError(r, 400, "invalid_request")

    def test_body_client_id_differs_from_basic(self):
        r = self.post_raw("grant_type=client_credentials&client_id=m2m-prefix")
        self.assertOAuthError(r, 400, "invalid_request")

    # -- request decoding -----------------------------------------------------------------------------------------

    def test_duplicate_parameter(self):
        for body in ("grant_type=client_credentials&grant_type=client_credentials",
                     "grant_type=client_credentials&scope=api1&scope=api1"):
            with self.subTest(body=body):
                self.assertOAuthError(self.post_raw(body), 400, "invalid_request")

    def test_strict_form_decoding(self):
        bad = {
            "bad hex": b"grant_type=client_credentials&scope=api%zz",
            "truncated escape": b"grant_type=client_credentials&scope=api%2",
            "escaped NUL": b"grant_type=client_credentials&scope=api1%00",
            "raw NUL": b"grant_type=client_credentials&scope=api1\x00",
            "escaped 0xFF": b"grant_type=client_credentials&scope=api%FF",
            "raw 0xFF": b"grant_type=client_credentials&scope=api\xff",
            "bad continuation": b"grant_type=client_credentials&scope=api%C3%28",
            "overlong": b"grant_type=client_credentials&scope=api%C0%AF",
            "surrogate": b"grant_type=client_credentials&scope=api%ED%A0%80",
        }
        for name, body in bad.items():
            with self.subTest(case=name):
                self.assertOAuthError(self.post_raw(body), 400, "invalid_request")

    def test_too_many_parameters(self):
        body = "grant_type=client_credentials&" + "&".join(f"p{i}=x" for i in range(70))
        self.assertOAuthError(self.post_raw(body), 400, "invalid_request")

    def test_wrong_content_type(self):
        for ct in ("text/plain", "application/json", "multipart/form-data; boundary=x",
                   "application/x-www-form-urlencodedx", None):
            with self.subTest(content_type=ct):
                self.assertOAuthError(self.post_raw("grant_type=client_credentials", content_type=ct),
                                      400, "invalid_request")

    def test_body_over_max_body_bytes(self):
        prefix = "grant_type=client_credentials&pad="
        r = self.post_raw(prefix + "a" * (64 * 1024 + 1 - len(prefix)))
        self.assertEqual(r.status, 413, r)
        # Exactly at the limit is decoded (and fails on its merits, not its size).
        r = self.post_raw(prefix + "a" * (64 * 1024 - len(prefix)))
        self.assertEqual(r.status, 200, r)

    # -- routing --------------------------------------------------------------------------------------------------

    def test_wrong_method(self):
        r = self.d.get("/connect/token")
        self.assertEqual(r.status, 405, r)
        self.assertIn("POST", r.headers.get("Allow", ""))
        r = self.d.post_form("/.well-known/openid-configuration", {"a": "b"})
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers.get("Allow", ""))

    def test_unknown_path(self):
        for path in ("/nope", "/connect/token/extra", "/auth/connect/token", "/connect/tokenx"):
            with self.subTest(path=path):
                r = self.d.get(path)
                self.assertEqual(r.status, 404, r)
                self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"), r.headers)
                self.assertIsInstance(r.json, dict)

    # -- discovery and keys ---------------------------------------------------------------------------------------

    def test_discovery(self):
        doc = self.d.discovery()
        iss = self.d.issuer
        self.assertEqual(doc["issuer"], iss)
        self.assertEqual(doc["token_endpoint"], iss + "/connect/token")
        self.assertEqual(doc["jwks_uri"], iss + "/.well-known/openid-configuration/jwks")
        self.assertIn("client_credentials", doc["grant_types_supported"])
        self.assertLessEqual({"client_secret_basic", "client_secret_post"},
                             set(doc["token_endpoint_auth_methods_supported"]))
        self.assertLessEqual({"api1", "api2", "api3", "orphan"}, set(doc["scopes_supported"]))
        self.assertNotIn("hidden", doc["scopes_supported"])  # ShowInDiscoveryDocument: false
        # A forged Host header changes nothing: URLs come from the configured issuer.
        r = self.d.get("/.well-known/openid-configuration", headers={"Host": "evil.example"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, doc)

    def test_jwks(self):
        keys = self.d.jwks()["keys"]
        self.assertLessEqual(set(ALGS), {k["alg"] for k in keys})
        for k in keys:
            with self.subTest(kid=k["kid"]):
                self.assertEqual(k["kid"], jwk_thumbprint(k))
                self.assertEqual(k.get("use"), "sig")
                self.assertFalse(PRIVATE_JWK_MEMBERS & set(k), k)

    def key_states(self):
        return {k["kid"]: k["state"] for k in json.loads(self.d.tokenctl("key", "list", "--json").stdout)}

    def test_key_rotation_reaches_running_workers(self):
        def kid_of_new_token():
            return harness.unverified_header(self.token("alg-EdDSA").json["access_token"])["kid"]

        def wait_for(predicate, what):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if predicate():
                    return
                time.sleep(0.1)
            self.fail(f"not seen within 30 s: {what}")

        old_kid = kid_of_new_token()
        before = {k["kid"] for k in self.d.jwks()["keys"]}
        self.d.tokenctl("key", "generate", "--alg", "EdDSA")
        new_kids = set()

        def published():
            new_kids.update({k["kid"] for k in self.d.jwks()["keys"]} - before)
            return bool(new_kids)
        wait_for(published, "the next key in the JWKS of every worker")
        self.assertEqual(len(new_kids), 1, new_kids)
        new_kid = new_kids.pop()
        self.assertEqual(self.key_states(), {**self.key_states(), old_kid: "current", new_kid: "next"})
        # Both workers publish it (nginx alternates between them), and neither signs with it yet.
        for _ in range(4):
            self.assertIn(new_kid, {k["kid"] for k in self.d.jwks()["keys"]})
            self.assertEqual(kid_of_new_token(), old_kid)

        self.d.tokenctl("key", "rotate", "--alg", "EdDSA")
        states = self.key_states()
        self.assertEqual(states[new_kid], "current")
        self.assertNotEqual(states[old_kid], "current")
        wait_for(lambda: all(kid_of_new_token() == new_kid for _ in range(4)), "tokens signed with the new key")
        self.d.verify_access_token(self.token("alg-EdDSA").json["access_token"], audience="res-EdDSA")
        self.assertIn(old_kid, {k["kid"] for k in self.d.jwks()["keys"]})  # the old key stays published

    # -- logging (named to run last, so it sees what the other tests did) ----------------------------------------

    def test_zz_worker_log(self):
        probe = "probe-" + secrets.token_hex(4)
        wrong = "wrong-" + secrets.token_hex(8)
        for _ in range(3):
            self.post_raw("grant_type=client_credentials", auth=(probe, wrong))
        for _ in range(2):
            self.token("log-client", scope="api1")

        def lines_with(word):
            return [line for line in self.d.read_worker_logs().splitlines() if word in line]

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(lines_with(probe)) < 3 or len(lines_with("log-client")) < 2):
            time.sleep(0.05)
        log = self.d.read_worker_logs()
        for secret in (SECRET, SPECIAL_SECRET, wrong, basic_auth("m2m", SECRET).split(" ")[1]):
            self.assertNotIn(secret, log)
        self.assertTrue(self.issued)
        for token in self.issued:
            self.assertNotIn(token, log)
            self.assertNotIn(token.split(".")[2], log)
        failed, ok = lines_with(probe), lines_with("log-client")
        self.assertEqual(len(ok), 2, ok)
        for line in ok:
            self.assertIn("POST", line)
            self.assertIn("client_credentials", line)
            self.assertRegex(line, r"\b200\b")
            self.assertRegex(line, r"\bok\b")

        # A failed authentication is logged with the client id it claimed.
        self.assertEqual(len(failed), 3, failed)
        for line in failed:
            self.assertRegex(line, r"\binvalid_client\b")
            self.assertRegex(line, r"\b401\b")
            self.assertIn("/connect/token", line)


class BasePathTest(unittest.TestCase):
    """base_path prefixes every endpoint; the default signing algorithm is RS256."""

    def test_base_path(self):
        data = {"Clients": [client("m2m", ["api1"])], "ApiScopes": [{"Name": "api1"}],
                "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}]}
        with Deployment(data, workers=1, base_path="/auth") as d:
            doc = d.discovery()
            self.assertEqual(doc["issuer"], d.issuer)
            self.assertEqual(doc["token_endpoint"], d.issuer + "/auth/connect/token")
            self.assertEqual(doc["jwks_uri"], d.issuer + "/auth/.well-known/openid-configuration/jwks")
            r = d.post_form("/auth/connect/token", {"grant_type": "client_credentials"}, auth=("m2m", SECRET))
            self.assertEqual(r.status, 200, r)
            header, claims = d.verify_access_token(r.json["access_token"], audience="api-main")
            self.assertEqual(header["alg"], "RS256")
            self.assertEqual(claims["iss"], d.issuer)
            for path in ("/connect/token", "/.well-known/openid-configuration"):
                with self.subTest(path=path):
                    self.assertEqual(d.get(path).status, 404)
            self.assertEqual(d.post_form("/connect/token", {"grant_type": "client_credentials"},
                                         auth=("m2m", SECRET)).status, 404)


class LimitsAndFormatsTest(unittest.TestCase):
    """Configured limits (max_body_bytes, max_form_params), nginx's own body limit, and scope as a JSON array."""

    def test_limits_and_array_scope(self):
        data = {"Clients": [client("m2m", ["api1", "api2"])], "ApiScopes": [{"Name": "api1"}, {"Name": "api2"}],
                "ApiResources": [{"Name": "api-main", "Scopes": ["api1", "api2"]}]}
        with Deployment(data, workers=1, threads=2, client_max_body_size="2k", max_body_bytes=1024,
                        max_form_params=3, scope_claim_format="array") as d:
            def post(body):
                return d.post_form("/connect/token", body=body, auth=("m2m", SECRET))
            r = post("grant_type=client_credentials")
            self.assertEqual(r.status, 200, r)
            _, claims = d.verify_access_token(r.json["access_token"], audience="api-main")
            self.assertIsInstance(claims["scope"], list)
            self.assertEqual(set(claims["scope"]), {"api1", "api2"})
            self.assertEqual(set(r.json["scope"].split(" ")), {"api1", "api2"})  # the response stays a string

            self.assertEqual(post("grant_type=client_credentials&a=1&b=2").status, 200)
            r = post("grant_type=client_credentials&a=1&b=2&c=3")
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["error"], "invalid_request")

            r = post("grant_type=client_credentials&pad=" + "a" * 1200)  # over max_body_bytes, under nginx's
            self.assertEqual(r.status, 413, r)
            self.assertNotIn("nginx", r.text)
            r = post("grant_type=client_credentials&pad=" + "a" * 3000)  # nginx's own limit answers first
            self.assertEqual(r.status, 413, r)
            self.assertIn("nginx", r.text)


class SpawnFcgiTest(unittest.TestCase):
    """The worker serves a FastCGI socket inherited on fd 0 (spawn-fcgi -n), as under spawn-fcgi or systemd."""

    def test_spawn_fcgi(self):
        if harness.find_tool("spawn-fcgi") is None:
            self.skipTest("spawn-fcgi not installed")
        data = {"Clients": [client("m2m", ["api1"])], "ApiScopes": [{"Name": "api1"}],
                "ApiResources": [{"Name": "api-main", "Scopes": ["api1"]}]}
        with Deployment(data, spawn_fcgi=True, access_token_signing_alg="EdDSA") as d:
            r = d.post_form("/connect/token", {"grant_type": "client_credentials", "scope": "api1"},
                            auth=("m2m", SECRET))
            self.assertEqual(r.status, 200, r)
            header, _ = d.verify_access_token(r.json["access_token"], audience="api-main")
            self.assertEqual(header["alg"], "EdDSA")


if __name__ == "__main__":
    harness.main()
