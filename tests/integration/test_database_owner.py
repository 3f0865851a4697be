"""tokenctl run as root on a database that belongs to the service user leaves nothing the workers cannot open: files
it creates get the directory's owner and group (0660), files that would lock the workers out are refused with what
to run, and docs/deploy.md's restore procedure, run as root as documented, ends with a database the service user's
worker opens. The key-encryption key file that init creates is given to the service user too (0400), so the worker
running as that user opens the encrypted keys. The service user here is `nobody`."""

import os
import pwd
import grp
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness


class DatabaseOwnerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tf_db_owner.")
        os.chmod(self.tmp, 0o755)
        self.uid = pwd.getpwnam("nobody").pw_uid
        self.gid = grp.getgrnam("nogroup").gr_gid
        self.db = os.path.join(self.tmp, "db")
        os.mkdir(self.db, 0o750)
        os.chown(self.db, self.uid, self.gid)
        self.conf = os.path.join(self.tmp, "t.conf")
        os.mkdir(os.path.join(self.tmp, "secrets"), 0o755)
        self.kek = os.path.join(self.tmp, "secrets", "kek")
        with open(self.conf, "w") as f:
            f.write(f"issuer = http://127.0.0.1:8080\ndatabase = {self.db}\naccess_token_signing_alg = EdDSA\n"
                    f"id_token_signing_alg = EdDSA\nkey_encryption_key_file = {self.kek}\n")
        os.chmod(self.conf, 0o644)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tokenctl(self, *args, check=True):
        r = subprocess.run([harness.binary("tokenctl"), "--config", self.conf, *args], capture_output=True,
                           text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"tokenctl {args} exited {r.returncode}: {r.stderr}")
        return r

    def worker_check_as_service_user(self):
        return subprocess.run(["runuser", "-u", "nobody", "--", harness.binary("tokenfcgi"), "--config", self.conf,
                               "--check-config"], capture_output=True, text=True, timeout=60)

    def assert_owned_by_service_user(self, name):
        st = os.stat(os.path.join(self.db, name))
        self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid), name)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, name)

    def test_init_as_root_then_the_restore_procedure(self):
        self.tokenctl("init")
        self.assert_owned_by_service_user("data.mdb")
        self.assert_owned_by_service_user("lock.mdb")
        kek = os.stat(self.kek)
        self.assertEqual((kek.st_uid, kek.st_gid, stat.S_IMODE(kek.st_mode)), (self.uid, self.gid, 0o400))
        r = self.worker_check_as_service_user()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 encrypted, 0 in clear", r.stdout)

        # docs/deploy.md, "Backup and restore", as root.
        backup = os.path.join(self.tmp, "backup")
        self.tokenctl("backup", backup)
        os.remove(os.path.join(self.db, "data.mdb"))  # the disaster
        subprocess.run(["cp", os.path.join(backup, "data.mdb"), os.path.join(self.db, "data.mdb")], check=True)
        subprocess.run(["chown", "--reference=" + self.db, os.path.join(self.db, "data.mdb")], check=True)
        subprocess.run(["chmod", "0660", os.path.join(self.db, "data.mdb")], check=True)
        os.remove(os.path.join(self.db, "lock.mdb"))
        self.assertIn("keys", self.tokenctl("stats").stdout)
        self.assert_owned_by_service_user("lock.mdb")  # created by tokenctl as root, given to the service user
        r = self.worker_check_as_service_user()
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_root_owned_file_is_refused_with_what_to_run(self):
        self.tokenctl("init")
        data = os.path.join(self.db, "data.mdb")
        os.chown(data, 0, 0)
        os.chmod(data, 0o640)
        r = self.tokenctl("stats", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("data.mdb belongs to root but the database directory to nobody", r.stderr)
        self.assertIn("chown --reference=", r.stderr)
        self.assertEqual(os.stat(data).st_uid, 0)  # nothing was changed behind the operator's back


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (it gives files to the user nobody)")
        raise SystemExit(harness.SKIP)
    harness.main(tools=("runuser",), need_jwt=False)
