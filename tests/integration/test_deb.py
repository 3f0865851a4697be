"""The Debian package, for real: build, install, serve a token through nginx, upgrade, remove, purge.

Runs only as root on a machine with dpkg-buildpackage, debhelper and lintian (else exit 77), and only when the
tokenfcgi package is not installed already (this test installs and purges it, and must leave the machine as it
found it). Steps, each checked:

  1. scripts/deb.sh builds the package into a temporary directory (lintian must report no error); the package holds
     exactly the files that `make install` (CMake's install rules, PREFIX=/usr) installs from the same build, apart
     from Debian's own changelog and copyright and the compression of docs and man pages;
  2. `dpkg -i`: the conffile, the tokenfcgi system user, /var/lib/tokenfcgi (tokenfcgi:tokenfcgi, 2770) with a
     database whose files are group-writable, a current signing key encrypted with the key-encryption key
     /etc/tokenfcgi/kek (tokenfcgi, 0400), the man pages and systemd units (checked with `systemd-analyze verify`
     when present);
  3. the installed tokenctl imports conf/demo.json; the INSTALLED worker, under spawn-fcgi as user tokenfcgi with its
     default configuration, serves discovery, the JWKS and a client_credentials token through a private nginx that
     includes the installed nginx example (socket path substituted); the token verifies against the JWKS;
  4. a rebuilt package with a higher version (same staging, only a new changelog entry) upgrades it: the client, the
     key and a local change to the conffile survive, and the worker still serves a token signed by the same key;
  5. `dpkg -r` keeps the database and the conffile; reinstalling keeps them too (no second `tokenctl init`);
  6. `dpkg -P` deletes /var/lib/tokenfcgi, /etc/tokenfcgi and the user.
Whatever happens, the package is purged at the end and every process this test started is stopped.
"""

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import basic_auth, find_tool, free_port, tail

PACKAGE = "tokenfcgi"
STATE_DIR = "/var/lib/tokenfcgi"
CONFFILE = "/etc/tokenfcgi/tokenfcgi.conf"
KEK = "/etc/tokenfcgi/kek"
NGINX_EXAMPLE = "/usr/share/tokenfcgi/nginx/tokenfcgi.conf"
DEB_SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "deb.sh")
DEMO_JSON = os.path.join(harness.SOURCE_DIR, "conf", "demo.json")
UPGRADE_VERSION = "0.1.0+upgradetest1"
CONFFILE_MARK = "# local change kept across upgrades (test_deb.py)"


def run(cmd, check=True, timeout=600, **kwargs):
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def package_status():
    """dpkg's status of the package ("installed", "config-files", ...) or None when dpkg does not know it."""
    proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() not in ("", "not-installed") else None


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def skip_reason():
    if os.geteuid() != 0:
        return "not root (the test installs a package)"
    missing = [t for t in ("dpkg-buildpackage", "dh", "lintian", "nginx", "spawn-fcgi", "runuser") if not find_tool(t)]
    if missing:
        return "missing " + ", ".join(missing) + " (apt-get install dpkg-dev debhelper lintian nginx spawn-fcgi)"
    if not os.path.isfile(harness.FASTCGI_PARAMS):
        return "missing " + harness.FASTCGI_PARAMS
    if package_status() is not None:
        return f"package {PACKAGE} is already on this machine ({package_status()}): dpkg -P {PACKAGE} to run this test"
    if os.path.exists(STATE_DIR) or user_exists(PACKAGE):
        return f"{STATE_DIR} or user {PACKAGE} exists without the package: remove them to run this test"
    return None


def as_tokenfcgi(*args):
    """Runs the installed tokenctl as the service user with its default configuration, like an administrator."""
    return run(["runuser", "-u", PACKAGE, "--", "/usr/bin/tokenctl", "--json"] + list(args))


