"""What browser applications and strict relying parties see, through a real nginx: CORS on the endpoints a browser
fetches, HEAD on discovery and the JWKS, and the discovery document checked member by member against RFC 8414 §2
and OpenID Connect Discovery 1.0 §3 (and the registered extensions: RFC 7009, 7662, 7636, 8628, 9207, OpenID Connect
Session/Front-/Back-Channel Logout).

  * CORS: a preflight OPTIONS from an origin some client lists in AllowedCorsOrigins (compared as an origin: case and
    default port do not matter) answers 204 with Access-Control-Allow-Origin (that origin exactly), -Methods,
    -Headers and -Max-Age; the POST that follows carries Access-Control-Allow-Origin and Vary: Origin; discovery and
    JWKS answer any configured origin; an unlisted origin, a disabled client's origin and a path get no CORS header;
    the authorize endpoint and its login page never send one.
  * HEAD: the Content-Length of the GET, no body (RFC 9110 §9.3.2, §8.6).
  * Discovery: every member has the type its specification gives, only registered members appear, the mandatory
    ones are present, values come from the registered sets, URLs are absolute under the issuer, arrays hold no
    duplicates; `none` and `offline_access` appear because a public client and an offline-access client exist.
"""

import json
import unittest
import urllib.parse

import harness
from harness import Browser, Deployment, hashed_secret, parse_html

SECRET = "edges-Secret-1"
SPA = "https://spa.example.com"
DISCOVERY = "/.well-known/openid-configuration"
JWKS = DISCOVERY + "/jwks"
TOKEN = "/connect/token"


def configuration():
    return {
        "Clients": [
            {"ClientId": "spa", "RequireClientSecret": False, "AllowedGrantTypes": ["authorization_code"],
             "RedirectUris": [SPA + "/callback"], "AllowedScopes": ["openid", "api1"],
             "AllowedCorsOrigins": ["HTTPS://SPA.example.com:443", "http://localhost:3000"]},
            {"ClientId": "svc", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["client_credentials"],
             "AllowedScopes": ["api1"], "AllowedCorsOrigins": ["https://tools.example.com"]},
            {"ClientId": "web", "ClientSecrets": [hashed_secret(SECRET)], "AllowedGrantTypes": ["authorization_code"],
             "RedirectUris": ["https://web.example.com/cb"], "AllowedScopes": ["openid", "profile"],
             "AllowOfflineAccess": True},
            {"ClientId": "gone", "Enabled": False, "ClientSecrets": [hashed_secret(SECRET)],
             "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"],
             "AllowedCorsOrigins": ["https://disabled.example.com"]},
        ],
        "ApiScopes": [{"Name": "api1"}],
        "ApiResources": [{"Name": "api", "Scopes": ["api1"], "ApiSecrets": [hashed_secret(SECRET)]}],
        "IdentityResources": [{"Name": "openid", "UserClaims": ["sub"]},
                              {"Name": "profile", "UserClaims": ["name", "updated_at"]}],
    }


# RFC 8414 §2, OpenID Connect Discovery §3 and the registered extensions: member -> type.
URL, STRINGS, BOOL = "url", "strings", "bool"
METADATA = {
    "issuer": URL, "authorization_endpoint": URL, "token_endpoint": URL, "jwks_uri": URL, "userinfo_endpoint": URL,
    "registration_endpoint": URL, "revocation_endpoint": URL, "introspection_endpoint": URL,
    "end_session_endpoint": URL, "device_authorization_endpoint": URL, "check_session_iframe": URL,
    "service_documentation": URL, "op_policy_uri": URL, "op_tos_uri": URL,
    "pushed_authorization_request_endpoint": URL, "backchannel_authentication_endpoint": URL,
    "scopes_supported": STRINGS, "response_types_supported": STRINGS, "response_modes_supported": STRINGS,
    "grant_types_supported": STRINGS, "acr_values_supported": STRINGS, "subject_types_supported": STRINGS,
    "id_token_signing_alg_values_supported": STRINGS, "id_token_encryption_alg_values_supported": STRINGS,
    "id_token_encryption_enc_values_supported": STRINGS, "userinfo_signing_alg_values_supported": STRINGS,
    "userinfo_encryption_alg_values_supported": STRINGS, "userinfo_encryption_enc_values_supported": STRINGS,
    "request_object_signing_alg_values_supported": STRINGS,
    "request_object_encryption_alg_values_supported": STRINGS,
    "request_object_encryption_enc_values_supported": STRINGS, "token_endpoint_auth_methods_supported": STRINGS,
    "token_endpoint_auth_signing_alg_values_supported": STRINGS, "display_values_supported": STRINGS,
    "claim_types_supported": STRINGS, "claims_supported": STRINGS, "claims_locales_supported": STRINGS,
    "ui_locales_supported": STRINGS, "revocation_endpoint_auth_methods_supported": STRINGS,
    "revocation_endpoint_auth_signing_alg_values_supported": STRINGS,
    "introspection_endpoint_auth_methods_supported": STRINGS,
    "introspection_endpoint_auth_signing_alg_values_supported": STRINGS,
    "code_challenge_methods_supported": STRINGS, "prompt_values_supported": STRINGS,
    "dpop_signing_alg_values_supported": STRINGS, "backchannel_token_delivery_modes_supported": STRINGS,
    "claims_parameter_supported": BOOL, "request_parameter_supported": BOOL, "request_uri_parameter_supported": BOOL,
    "require_request_uri_registration": BOOL, "authorization_response_iss_parameter_supported": BOOL,
    "frontchannel_logout_supported": BOOL, "frontchannel_logout_session_supported": BOOL,
    "backchannel_logout_supported": BOOL, "backchannel_logout_session_supported": BOOL,
    "tls_client_certificate_bound_access_tokens": BOOL, "require_pushed_authorization_requests": BOOL,
    "backchannel_user_code_parameter_supported": BOOL,
}
# RFC 8414 §2 (issuer, authorization_endpoint, token_endpoint with the code grant, response_types_supported) and
# OpenID Connect Discovery §3 (jwks_uri, subject_types_supported, id_token_signing_alg_values_supported).
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
            "subject_types_supported", "id_token_signing_alg_values_supported")
