"""The shipped nginx/tokenfcgi.conf, used as is (only the socket path differs): it serves the three endpoints,
nothing else, enforces the 64 KiB body limit that matches max_body_bytes, and never lets the user name of a client's
Basic header reach the worker as REMOTE_USER."""

import os
import re
import shutil
import tempfile
import unittest

import harness
from harness import Deployment, hashed_secret

SECRET = "example-secret-1"
SHIPPED = os.path.join(harness.SOURCE_DIR, "nginx", "tokenfcgi.conf")
SHIPPED_LIMITS = os.path.join(harness.SOURCE_DIR, "nginx", "tokenfcgi-limits.conf")
LIMITS = f"include {SHIPPED_LIMITS};"


class NginxExampleTest(unittest.TestCase):
    def test_shipped_locations(self):
        with open(SHIPPED) as f:
            text = f.read()
        socket_line = "fastcgi_pass unix:/run/tokenfcgi/tokenfcgi.sock;"
        self.assertIn(socket_line, text)
        self.assertIn("include fastcgi_params;", text)
        locations = text.replace(socket_line, "fastcgi_pass tokenfcgi;")
        data = {"Clients": [{"ClientId": "svc", "ClientSecrets": [hashed_secret(SECRET)],
                             "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"]}],
                "ApiScopes": [{"Name": "api1"}], "ApiResources": [{"Name": "api", "Scopes": ["api1"]}]}
        with Deployment(data, workers=1, nginx_locations=locations, nginx_http_extra=LIMITS) as d:
            r = d.post_form("/connect/token", {"grant_type": "client_credentials"}, auth=("svc", SECRET))
            self.assertEqual(r.status, 200, r)
            d.verify_access_token(r.json["access_token"], audience="api")
            self.assertEqual(d.discovery()["token_endpoint"], d.issuer + "/connect/token")
            self.assertTrue(d.jwks()["keys"])
            r = d.get("/connect/token")
            self.assertEqual(r.status, 405, r)  # the worker's answer, with Allow
            self.assertIn("POST", r.headers.get("Allow", ""))
            # Every endpoint reaches the worker (its own answers, not nginx's 404).
            r = d.post_form("/connect/revocation", {"token": "x"}, auth=("svc", SECRET))
            self.assertEqual(r.status, 200, r)
            r = d.post_form("/connect/introspect", {"token": "x"}, auth=("svc", SECRET))
            self.assertEqual((r.status, r.json), (200, {"active": False}), r)
            r = d.get("/connect/userinfo")
            self.assertEqual(r.status, 401, r)
            self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
            r = d.get("/connect/authorize?client_id=nobody")
            self.assertEqual(r.status, 400, r)
            self.assertIn("text/html", r.headers.get("Content-Type", ""))
            # svc may not use the device flow: the worker's own unauthorized_client.
            r = d.post_form("/connect/deviceauthorization", {}, auth=("svc", SECRET))
            self.assertEqual((r.status, r.json["error"]), (400, "unauthorized_client"), r)
            r = d.get("/device")
            self.assertEqual(r.status, 200, r)
            self.assertIn("text/html", r.headers.get("Content-Type", ""))
            # Only the endpoints are exposed: anything else is nginx's own 404, not the worker's JSON.
            for path in ("/elsewhere", "/connect/other", "/connect/authorize/x", "/device/x"):
                r = d.get(path)
                self.assertEqual(r.status, 404, r)
                self.assertIn("nginx", r.text)
            # nginx enforces the same body limit as the worker's default max_body_bytes.
            r = d.post_form("/connect/token", body="grant_type=client_credentials&pad=" + "a" * 70000,
                            auth=("svc", SECRET))
            self.assertEqual(r.status, 413, r)
            self.assertIn("nginx", r.text)

    def test_rate_limits_on_password_endpoints(self):
        """tokenfcgi-limits.conf's zones: a burst of token requests or login-form POSTs from one address beyond the
        zone's burst gets nginx's own 429 before reaching the worker; GETs of the authorize endpoint are not limited."""
        import concurrent.futures
        with open(SHIPPED) as f:
            locations = f.read().replace("fastcgi_pass unix:/run/tokenfcgi/tokenfcgi.sock;", "fastcgi_pass tokenfcgi;")
        with Deployment(None, workers=1, threads=4, nginx_locations=locations, nginx_http_extra=LIMITS) as d:
            def statuses(count, fn):
                with concurrent.futures.ThreadPoolExecutor(32) as pool:
                    return [r.status for r in pool.map(lambda _: fn(), range(count))]
            token = statuses(150, lambda: d.post_form("/connect/token", {"grant_type": "client_credentials"},
                                                      auth=("nobody", "x")))
            self.assertIn(429, token)
            self.assertGreaterEqual(token.count(401), 41)  # the burst reached the worker
            login = statuses(60, lambda: d.post_form("/connect/authorize", {"client_id": "nobody"}))
            self.assertIn(429, login)
            self.assertGreaterEqual(login.count(400), 11)
            pages = statuses(60, lambda: d.get("/connect/authorize?client_id=nobody"))
            self.assertEqual(set(pages), {400})

    def test_remote_user_is_cleared(self):
        """nginx sends a repeated fastcgi_param twice; libfcgi (FCGX_GetParam) reads the first occurrence, other
        parsers the last. Both must be empty, while the stock fastcgi_params alone passes the unverified name."""
        with open(SHIPPED) as f:
            text = f.read()
        block = re.search(r"^location = /connect/token \{.*?^\}", text, re.S | re.M).group(0)
        echo_dir = tempfile.mkdtemp(prefix="tokenfcgi-echo-")
        os.chmod(echo_dir, 0o755)
        echo_sock = os.path.join(echo_dir, "echo.sock")
        try:
            with harness.FastCgiParamsEcho(echo_sock):
                shipped = block.replace("location = /connect/token", "location = /shipped").replace(
                    "unix:/run/tokenfcgi/tokenfcgi.sock", "unix:" + echo_sock)
                stock = f"location = /stock {{ include fastcgi_params; fastcgi_pass unix:{echo_sock}; }}"
                with Deployment(None, workers=1, nginx_locations=shipped + "\n" + stock, nginx_http_extra=LIMITS) as d:
                    auth = harness.basic_auth("mallory", "anything")

                    def params(path):
                        r = d.post_form(path, {"grant_type": "client_credentials"}, headers={"Authorization": auth})
                        self.assertEqual(r.status, 200, r)
                        return r.json

                    stock_params = params("/stock")
                    self.assertEqual([v for k, v in stock_params if k == "REMOTE_USER"], ["mallory"])
                    shipped_params = params("/shipped")
                    remote_user = [v for k, v in shipped_params if k == "REMOTE_USER"]
                    self.assertTrue(remote_user, shipped_params)
                    self.assertEqual(remote_user[0], "")   # what libfcgi, hence tokenfcgi, sees
                    self.assertEqual(remote_user[-1], "")  # what last-wins parsers see
                    # The client's credentials still reach the worker.
                    self.assertIn(["HTTP_AUTHORIZATION", auth], shipped_params)
        finally:
            shutil.rmtree(echo_dir, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
