"""`tokenfcgi --listen unix:/path` with --socket-user, --socket-group and --socket-mode (spawn-fcgi's -U, -G, -M):
the socket appears with that owner, group and mode, so the web server's user can connect without a 502, and the
options are refused without a Unix socket."""

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import harness


class SocketOptionsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tf_socket_opts.")
        os.chmod(self.tmp, 0o755)
        self.conf = os.path.join(self.tmp, "t.conf")
        with open(self.conf, "w") as f:
            f.write(f"issuer = http://127.0.0.1:8080\ndatabase = {self.tmp}/db\naccess_token_signing_alg = EdDSA\n"
                    "id_token_signing_alg = EdDSA\nlog_level = error\n")
        subprocess.run([harness.binary("tokenctl"), "--config", self.conf, "init"], check=True, capture_output=True,
                       timeout=60)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def worker(self, *args):
        return [harness.binary("tokenfcgi"), "--config", self.conf, *args]

    def test_owner_group_and_mode(self):
        sock = os.path.join(self.tmp, "w.sock")
        proc = subprocess.Popen(self.worker("--listen", "unix:" + sock, "--socket-user", "nobody",
                                            "--socket-group", "nogroup", "--socket-mode", "0600"),
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(sock):
                self.assertIsNone(proc.poll(), "the worker exited")
                self.assertLess(time.monotonic(), deadline, "no socket")
                time.sleep(0.05)
            st = os.stat(sock)
            self.assertEqual(st.st_uid, pwd.getpwnam("nobody").pw_uid)
            self.assertEqual(st.st_gid, grp.getgrnam("nogroup").gr_gid)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            # nobody can connect: the web server's user reaches the worker.
            probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()")
            r = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", probe, sock],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    def test_usage_errors(self):
        cases = [
            (["--listen", "127.0.0.1:9", "--socket-group", "nogroup"], "need --listen unix:/path"),
            (["--socket-mode", "0660"], "need --listen unix:/path"),
            (["--listen", "unix:/tmp/x.sock", "--socket-mode", "0999"], "octal mode"),
            (["--listen", "unix:/tmp/x.sock", "--socket-group", "no-such-group-tf"], "no group 'no-such-group-tf'"),
            (["--listen", "unix:/tmp/x.sock", "--socket-user", "no-such-user-tf"], "no user 'no-such-user-tf'"),
        ]
        for args, message in cases:
            r = subprocess.run(self.worker(*args), capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr, args)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (it gives the socket to the user nobody)")
        raise SystemExit(harness.SKIP)
    harness.main(tools=("runuser",), need_jwt=False)