AUTH_METHODS = {"none", "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt",
                "tls_client_auth", "self_signed_tls_client_auth"}
VALUES = {
    "token_endpoint_auth_methods_supported": AUTH_METHODS,
    "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
    "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
    "subject_types_supported": {"public", "pairwise"},
    "response_modes_supported": {"query", "fragment", "form_post"},
    "code_challenge_methods_supported": {"plain", "S256"},
    "response_types_supported": {"code", "token", "id_token", "code id_token", "code token", "id_token token",
                                 "code id_token token", "none"},
    "id_token_signing_alg_values_supported": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
                                              "ES384", "ES512", "EdDSA"},
    "grant_types_supported": {"authorization_code", "implicit", "password", "client_credentials", "refresh_token",
                              "urn:ietf:params:oauth:grant-type:device_code",
                              "urn:ietf:params:oauth:grant-type:token-exchange",
                              "urn:ietf:params:oauth:grant-type:jwt-bearer",
                              "urn:openid:params:grant-type:ciba"},
}


class ProtocolEdgesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = Deployment(configuration(), workers=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def cors_headers(self, r):
        return {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-")}

    # -- CORS -----------------------------------------------------------------------------------------------------

    def test_preflight_then_token_request_from_a_listed_origin(self):
        pre = self.d.request("OPTIONS", TOKEN, headers={"Origin": SPA, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "authorization"})
        self.assertEqual(pre.status, 204, pre)
        self.assertEqual(self.cors_headers(pre), {
            "Access-Control-Allow-Origin": SPA, "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type", "Access-Control-Max-Age": "600"})
        self.assertEqual(pre.headers["Vary"], "Origin")
        r = self.d.post_form(TOKEN, {"grant_type": "client_credentials"}, auth=("svc", SECRET),
                             headers={"Origin": SPA})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.cors_headers(r), {"Access-Control-Allow-Origin": SPA})
        self.assertEqual(r.headers["Vary"], "Origin")
        # An error answer is readable by the application too.
        r = self.d.post_form(TOKEN, {"grant_type": "client_credentials"}, auth=("svc", "wrong"),
                             headers={"Origin": "http://localhost:3000"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], "http://localhost:3000")

    def test_every_cors_endpoint_answers_any_configured_origin(self):
        for method, path in (("GET", DISCOVERY), ("GET", JWKS), ("HEAD", DISCOVERY), ("POST", "/connect/revocation"),
                             ("POST", "/connect/introspect"), ("GET", "/connect/userinfo")):
            for origin in (SPA, "https://tools.example.com"):
                r = self.d.request(method, path, body=b"" if method == "POST" else None,
                                   headers={"Origin": origin, "Content-Type": harness.FORM})
                self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), origin, (path, r))
                self.assertEqual(r.headers.get("Vary"), "Origin", path)

    def test_unlisted_origins_get_no_cors_headers(self):
        for origin in ("https://evil.example.com", "http://spa.example.com", "https://spa.example.com:8443",
                       "https://disabled.example.com", SPA + "/", "null"):
            for method, path in (("OPTIONS", TOKEN), ("GET", DISCOVERY), ("GET", JWKS)):
                r = self.d.request(method, path, headers={"Origin": origin})
                self.assertEqual(self.cors_headers(r), {}, (origin, path))
            r = self.d.post_form(TOKEN, {"grant_type": "client_credentials"}, auth=("svc", SECRET),
                                 headers={"Origin": origin})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.cors_headers(r), {}, origin)

    def test_authorize_and_login_page_never_send_cors_headers(self):
        b = Browser(self.d)
        params = {"client_id": "spa", "redirect_uri": SPA + "/callback", "response_type": "code", "scope": "openid",
                  "code_challenge": harness.pkce_pair()[1], "code_challenge_method": "S256"}
        r = b.get("/connect/authorize", params=params, headers={"Origin": SPA})
        self.assertEqual(r.status, 200, r)
        self.assertTrue([f for f in parse_html(r.text).forms if f.field("password") is not None])
        self.assertEqual(self.cors_headers(r), {})
        r = self.d.request("OPTIONS", "/connect/authorize", headers={"Origin": SPA})
        self.assertEqual(r.status, 405, r)
        self.assertEqual(self.cors_headers(r), {})

    # -- HEAD -----------------------------------------------------------------------------------------------------

    def test_head_carries_the_length_of_the_get(self):
        for path in (DISCOVERY, JWKS):
            get = self.d.get(path)
            head = self.d.request("HEAD", path)
            self.assertEqual(head.status, 200, head)
            self.assertEqual(head.body, b"")
            self.assertEqual(int(head.headers["Content-Length"]), len(get.body), path)
            self.assertGreater(len(get.body), 0)
            self.assertEqual(head.headers["Content-Type"], get.headers["Content-Type"])

    # -- discovery ------------------------------------------------------------------------------------------------

    def test_discovery_document_member_by_member(self):
        doc = self.d.discovery()
        issuer = self.d.issuer
        for name in REQUIRED:
            self.assertIn(name, doc, f"{name} is mandatory")
        for name, value in doc.items():
            self.assertIn(name, METADATA, f"{name} is not a registered metadata member")
            kind = METADATA[name]
            if kind == URL:
                parsed = urllib.parse.urlsplit(value)
                self.assertIn(parsed.scheme, ("https", "http"), name)
                self.assertTrue(parsed.netloc, name)
                self.assertEqual((parsed.query, parsed.fragment), ("", ""), name)
                self.assertTrue(value == issuer or value.startswith(issuer + "/"), (name, value))
            elif kind == STRINGS:
                self.assertIsInstance(value, list, name)
                self.assertTrue(value, f"{name} is empty")
                self.assertTrue(all(isinstance(v, str) and v for v in value), name)
                self.assertEqual(len(value), len(set(value)), f"{name} repeats a value")
                if name in VALUES:
                    self.assertLessEqual(set(value), VALUES[name], name)
            else:
                self.assertIsInstance(value, bool, name)
        self.assertEqual(doc["issuer"], issuer)
        # OpenID Connect Discovery §3: RS256 must be listed; the code flow is what tokenfcgi implements.
        self.assertIn("RS256", doc["id_token_signing_alg_values_supported"])
        self.assertIn("code", doc["response_types_supported"])
        self.assertIn("S256", doc["code_challenge_methods_supported"])
        # Auth methods and their endpoints come together (RFC 8414 §2, RFC 7009, RFC 7662 metadata).
        for endpoint in ("revocation", "introspection"):
            if endpoint + "_endpoint_auth_methods_supported" in doc:
                self.assertIn(endpoint + "_endpoint", doc)
        for prefix in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
            methods = set(doc.get(prefix + "_auth_methods_supported", []))
            if methods & {"private_key_jwt", "client_secret_jwt"}:
                self.assertIn(prefix + "_auth_signing_alg_values_supported", doc)
        # What this configuration needs: the public "spa" authenticates with client_id alone, "web" may ask for
        # offline_access; introspection callers always authenticate.
        self.assertIn("none", doc["token_endpoint_auth_methods_supported"])
        self.assertIn("none", doc["revocation_endpoint_auth_methods_supported"])
        self.assertNotIn("none", doc["introspection_endpoint_auth_methods_supported"])
        self.assertIn("offline_access", doc["scopes_supported"])
        self.assertIn("openid", doc["scopes_supported"])
        self.assertLessEqual({"sub", "name", "updated_at"}, set(doc["claims_supported"]))
        self.assertIs(doc["request_parameter_supported"], False)
        self.assertIs(doc["request_uri_parameter_supported"], False)
        self.assertIs(doc["authorization_response_iss_parameter_supported"], True)
        # The document is compact JSON that any parser reads the same way (no duplicate members).
        pairs = json.loads(self.d.get(DISCOVERY).text, object_pairs_hook=lambda p: p)
        self.assertEqual(len(pairs), len({k for k, _ in pairs}))


if __name__ == "__main__":
    harness.main()
