"""`tokenfcgi --check-config` checks what a request would need and changes nothing: an initialised database (an
empty directory stays empty), a current signing key for every algorithm the configuration signs with."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness


def write_config(path, database, **keys):
    with open(path, "w") as f:
        f.write(f"issuer = http://127.0.0.1:8080\ndatabase = {database}\n")
        for k, v in keys.items():
            f.write(f"{k} = {v}\n")


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tf_check_config.")
        self.exe = harness.binary("tokenfcgi")
        self.ctl = harness.binary("tokenctl")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check(self, config):
        return subprocess.run([self.exe, "--config", config, "--check-config"], capture_output=True, text=True,
                              timeout=60)

    def test_empty_directory_is_refused_and_left_empty(self):
        db = os.path.join(self.tmp, "db")
        os.mkdir(db)
        conf = os.path.join(self.tmp, "t.conf")
        write_config(conf, db)
        r = self.check(conf)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("not initialised", r.stderr)
        self.assertIn("tokenctl init", r.stderr)
        self.assertEqual(os.listdir(db), [])
        r = self.check(conf.replace("t.conf", "missing.conf"))
        self.assertEqual(r.returncode, 1, r)

    def test_missing_key_for_the_configured_algorithm(self):
        db = os.path.join(self.tmp, "db")
        conf = os.path.join(self.tmp, "t.conf")
        write_config(conf, db, access_token_signing_alg="EdDSA", id_token_signing_alg="EdDSA")
        subprocess.run([self.ctl, "--config", conf, "init"], check=True, capture_output=True, timeout=120)
        r = self.check(conf)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("configuration ok", r.stdout)
        before = {n: os.stat(os.path.join(db, n)).st_mtime_ns for n in os.listdir(db)}

        es = os.path.join(self.tmp, "es.conf")
        write_config(es, db, access_token_signing_alg="ES256", id_token_signing_alg="EdDSA")
        r = self.check(es)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no current ES256 signing key", r.stderr)
        self.assertIn("tokenctl key generate --alg ES256", r.stderr)
        es_id = os.path.join(self.tmp, "es_id.conf")
        write_config(es_id, db, access_token_signing_alg="EdDSA", id_token_signing_alg="ES256")
        r = self.check(es_id)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no current ES256 signing key", r.stderr)
        after = {n: os.stat(os.path.join(db, n)).st_mtime_ns for n in os.listdir(db)}
        self.assertEqual(sorted(before), sorted(after))
        self.assertEqual(before["data.mdb"], after["data.mdb"])

        subprocess.run([self.ctl, "--config", es, "key", "generate", "--alg", "ES256"], check=True,
                       capture_output=True, timeout=60)
        self.assertEqual(self.check(es).returncode, 0)


if __name__ == "__main__":
    harness.main(tools=(), need_jwt=False)