class Server:
    """The installed worker under spawn-fcgi (as tokenfcgi) and a private nginx that includes the installed example."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.sock_dir = os.path.join(tmp, "run")
        self.sock = os.path.join(self.sock_dir, "tokenfcgi.sock")
        self.port = None
        self.worker = None
        self.nginx = None
        self.logs = []

    def start(self):
        os.makedirs(self.sock_dir, exist_ok=True)
        os.chmod(self.sock_dir, 0o755)
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        worker_log = open(os.path.join(self.tmp, "worker.log"), "ab")
        self.logs.append(worker_log)
        # Socket owned by nginx's user (www-data), the worker as tokenfcgi with the installed default configuration:
        # the spawn-fcgi line of docs/deploy.md.
        self.worker = subprocess.Popen(
            [find_tool("spawn-fcgi"), "-n", "-s", self.sock, "-M", "0660", "-U", "www-data", "-G", "www-data",
             "-u", PACKAGE, "-g", PACKAGE, "--", "/usr/bin/tokenfcgi"],
            stdin=subprocess.DEVNULL, stdout=worker_log, stderr=worker_log, start_new_session=True,
            env={k: v for k, v in os.environ.items() if k != "TOKENFCGI_CONFIG"})
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"installed worker did not start:\n{tail(worker_log.name)}")
            time.sleep(0.05)

        with open(NGINX_EXAMPLE) as f:
            example = f.read()
        self.assertIn_("fastcgi_pass unix:/run/tokenfcgi/tokenfcgi.sock;", example)
        with open(os.path.join(self.tmp, "tokenfcgi-locations.conf"), "w") as f:
            f.write(example.replace("/run/tokenfcgi/tokenfcgi.sock", self.sock))
        shutil.copyfile(harness.FASTCGI_PARAMS, os.path.join(self.tmp, "fastcgi_params"))
        for _ in range(5):
            self.port = free_port()
            if self._start_nginx():
                return
        raise AssertionError(f"nginx did not start:\n{tail(os.path.join(self.tmp, 'nginx-error.log'))}")

    @staticmethod
    def assertIn_(needle, haystack):
        if needle not in haystack:
            raise AssertionError(f"{needle!r} not in the installed nginx example")

    def _start_nginx(self):
        t = self.tmp
        conf = os.path.join(t, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""# written by tests/integration/test_deb.py
user www-data www-data;
daemon off;
worker_processes 1;
pid {t}/nginx.pid;
error_log {t}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {t}/nginx-tmp/body;
    fastcgi_temp_path {t}/nginx-tmp/fastcgi;
    proxy_temp_path {t}/nginx-tmp/proxy;
    uwsgi_temp_path {t}/nginx-tmp/uwsgi;
    scgi_temp_path {t}/nginx-tmp/scgi;
    include /usr/share/tokenfcgi/nginx/tokenfcgi-limits.conf;
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        include {t}/tokenfcgi-locations.conf;
    }}
}}
""")
        os.makedirs(os.path.join(t, "nginx-tmp"), exist_ok=True)
        log = open(os.path.join(t, "nginx-stderr.log"), "ab")
        self.logs.append(log)
        self.nginx = subprocess.Popen([find_tool("nginx"), "-e", f"{t}/nginx-error.log", "-p", t, "-c", conf],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                return False
            try:
                r = self.request("GET", "/.well-known/openid-configuration")
                if r.status == 200:
                    return True
                raise AssertionError(f"discovery through nginx answered {r!r}")
            except OSError:
                time.sleep(0.05)
        return False

    def request(self, method, path, body=None, headers=None):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return harness.Response(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()

    def stop(self):
        for proc in (self.nginx, self.worker):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        worker_rc = self.worker.returncode if self.worker is not None else 0
        self.nginx = self.worker = None
        for f in self.logs:
            f.close()
        self.logs = []
        return worker_rc


class DebianPackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tokenfcgi-deb-")
        os.chmod(cls.tmp, 0o755)
        cls.out = os.path.join(cls.tmp, "deb")

    @classmethod
    def tearDownClass(cls):
        # Leave the machine as it was: purge the package whatever happened (also removes the user and the data).
        if package_status() is not None:
            subprocess.run(["dpkg", "--purge", PACKAGE], stdin=subprocess.DEVNULL, capture_output=True)
        if os.environ.get("TF_KEEP_TMP"):
            print(f"kept {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def build(self, *args):
        started = time.monotonic()
        proc = run([DEB_SCRIPT] + list(args), env=dict(os.environ, DEB_OUT=self.out), timeout=900)
        deb = proc.stdout.strip().splitlines()[-1]
        self.assertTrue(os.path.isfile(deb), proc.stdout)
        # deb.sh fails on a lintian error; warnings must not be errors either way.
        self.assertNotIn("\nE: ", "\n" + proc.stderr)
        print(f"built {os.path.basename(deb)} in {time.monotonic() - started:.0f}s", file=sys.stderr)
        return deb

    def assert_same_files_as_make_install(self, deb):
        """The .deb's files against `cmake --install` of the package's own build tree into a staging directory."""
        builds = [d for d in os.listdir(os.path.join(self.out, PACKAGE)) if d.startswith("obj-")]
        self.assertEqual(len(builds), 1, builds)
        stage = os.path.join(self.tmp, "make-install")
        shutil.rmtree(stage, ignore_errors=True)
        run(["cmake", "--install", os.path.join(self.out, PACKAGE, builds[0])], env=dict(os.environ, DESTDIR=stage))
        installed = set()
        for root, _, files in os.walk(stage):
            for name in files:
                installed.add("/" + os.path.relpath(os.path.join(root, name), stage))

        def normal(path):  # dh_compress and dh_installman compress docs and man pages
            if path.endswith(".gz") and path.startswith(("/usr/share/man/", "/usr/share/doc/")):
                return path[:-3]
            return path
        packaged = set()
        for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines():
            fields = line.split(None, 5)
            if fields and fields[0][0] in "-l":
                path = fields[5].split(" -> ")[0].lstrip(".")
                if path not in ("/usr/share/doc/tokenfcgi/changelog.gz", "/usr/share/doc/tokenfcgi/copyright"):
                    packaged.add(normal(path))
        self.assertEqual(sorted(packaged - installed), [], "in the package but not installed by make install")
        self.assertEqual(sorted(installed - packaged), [], "installed by make install but not in the package")

    def token(self, server):
        body = "grant_type=client_credentials"
        r = server.request("POST", "/connect/token", body=body,
                           headers={"Content-Type": harness.FORM, "Authorization": basic_auth("demo", "demo-secret")})
        self.assertEqual(r.status, 200, r)
        return r.json

    def issuer(self):
        with open(CONFFILE) as f:
            for line in f:
                key, _, value = line.partition("=")
                if key.strip() == "issuer" and not line.lstrip().startswith("#"):
                    return value.strip().strip('"')
        raise AssertionError(f"no issuer in {CONFFILE}")

    def verify(self, server, token):
        import jwt
        header = jwt.get_unverified_header(token)
        r = server.request("GET", "/.well-known/openid-configuration/jwks")
        self.assertEqual(r.status, 200, r)
        jwk = {k["kid"]: k for k in r.json["keys"]}[header["kid"]]
        claims = jwt.decode(token, key=jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], issuer=self.issuer(),
                            options={"verify_aud": False}, leeway=5)
        self.assertEqual(claims["client_id"], "demo")
        self.assertEqual(claims["scope"], "api1")
        return header["kid"]

    def serve_token(self):
        """Starts the installed worker behind nginx, gets and verifies a token; returns the signing kid."""
        server = Server(self.tmp)
        try:
            server.start()
            disco = server.request("GET", "/.well-known/openid-configuration")
            self.assertEqual(disco.status, 200, disco)
            self.assertEqual(disco.json["issuer"], self.issuer())
            kid = self.verify(server, self.token(server)["access_token"])
            wrong = server.request("POST", "/connect/token", body="grant_type=client_credentials",
                                   headers={"Content-Type": harness.FORM,
                                            "Authorization": basic_auth("demo", "wrong")})
            self.assertEqual(wrong.status, 401, wrong)
        except BaseException:
            print(f"---- worker log ----\n{tail(os.path.join(self.tmp, 'worker.log'))}\n---- nginx ----\n"
                  f"{tail(os.path.join(self.tmp, 'nginx-error.log'))}", file=sys.stderr)
            server.stop()
            raise
        self.assertEqual(server.stop(), 0, "the installed worker did not exit 0 after SIGTERM")
        log = tail(os.path.join(self.tmp, "worker.log"), 1000)
        self.assertIn("POST /connect/token client=demo grant=client_credentials", log)
        self.assertNotIn("demo-secret", log)
        return kid

    def keys(self):
        return {k["kid"]: k["state"] for k in json.loads(as_tokenfcgi("key", "list").stdout)}

    def test_package_lifecycle(self):
        # 1. Build; the package holds what `make install` installs.
        deb = self.build("--ccache")
        self.assert_same_files_as_make_install(deb)

        # 2. Install: user, directory, database, key, conffile, units, man pages.
        run(["dpkg", "-i", deb])
        self.assertEqual(package_status(), "installed")
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", PACKAGE]).stdout
        self.assertIn(CONFFILE, conffiles)
        with open(CONFFILE) as f:
            self.assertIn("\ndatabase = /var/lib/tokenfcgi\n", f.read())
        user = pwd.getpwnam(PACKAGE)
        self.assertLess(user.pw_uid, 1000, "tokenfcgi must be a system user")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, PACKAGE)
        st = os.stat(STATE_DIR)
        self.assertEqual((st.st_uid, st.st_gid), (user.pw_uid, user.pw_gid))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o2770)
        for name in ("data.mdb", "lock.mdb"):
            fst = os.stat(os.path.join(STATE_DIR, name))
            self.assertEqual(fst.st_gid, user.pw_gid, name)
            self.assertEqual(stat.S_IMODE(fst.st_mode) & 0o060, 0o060, f"{name} must be group-writable")
        keys = self.keys()
        self.assertEqual(list(keys.values()), ["current"], keys)
        for path in ("/usr/bin/tokenfcgi", "/usr/bin/tokenctl", "/lib/systemd/system/tokenfcgi.socket",
                     "/lib/systemd/system/tokenfcgi.service", "/lib/systemd/system/tokenfcgi-gc.service",
                     "/lib/systemd/system/tokenfcgi-gc.timer", "/usr/share/man/man8/tokenfcgi.8.gz",
                     "/usr/share/man/man8/tokenctl.8.gz", "/usr/share/man/man5/tokenfcgi.conf.5.gz", NGINX_EXAMPLE,
                     "/usr/share/tokenfcgi/apache/tokenfcgi.conf", "/usr/share/doc/tokenfcgi/deploy.md"):
            self.assertTrue(os.path.exists(path) or os.path.exists(path + ".gz"), path)
        analyze = find_tool("systemd-analyze")
        if analyze:
            proc = run([analyze, "verify", "/lib/systemd/system/tokenfcgi.socket",
                        "/lib/systemd/system/tokenfcgi.service", "/lib/systemd/system/tokenfcgi-gc.service",
                        "/lib/systemd/system/tokenfcgi-gc.timer"], check=False)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # The gc timer is enabled by the package (dh_installsystemd), even where systemd does not run.
        self.assertTrue(os.path.islink("/etc/systemd/system/timers.target.wants/tokenfcgi-gc.timer"),
                        "tokenfcgi-gc.timer is not enabled")
        # The key-encryption key: made by postinst for tokenfcgi alone; the database's keys are encrypted with it.
        kek = os.stat(KEK)
        self.assertEqual((kek.st_uid, stat.S_IMODE(kek.st_mode), kek.st_size), (user.pw_uid, 0o400, 32))
        checked = run(["/usr/bin/tokenfcgi", "--check-config"])
        self.assertIn("0 in clear", checked.stdout)
        with open(os.path.join(STATE_DIR, "data.mdb"), "rb") as f:
            self.assertNotIn(b"PRIVATE KEY", f.read())

        # 3. Import the demo client with the installed tokenctl, serve a token from the installed worker.
        with open(DEMO_JSON) as f:
            proc = subprocess.run(["runuser", "-u", PACKAGE, "--", "/usr/bin/tokenctl", "import", "-"], stdin=f,
                                  capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        kid = self.serve_token()
        self.assertEqual(keys, {kid: "current"})

        # 4. Upgrade to a rebuilt package; a local edit of the conffile must survive.
        with open(CONFFILE, "a") as f:
            f.write(CONFFILE_MARK + "\n")
        deb2 = self.build("--reuse", "--ccache", "--no-lintian", "--version", UPGRADE_VERSION)
        run(["dpkg", "-i", deb2])
        self.assertEqual(run(["dpkg-query", "-W", "-f=${Version}", PACKAGE]).stdout, UPGRADE_VERSION)
        with open(CONFFILE) as f:
            self.assertIn(CONFFILE_MARK, f.read())
        self.assertEqual(self.keys(), keys, "the upgrade changed the signing keys")
        clients = json.loads(as_tokenfcgi("client", "list").stdout)
        self.assertIn("demo", json.dumps(clients))
        self.assertEqual(self.serve_token(), kid)

        # 5. Remove: data and conffile stay; a reinstall keeps them and runs no second init.
        run(["dpkg", "-r", PACKAGE])
        self.assertEqual(package_status(), "config-files")
        self.assertFalse(os.path.exists("/usr/bin/tokenfcgi"))
        self.assertTrue(os.path.isfile(os.path.join(STATE_DIR, "data.mdb")))
        self.assertTrue(os.path.isfile(CONFFILE))
        self.assertTrue(user_exists(PACKAGE))
        run(["dpkg", "-i", deb2])
        self.assertEqual(self.keys(), keys, "a reinstall after remove changed the signing keys")
        self.assertIn("demo", as_tokenfcgi("client", "list").stdout)

        # 6. Purge: everything is gone.
        run(["dpkg", "-P", PACKAGE])
        self.assertIsNone(package_status())
        for path in (STATE_DIR, "/etc/tokenfcgi", "/usr/bin/tokenctl"):
            self.assertFalse(os.path.exists(path), f"{path} survived the purge")
        self.assertFalse(user_exists(PACKAGE), "the tokenfcgi user survived the purge")
        self.assertFalse(group_exists(PACKAGE), "the tokenfcgi group survived the purge")


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print("SKIP: " + reason, file=sys.stderr)
        sys.exit(harness.SKIP)
    harness.main(binaries=(), tools=("nginx", "spawn-fcgi"), need_jwt=True)
