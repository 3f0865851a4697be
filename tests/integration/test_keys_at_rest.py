"""Private keys at rest: with key_encryption_key_file set, the signing keys and the session key are stored encrypted
with the key-encryption key (KEK), and real workers behind nginx serve with them.

  * EncryptedDatabaseTest: `tokenctl init` creates the KEK (mode 0400, 32 bytes); data.mdb and a `tokenctl backup`
    hold no private key in clear; tokens are signed (verified by python3-jwt against the served JWKS) and the device
    page (which needs the session key) answers; a worker without the KEK, with a missing one or with another one
    refuses to start with one log line that never holds the key; `tokenfcgi --check-config` says the same; a backup
    restored without the KEK cannot sign (the worker run as a CGI program refuses), with it it signs with the same
    key.
  * MigrationTest: a database made in clear keeps serving once the KEK is configured; `tokenctl key encrypt` encrypts
    it in place while the workers serve (they keep the keys they hold); after a restart the workers open the
    encrypted keys; `tokenctl kek rotate` re-encrypts them with a new KEK; the old one no longer starts a worker.
"""

import base64
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest
import urllib.parse

import harness
from harness import Deployment, basic_auth, hashed_secret

SECRET = "kek-Secret_1.~"
CLIENTS = {
    "Clients": [{"ClientId": "svc", "ClientSecrets": [hashed_secret(SECRET)],
                 "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"]}],
    "ApiScopes": [{"Name": "api1"}],
    "ApiResources": [{"Name": "orders", "Scopes": ["api1"]}],
}


def pem_body_lines(path):
    """The base64 lines of a PEM file: what a private key in clear would leave in data.mdb."""
    with open(path) as f:
        return [line.strip().encode() for line in f if line.strip() and not line.startswith("-----")]


def config_text(path, **changes):
    """The configuration file at `path` with the given keys replaced (None: removed) or added."""
    lines = []
    with open(path) as f:
        for line in f:
            key = line.split("=", 1)[0].strip()
            if key in changes:
                continue
            lines.append(line)
    for key, value in changes.items():
        if value is not None:
            lines.append(f"{key} = {value}\n")
    return "".join(lines)


def cgi_token(config):
    """POST /connect/token (client_credentials) to the worker run as a CGI program: (exit code, status, body,
    stderr)."""
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "api1"}).encode()
    env = dict(os.environ)
    env.pop("TOKENFCGI_CONFIG", None)
    env.update({"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST",
                "REQUEST_URI": "/connect/token", "CONTENT_TYPE": harness.FORM, "CONTENT_LENGTH": str(len(body)),
                "HTTP_AUTHORIZATION": basic_auth("svc", SECRET)})
    p = subprocess.run([harness.binary("tokenfcgi"), "--config", config], input=body, capture_output=True,
                       timeout=120, env=env)
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    status = [line for line in head.decode(errors="replace").split("\r\n") if line.lower().startswith("status:")]
    return (p.returncode, int(status[0].split()[1]) if status else 200 if p.stdout else None,
            json.loads(payload) if payload else None, p.stderr.decode(errors="replace"))


