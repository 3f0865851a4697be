"""`make run`, as the README shows it: the demo comes up behind a real nginx on the port asked for (PORT), the curl
lines it prints work when pasted, the README's first curl line works against it, and Ctrl-C stops everything."""

import os
import re
import socket
import subprocess
import unittest

import harness

README = os.path.join(harness.SOURCE_DIR, "README.md")


def run_shell(line, port):
    """Runs one pasted command line (8080 in the README means the demo's port) and returns its stdout."""
    line = line.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    out = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"{line!r} exited {out.returncode}: {out.stderr}")
    return out.stdout


class MakeRunTest(unittest.TestCase):
    def test_make_run_on_another_port(self):
        demo = harness.MakeRun()
        with demo:
            port, banner = demo.port, demo.banner
            self.assertIn(f"http://127.0.0.1:{port}", banner)
            # The build is not silent: cmake's progress lines reach the terminal.
            self.assertRegex(banner, r"\[\s*\d+%\] Built target tokenfcgi")
            # The banner names every demo credential the README uses.
            for credential in ("demo-secret", "demo-app-secret", "demo-backend-secret", "demo-partner-secret",
                               "demo-api-secret", "alice-demo-password", "demo-web", "demo-tv"):
                self.assertIn(credential, banner)
            # Every curl line of the banner, pasted as printed.
            curl_lines = [line.strip() for line in banner.splitlines() if line.strip().startswith("curl -s")]
            token_line = next(line for line in curl_lines if "client_credentials" in line)
            self.assertIn("access_token", run_shell(token_line, port))
            for line in curl_lines:
                if "CODE" in line:
                    continue  # needs a code from the browser flow
                self.assertTrue(run_shell(line, port).startswith("{"), line)
            # The README's first token example, with the demo's port.
            with open(README) as f:
                readme = f.read()
            first = re.search(r"^curl .*client_credentials.*$", readme, re.M)
            self.assertIsNotNone(first, "README shows no client_credentials curl line")
            self.assertIn("access_token", run_shell(first.group(0), port))
            # The demo-web redirect URI follows the port: the authorize page answers (not an error page).
            authorize = re.search(r"^\s*(http://127\.0\.0\.1:\d+/connect/authorize\?\S+)$", banner, re.M)
            self.assertIsNotNone(authorize)
            page = run_shell(f"curl -s -o /dev/null -w '%{{http_code}}' '{authorize.group(1)}'", port)
            self.assertEqual(page, "200")
            self.assertTrue(demo.stop(), "make run did not stop on Ctrl-C")
        self.assertIn("run-demo: stopping", demo.output)
        # Nothing it started is left listening.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


if __name__ == "__main__":
    harness.main(tools=("nginx", "spawn-fcgi", "curl", "make"))
