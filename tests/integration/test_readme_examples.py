"""The README's examples, run as a reader pastes them: against a demo started the way `make run` starts it.

Every fenced ```sh block of README.md is an example (```shell blocks, such as `make run` itself, are not run). The
blocks run in order in one bash process, so variables one block sets are there for the next, as in the reader's
shell. Inside a block, the `# ...` lines after a command are the answer the README promises for it: JSON is compared
key by key (the same keys; a string with `...` matches any text in its place: "eyJ..." is any string that starts
with "eyJ"), anything else as text. A command without such lines must succeed. The README is written for port
8080; the test's demo runs on a free port, which the test writes in its place (also URL-encoded, %3A8080)."""

import json
import os
import re
import subprocess
import threading
import unittest

import harness

README = os.path.join(harness.SOURCE_DIR, "README.md")


def sh_blocks(text):
    """The bodies of the ```sh blocks, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S)


def steps(block):
    """Splits a block into (command, expected answer lines): a command is every line up to the `#` lines after it."""
    result = []
    command, expected = [], []
    for line in block.splitlines():
        if line.startswith("# "):
            expected.append(line[2:])
            continue
        if expected:
            result.append(("\n".join(command), expected))
            command, expected = [], []
        command.append(line)
    if command:
        result.append(("\n".join(command), expected))
    return result


ANY = "\u0000any"


def readme_json(text):
    """Parses a README answer; a bare `...` value (`"exp":...`) stands for any value and becomes ANY."""
    return json.loads(re.sub(r":\s*\.\.\.(?=\s*[,}\]])", lambda _: ":" + json.dumps(ANY), text))


def matches(expected, actual):
    """A README string with `...` in it stands for any text there; ANY for any value; others must be equal."""
    if expected == ANY:
        return True
    if isinstance(expected, str) and "..." in expected and isinstance(actual, str):
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        return re.fullmatch(pattern, actual, re.S) is not None
    return expected == actual


class Shell:
    """One bash process fed command after command, as a terminal would (variables and functions persist)."""

    def __init__(self):
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.count = 0

    def run(self, command, timeout=60):
        """Runs command (stdin from /dev/null, so it cannot eat the script); returns (exit status, stdout, stderr).
        A step that takes longer than timeout kills the shell (and fails)."""
        self.count += 1
        marker = f"__readme_step_{self.count}__"
        self.proc.stdin.write(f"{{\n{command}\n}} </dev/null\nprintf '\\n{marker} %s\\n' $?\n"
                              f"printf '\\n{marker}\\n' >&2\n")
        self.proc.stdin.flush()
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            out, end = self._read_until(self.proc.stdout, marker)
            err, _ = self._read_until(self.proc.stderr, marker)
        finally:
            watchdog.cancel()
        # The marker's printf starts with a newline of its own: drop it.
        return int(end.split()[1]), out[:-1], err[:-1]

    @staticmethod
    def _read_until(stream, marker):
        lines = []
        for line in stream:
            if line.startswith(marker):
                return "".join(lines), line
            lines.append(line)
        raise AssertionError(f"the shell ended (killed after a timeout?); output so far: {''.join(lines)[-2000:]}")

    def close(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the watchdog killed it
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class ReadmeExamplesTest(unittest.TestCase):
    def test_every_sh_block_answers_as_the_readme_says(self):
        with open(README, encoding="utf-8") as f:
            blocks = sh_blocks(f.read())
        all_steps = [step for block in blocks for step in steps(block)]
        # Every grant and endpoint the README's demo section promises is exercised.
        text = "\n".join(command for command, _ in all_steps)
        for needle in ("grant_type=client_credentials", "grant_type=password", "grant_type=refresh_token",
                       "/connect/userinfo", "/connect/introspect", "/connect/revocation",
                       "grant_type=authorization_code", "code_verifier=", "/connect/deviceauthorization",
                       "tf_device=approve", "grant-type:device_code", "token-exchange", "hmac-assertion",
                       "/.well-known/openid-configuration"):
            self.assertIn(needle, text, f"no README example uses {needle}")
        self.assertGreaterEqual(sum(1 for _, expected in all_steps if expected), 12)

        with harness.MakeRun() as demo:
            shell = Shell()
            try:
                self.run_steps(shell, all_steps, demo.port)
            finally:
                shell.close()

    def run_steps(self, shell, all_steps, port):
        for command, expected in all_steps:
            command = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("%3A8080", f"%3A{port}")
            with self.subTest(command=command):
                status, out, err = shell.run(command)
                self.assertEqual(status, 0, f"exited {status}: {err}")
                if not expected:
                    continue
                want = "\n".join(expected).replace("127.0.0.1:8080", f"127.0.0.1:{port}")
                if want.startswith("{"):
                    want_json = readme_json(want)
                    try:
                        got = json.loads(out)
                    except ValueError:
                        self.fail(f"not JSON: {out!r} (the README shows {want})")
                    self.assertEqual(sorted(got), sorted(want_json), f"keys of {out}")
                    for key, value in want_json.items():
                        self.assertTrue(matches(value, got[key]), f"{key}: README {value!r}, answer {got[key]!r}")
                else:
                    self.assertTrue(matches(want, out.rstrip("\n")), f"README {want!r}, answer {out!r}")


if __name__ == "__main__":
    harness.main(tools=("nginx", "spawn-fcgi", "curl", "make", "openssl"))