class _KekDeployment:
    """A Deployment plus a directory of its own for the KEK file (the Deployment's directory is made at start)."""

    @classmethod
    def start(cls, encrypted, **config):
        cls.kek_dir = tempfile.mkdtemp(prefix="tf_kek.")
        cls.kek = os.path.join(cls.kek_dir, "kek")
        if encrypted:
            config["key_encryption_key_file"] = cls.kek
        cls.d = Deployment(clients=CLIENTS, workers=2, access_token_signing_alg="ES256", **config)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            shutil.rmtree(cls.kek_dir, ignore_errors=True)

    def token(self):
        r = self.d.post_form("/connect/token", {"grant_type": "client_credentials", "scope": "api1"},
                             auth=("svc", SECRET))
        self.assertEqual(r.status, 200, r)
        header, claims = self.d.verify_access_token(r.json["access_token"], audience="orders")
        self.assertEqual(claims["client_id"], "svc")
        return header["kid"]

    def write_config(self, name, **changes):
        path = os.path.join(self.kek_dir, name)
        with open(path, "w") as f:
            f.write(config_text(self.d.config_path, **changes))
        return path

    def start_worker(self, config):
        """A worker on its own socket: (exit code or None if it is serving, its log)."""
        sock = os.path.join(self.kek_dir, "probe.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        p = subprocess.Popen([harness.binary("tokenfcgi"), "--config", config, "--listen", "unix:" + sock],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = p.communicate(timeout=30)
            return p.returncode, out.decode(errors="replace")
        except subprocess.TimeoutExpired:
            p.terminate()
            out, _ = p.communicate(timeout=30)
            return None, out.decode(errors="replace")

    def check_config(self, config):
        return subprocess.run([harness.binary("tokenfcgi"), "--config", config, "--check-config"],
                              capture_output=True, text=True, timeout=60)

    def assert_no_clear_private_key(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.assertNotIn(b"PRIVATE KEY", data, path)
        for line in pem_body_lines(harness.FIXED_RSA_KEYS[0])[:3]:
            self.assertNotIn(line, data, path)

    def assert_refuses(self, config, reason):
        code, log = self.start_worker(config)
        self.assertEqual(code, 1, log)
        lines = [line for line in log.splitlines() if "cannot start" in line]
        self.assertEqual(len(lines), 1, log)
        self.assertIn(reason, lines[0])
        with open(self.kek, "rb") as f:
            key = f.read()
        for form in (key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key).rstrip(b"=")):
            self.assertNotIn(form, log.encode(errors="replace"), "the KEK reached the log")
        return lines[0]


class EncryptedDatabaseTest(_KekDeployment, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start(encrypted=True)

    def test_kek_file_is_made_by_init_only_the_owner_can_read(self):
        st = os.stat(self.kek)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o400)
        self.assertEqual(st.st_size, 32)
        self.assertEqual(st.st_uid, os.stat(os.path.join(self.d.tmp, "db")).st_uid)

    def test_database_holds_no_private_key_in_clear(self):
        self.assert_no_clear_private_key(os.path.join(self.d.tmp, "db", "data.mdb"))

    def test_tokens_are_signed_and_the_session_key_opens(self):
        self.token()
        r = self.d.get("/device")
        self.assertEqual(r.status, 200, r)
        self.assertIn("<form", r.text)
        self.assertNotIn("is encrypted at rest", self.d.read_worker_logs())

    def test_worker_refuses_to_start_without_the_right_kek(self):
        line = self.assert_refuses(self.write_config("none.conf", key_encryption_key_file=None),
                                   "is encrypted at rest and key_encryption_key_file is not set")
        self.assertIn("signing key ", line)
        missing = os.path.join(self.kek_dir, "missing")
        self.assert_refuses(self.write_config("missing.conf", key_encryption_key_file=missing),
                            f"is encrypted at rest and key_encryption_key_file {missing}: No such file")
        other = os.path.join(self.kek_dir, "other")
        with open(other, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(other, 0o400)
        self.assert_refuses(self.write_config("other.conf", key_encryption_key_file=other),
                            "does not decrypt with the key-encryption key")
        shutil.copy(self.kek, os.path.join(self.kek_dir, "readable"))
        os.chmod(os.path.join(self.kek_dir, "readable"), 0o444)
        self.assert_refuses(self.write_config("readable.conf",
                                              key_encryption_key_file=os.path.join(self.kek_dir, "readable")),
                            "other users may read or write it")

    def test_check_config(self):
        r = self.check_config(self.d.config_path)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("keys at rest: 3 encrypted, 0 in clear", r.stdout)  # ES256, RS256, the session key
        r = self.check_config(self.write_config("none.conf", key_encryption_key_file=None))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("is encrypted at rest and key_encryption_key_file is not set", r.stderr)
        other = os.path.join(self.kek_dir, "other2")
        with open(other, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(other, 0o400)
        r = self.check_config(self.write_config("other2.conf", key_encryption_key_file=other))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("does not decrypt", r.stderr)

    def test_backup_without_the_kek_cannot_sign(self):
        kid = self.token()
        backup = os.path.join(self.kek_dir, "backup")
        self.d.tokenctl("backup", backup)
        self.assert_no_clear_private_key(os.path.join(backup, "data.mdb"))
        # Restored elsewhere without the KEK: the worker refuses to serve.
        code, status, body, err = cgi_token(self.write_config("restored.conf", database=backup,
                                                              key_encryption_key_file=None))
        self.assertEqual(code, 1, err)
        self.assertIsNone(body)
        self.assertIn("is encrypted at rest", err)
        # With the KEK: it signs, with the same key.
        code, status, body, err = cgi_token(self.write_config("restored-kek.conf", database=backup))
        self.assertEqual((code, status), (0, 200), err)
        self.assertEqual(harness.unverified_header(body["access_token"])["kid"], kid)
        self.d.verify_access_token(body["access_token"], audience="orders")


class MigrationTest(_KekDeployment, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start(encrypted=False)

    def restart(self):
        self.d._stop_processes()
        self.d._start_workers()
        self.d._start_nginx()

    def test_encrypt_in_place_then_rotate_the_kek(self):
        kid = self.token()
        data = os.path.join(self.d.tmp, "db", "data.mdb")
        with open(data, "rb") as f:
            self.assertIn(b"PRIVATE KEY", f.read(), "the database starts in clear")

        # 1. Configure the KEK and create it; the keys stay in clear and keep working.
        with open(self.d.config_path, "a") as f:
            f.write(f"key_encryption_key_file = {self.kek}\n")
        r = self.d.tokenctl("init")
        self.assertIn("created key_encryption_key_file", r.stdout)
        self.assertIn("tokenctl key encrypt", r.stderr)
        r = self.check_config(self.d.config_path)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("0 encrypted, 3 in clear", r.stdout)
        self.assertIn("tokenctl key encrypt", r.stderr)

        # 2. Encrypt in place while the workers (started without the KEK) serve: they keep the keys they hold.
        r = self.d.tokenctl("key", "encrypt")
        self.assertEqual(r.stdout, "encrypted 2 signing keys and the session key\n")
        self.assertEqual(self.token(), kid)
        self.assertEqual(self.d.tokenctl("key", "encrypt").stdout, "nothing to do: every key is encrypted already\n")
        backup = os.path.join(self.kek_dir, "backup")
        self.d.tokenctl("backup", backup)
        self.assert_no_clear_private_key(os.path.join(backup, "data.mdb"))
        r = self.check_config(self.d.config_path)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("3 encrypted, 0 in clear", r.stdout)

        # 3. Restarted with the KEK: same key, and the session key opens.
        self.restart()
        self.assertEqual(self.token(), kid)
        self.assertEqual(self.d.get("/device").status, 200)

        # 4. A new KEK: every key re-encrypted; the workers keep signing until they are restarted with it.
        with open(self.kek, "rb") as f:
            old = f.read()
        old_copy = os.path.join(self.kek_dir, "old-kek")
        with open(old_copy, "wb") as f:
            f.write(old)
        os.chmod(old_copy, 0o400)
        r = self.d.tokenctl("kek", "rotate")
        self.assertIn("re-encrypted 2 signing keys and the session key", r.stdout)
        self.assertIn("restart the workers", r.stdout)
        with open(self.kek, "rb") as f:
            self.assertNotEqual(f.read(), old)
        self.assertEqual(stat.S_IMODE(os.stat(self.kek).st_mode), 0o400)
        self.assertEqual(self.token(), kid)
        self.restart()
        self.assertEqual(self.token(), kid)
        self.assertEqual(self.d.get("/device").status, 200)
        self.assert_refuses(self.write_config("old.conf", key_encryption_key_file=old_copy), "does not decrypt")


if __name__ == "__main__":
    harness.main()
