"""Every command of docs/deploy.md, run as the guide shows it, in a fresh host-like tree in a temporary directory.

The test reads each ```sh block of docs/deploy.md (and the cron lines in them), and those of "Run behind nginx" in
docs/operations.md, which repeats part of the walkthrough, and runs every command, in the guide's order, with section
3 (from source) first because it sets up what the other sections take from the package.
Only the places change: /etc/tokenfcgi, /var/lib/tokenfcgi, /run/tokenfcgi, /var/backups/tokenfcgi, /etc/nginx,
/etc/letsencrypt and the installed files (/usr/local, and the package's /usr/share/tokenfcgi and /usr/bin/tokenfcgi,
both served by `make install`'s tree) live under the temporary root, and https://auth.example.com is an nginx on a
loopback port with a certificate made for the test (curl resolves the name to 127.0.0.1). So a renamed option, a
wrong path or a changed output breaks this test, not the reader's deployment.

  * `make install PREFIX=/usr/local` is the tested build's `cmake --install` into the tree (what scripts/install.sh
    ends with);
  * `editor FILE   # key = value` sets that key (and `database`, to the tree's directory);
  * `systemctl ... tokenfcgi.socket/.service` starts or stops the worker as the shipped units say: the socket's path,
    mode, owner and group from packaging/systemd/tokenfcgi.socket, the service's ExecStart, User and Group (under
    spawn-fcgi, which hands over the socket on fd 0 as systemd does);
  * `nginx -t && systemctl reload nginx` tests and starts an nginx whose http block includes the tree's conf.d/ and
    the guide's server block;
  * cron lines run their command as their user;
  * as root the service user is created by the guide's own adduser line (under a name of the test's, removed at the
    end); otherwise the commands run as the current user, without the user and ownership options;
  * the Debian package and Apache commands (`make deb`, `apt-get install ./build-deb/...`, a2enmod ...) install
    system-wide and are run by test_deb.py and test_apache.py; here the test checks that the package file name the
    guide shows carries the version packaging/debian/changelog builds.
Every command must be claimed by exactly one rule below; a new command nobody runs fails the test."""

import getpass
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness

DEPLOY_MD = os.path.join(harness.SOURCE_DIR, "docs", "deploy.md")
# The same walkthrough's commands that docs/operations.md repeats for readers of the reference.
OPERATIONS_MD = os.path.join(harness.SOURCE_DIR, "docs", "operations.md")
OPERATIONS_SECTION = "Run behind nginx"
UNITS = os.path.join(harness.SOURCE_DIR, "packaging", "systemd")
HOST = "auth.example.com"
PASSWORD = "deploy-test-password-1001"


def read_commands(path=DEPLOY_MD, only_section=None):
    """[(section, command, comment)] of every ```sh block (of one section); continuation lines joined; cron lines as
    commands."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    result = []
    section = ""
    for m in re.finditer(r"^(## [^\n]*)$|^```sh\n(.*?)^```$", text, re.M | re.S):
        if m.group(1):
            section = m.group(1)[3:]
            continue
        if only_section and section != only_section:
            continue
        lines = m.group(2).splitlines()
        cron = bool(lines) and lines[0].startswith("# /etc/cron.d/")
        joined = []
        for line in lines:
            if joined and joined[-1].endswith("\\"):
                joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
            else:
                joined.append(line)
        for line in joined:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command, comment = line, ""
            # A comment is `  # ...` after the command (never inside a quoted argument in this guide).
            split = re.search(r"\s{2,}#\s?(.*)$", line)
            if split:
                command, comment = line[:split.start()], split.group(1)
            result.append((section, ("cron: " if cron else "") + command.strip(), comment.strip()))
    return result


def unit(name):
    """The key = value lines of a shipped systemd unit."""
    keys = {}
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep and not line.startswith("#"):
                keys[key] = value
    return keys


class DeployCommandsTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="tf_deploy.")
        os.chmod(self.root, 0o755)
        self.work = os.path.join(self.root, "work")   # the administrator's current directory
        os.mkdir(self.work)
        self.is_root = os.geteuid() == 0
        self.user = f"tfdeploy{os.getpid() % 100000}" if self.is_root else getpass.getuser()
        self.web_user = "www-data" if self.is_root else getpass.getuser()
        self.created_user = False
        self.port = harness.free_port()
        self.servers = []        # (description, Popen or pid list) of what serves the database now
        self.nginx = None
        self.secret = None       # the generated secret of the guide's `reporting` client
        self.cert = None
        os.makedirs(self.path("/etc/nginx/conf.d"))   # the nginx package is installed
        self.env = dict(os.environ, PATH=os.path.join(self.root, "usr/local/bin") + ":" + os.environ["PATH"],
                        TOKENFCGI_CONFIG=self.path("/etc/tokenfcgi/tokenfcgi.conf"))
        with open(os.path.join(self.work, "clients.json"), "w") as f:
            json.dump({"IdentityServer": {
                "ApiScopes": [{"Name": "api1"}],
                "ApiResources": [{"Name": "api", "Scopes": ["api1"]}],
                "Clients": [{"ClientId": "app", "AllowedGrantTypes": ["password"], "AllowedScopes": ["api1"],
                             "ClientSecrets": [harness.hashed_secret("app-secret")], "AllowOfflineAccess": True}],
                "Users": [{"SubjectId": "1001", "Username": "alice", "Password": PASSWORD}]}}, f)

    def tearDown(self):
        try:
            self.stop_servers()
        except AssertionError:
            pass  # the test has failed already; the finally above killed what was left
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=20)
        if self.created_user:
            subprocess.run(["deluser", "--system", self.user], capture_output=True)
            subprocess.run(["delgroup", "--system", self.user], capture_output=True)
            if subprocess.run(["id", self.user], capture_output=True).returncode == 0:
                subprocess.run(["userdel", self.user], capture_output=True)   # deluser declined: say it plainly
                subprocess.run(["groupdel", self.user], capture_output=True)
        if os.environ.get("TF_KEEP_TMP"):
            print(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- the tree

    def path(self, p):
        return self.root + p

    def rewrite(self, command):
        """The guide's command with the tree's places, the test's service user, and the loopback server."""
        places = {
            "/usr/share/tokenfcgi/": "/usr/local/share/tokenfcgi/",   # the package's files: make install's tree
            "/usr/bin/tokenfcgi": "/usr/local/bin/tokenfcgi",
        }
        pattern = re.compile(r"/usr/share/tokenfcgi/|/usr/bin/tokenfcgi|/usr/local/|/etc/tokenfcgi|/var/lib/tokenfcgi|"
                             r"/run/tokenfcgi|/var/backups/tokenfcgi|/etc/nginx/conf\.d/|/etc/letsencrypt/")
        command = pattern.sub(lambda m: self.root + places.get(m.group(0), m.group(0)), command)
        command = command.replace(f"https://{HOST}", f"https://{HOST}:{self.port}")
        if command.startswith("curl "):
            command = (f"curl --cacert {self.cert} --resolve {HOST}:{self.port}:127.0.0.1 " + command[5:])
        if self.is_root:
            command = re.sub(r"(-[uUgGo] |runuser -u |--no-create-home )tokenfcgi\b", rf"\g<1>{self.user}", command)
        else:
            command = re.sub(r"^runuser -u tokenfcgi -- ", "", command)
            command = re.sub(r"-o tokenfcgi -g (tokenfcgi|www-data) |-U www-data -G www-data |"
                             r"-u tokenfcgi -g tokenfcgi ", "", command)
        return command

    def sh(self, command, check=True):
        proc = subprocess.run(["bash", "-c", command], cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"{command!r} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def tokenctl_json(self, *args):
        return json.loads(self.sh(shlex.join(["tokenctl", "--json", *args])).stdout)

    # ---- what serves the database

    def stop_servers(self):
        for what, proc in self.servers:
            if isinstance(proc, subprocess.Popen):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)
            else:
                try:
                    if os.path.exists(self.path("/run/tokenfcgi/spawn.pid")):
                        # The guide's way to stop spawn-fcgi's workers.
                        self.sh(self.rewrite(self.inline("kill -TERM $(cat /run/tokenfcgi/spawn.pid)")))
                    else:
                        for pid in proc:
                            os.kill(pid, signal.SIGTERM)
                    deadline = time.monotonic() + 20
                    while any(os.path.exists(f"/proc/{pid}") for pid in proc) and time.monotonic() < deadline:
                        time.sleep(0.05)
                finally:
                    for pid in proc:
                        if os.path.exists(f"/proc/{pid}"):
                            os.kill(pid, signal.SIGKILL)
        self.servers = []

    def wait_for_socket(self, sock):
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            self.assertLess(time.monotonic(), deadline, f"no socket {sock}")
            time.sleep(0.05)

    def start_units(self):
        """`systemctl start tokenfcgi.socket`: the socket and the worker as the shipped units describe them."""
        self.stop_servers()
        socket_unit, service = unit("tokenfcgi.socket"), unit("tokenfcgi.service")
        sock = self.rewrite(socket_unit["ListenStream"])
        os.makedirs(os.path.dirname(sock), mode=int(socket_unit["DirectoryMode"], 8), exist_ok=True)
        if os.path.exists(sock):
            os.remove(sock)
        spawn = ["spawn-fcgi", "-n", "-s", sock, "-M", socket_unit["SocketMode"],
                 "-b", socket_unit["Backlog"]]
        if self.is_root:
            # spawn-fcgi makes root the socket's owner by itself, and refuses -U root.
            if socket_unit["SocketUser"] != "root":
                spawn += ["-U", socket_unit["SocketUser"]]
            spawn += ["-G", socket_unit["SocketGroup"], "-u", self.user, "-g", self.user]
        self.assertEqual((service["User"], service["Group"]), ("tokenfcgi", "tokenfcgi"))
        command = shlex.split(self.rewrite(service["ExecStart"]))
        proc = subprocess.Popen(spawn + ["--"] + command, cwd=self.work, env=self.env, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.root, "unit-worker.log"), "ab"))
        self.servers.append(("tokenfcgi.service", proc))
        self.wait_for_socket(sock)

    def start_nginx(self, check_only):
        """`nginx -t && systemctl reload nginx`: the http block includes conf.d/, the server block is the guide's."""
        with open(DEPLOY_MD, encoding="utf-8") as f:
            server = next(b for b in re.findall(r"^```nginx\n(.*?)^```$", f.read(), re.M | re.S)
                          if "include /usr/share/tokenfcgi/nginx/tokenfcgi.conf;" in b)
        server = self.rewrite(server).replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
        etc = self.path("/etc/nginx")
        os.makedirs(os.path.join(etc, "conf.d"), exist_ok=True)
        shutil.copyfile(harness.FASTCGI_PARAMS, os.path.join(etc, "fastcgi_params"))
        # The installed example names the socket by its installed path: the tree's socket instead.
        example = self.path("/usr/local/share/tokenfcgi/nginx/tokenfcgi.conf")
        with open(example) as f:
            text = f.read()
        with open(example, "w") as f:
            f.write(self.rewrite(text))
        conf = os.path.join(etc, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""{"user " + self.web_user + ";" if self.is_root else ""}
daemon off;
worker_processes 1;
pid {etc}/nginx.pid;
error_log {etc}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {etc}/tmp/body;
    fastcgi_temp_path {etc}/tmp/fastcgi;
    proxy_temp_path {etc}/tmp/proxy;
    uwsgi_temp_path {etc}/tmp/uwsgi;
    scgi_temp_path {etc}/tmp/scgi;
    include {etc}/conf.d/*.conf;
{server}
}}
""")
        os.makedirs(os.path.join(etc, "tmp"), exist_ok=True)
        nginx = [harness.find_tool("nginx"), "-e", os.path.join(etc, "error.log"), "-p", etc, "-c", conf]
        self.sh(shlex.join(nginx + ["-t"]))
        if check_only:
            return
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=20)
        self.nginx = subprocess.Popen(nginx, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            probe = self.sh(self.rewrite(f"curl -s -o /dev/null -w '%{{http_code}}' https://{HOST}/"), check=False)
            if probe.stdout not in ("", "000"):
                return
            self.assertIsNone(self.nginx.poll(), "nginx exited")
            self.assertLess(time.monotonic(), deadline, "nginx did not come up")
            time.sleep(0.1)

    def make_cert(self):
        live = self.path(f"/etc/letsencrypt/live/{HOST}")
        os.makedirs(live)
        self.cert = os.path.join(live, "fullchain.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}", "-days", "1",
                        "-keyout", os.path.join(live, "privkey.pem"), "-out", self.cert],
                       check=True, capture_output=True)

    def user_refresh_token(self):
        """A refresh token of user 1001 through the guide's nginx: something for the grant commands to act on."""
        out = self.sh(self.rewrite(f"curl -s -u app:app-secret -d grant_type=password -d username=alice "
                                   f"-d password={PASSWORD} -d 'scope=api1 offline_access' "
                                   f"https://{HOST}/connect/token"))
        self.assertIn("refresh_token", json.loads(out.stdout), out.stdout)
        return self.tokenctl_json("grants", "list", "--client", "app", "--subject", "1001")

    def inline(self, command):
        """A command the guide gives in its prose (`...`), checked to be there word for word."""
        with open(DEPLOY_MD, encoding="utf-8") as f:
            prose = re.sub(r"^```.*?^```$", "", f.read(), flags=re.M | re.S)
        spans = {" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)}
        self.assertTrue(command in spans, f"docs/deploy.md no longer says `{command}`")
        return command

    def run_inline_commands(self):
        """The commands in the guide's prose that act on the tree."""
        self.sh(self.rewrite(self.inline("runuser -u tokenfcgi -- tokenctl key generate --alg ES256")))
        es256 = [k["kid"] for k in self.tokenctl_json("key", "list") if k["alg"] == "ES256"]
        self.assertEqual(len(es256), 1)
        self.inline("tokenctl key retire KID --force")
        self.sh(self.rewrite(f"tokenctl key retire {es256[0]} --force"))
        self.inline("tokenctl map grow SIZE")
        self.assertIn("map grown to 2147483648 bytes", self.sh(self.rewrite("tokenctl map grow 2G")).stdout)
        # mdb_stat -r exits 1 after printing the table (it returns what its last fputs returned).
        readers = self.sh(self.rewrite(self.inline("mdb_stat -r /var/lib/tokenfcgi")), check=False)
        self.assertIn("Reader Table Status", readers.stdout, readers.stderr)
        self.sh(self.rewrite(self.inline("chmod 0660 /var/lib/tokenfcgi/*.mdb")))
        self.sh(self.rewrite(self.inline("ls -l /var/lib/tokenfcgi")))
        jwks = self.sh(self.rewrite(self.inline(
            "curl -fsS https://auth.example.com/.well-known/openid-configuration/jwks"))).stdout
        self.assertTrue(json.loads(jwks)["keys"])

    # ---- the rules: (pattern of the guide's command, what the test does)

    def do_run(self, command, comment):
        return self.sh(self.rewrite(command))

    def do_make_install(self, command, comment):
        subprocess.run(["cmake", "--install", harness.BUILD_DIR, "--prefix", "/usr/local"],
                       env=dict(self.env, DESTDIR=self.root), check=True, capture_output=True)
        self.assertTrue(os.access(self.path("/usr/local/bin/tokenfcgi"), os.X_OK))

    def do_editor(self, command, comment):
        """Sets the key the comment names; every path the file sets (database, ...) moves into the tree."""
        path = self.rewrite(command.split()[1])
        key, value = [part.strip() for part in comment.split("=", 1)]
        settings = {key: self.rewrite(value), "database": self.path("/var/lib/tokenfcgi")}
        with open(path) as f:
            # A line already moved by an earlier edit (key_encryption_key_file, ...) stays as it is.
            lines = [line if line.lstrip().startswith("#") or self.root in line else self.rewrite(line)
                     for line in f if line.split("=")[0].strip() not in settings]
        lines += [f"{k} = {v}\n" for k, v in settings.items()]
        with open(path, "w") as f:
            f.writelines(lines)

    def do_adduser_system(self, command, comment):
        if not self.is_root:
            return  # users only when root; the commands then run as the current user
        self.created_user = True
        self.sh(self.rewrite(command))
        pwd.getpwnam(self.user)
        grp.getgrnam(self.user)

    def do_install_dir(self, command, comment):
        self.sh(self.rewrite(command))

    def do_spawn_fcgi(self, command, comment):
        self.stop_servers()
        pid_file = self.path("/run/tokenfcgi/spawn.pid")
        if os.path.exists(pid_file):
            os.remove(pid_file)
        out = self.sh(self.rewrite(command))
        pids = [int(pid) for pid in re.findall(r"child spawned successfully: PID: (\d+)", out.stdout + out.stderr)]
        self.assertEqual(len(pids), 2)  # -F 2
        if " -P " in command:
            with open(pid_file) as f:
                self.assertEqual(pids, [int(line) for line in f if line.strip()])
        self.servers.append(("spawn-fcgi", pids))
        self.wait_for_socket(self.path("/run/tokenfcgi/tokenfcgi.sock"))

    def do_listen_worker(self, command, comment):
        """The worker binding its own socket: started in the background, as a supervisor would."""
        self.stop_servers()
        proc = subprocess.Popen(["bash", "-c", "exec " + self.rewrite(command)], cwd=self.work, env=self.env,
                                start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.root, "listen-worker.log"), "ab"))
        self.servers.append(("tokenfcgi --listen", proc))
        sock = self.path("/run/tokenfcgi/tokenfcgi.sock")
        deadline = time.monotonic() + 20
        while not self.listening(sock):  # the spawn-fcgi workers' socket is stale: nobody answers on it
            self.assertIsNone(proc.poll(), "the worker exited")
            self.assertLess(time.monotonic(), deadline, "the worker did not listen")
            time.sleep(0.05)
        if self.is_root:
            self.assertEqual(grp.getgrgid(os.stat(sock).st_gid).gr_name, self.web_user)

    @staticmethod
    def listening(sock):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def do_check_config(self, command, comment):
        out = self.sh(self.rewrite(command))
        self.assertIn("configuration ok", out.stdout + out.stderr)
        if "configuration ok" in comment:  # the answer the guide shows
            self.assertRegex(comment, r"configuration ok; database /var/lib/tokenfcgi: \d+ clients, \d+ keys")
            self.assertRegex(out.stdout + out.stderr, r"configuration ok; database \S+: \d+ clients, \d+ keys")

    def do_client_add(self, command, comment):
        out = self.sh(self.rewrite(command))
        # The secret has a line of its own; base64url may begin or end with "-", where \b finds no boundary.
        secrets = re.findall(r"^[A-Za-z0-9_-]{43}$", out.stdout, re.M)
        self.assertEqual(len(secrets), 1, out.stdout)
        self.secret = secrets[0]

    def do_systemctl_start(self, command, comment):
        self.start_units()

    def do_systemctl_stop(self, command, comment):
        self.stop_servers()

    def do_nginx(self, command, comment):
        self.assertEqual(command, "nginx -t && systemctl reload nginx")
        self.start_nginx(check_only=False)

    def do_curl(self, command, comment):
        out = self.sh(self.rewrite(command.replace("reporting:SECRET", f"reporting:{self.secret}"))).stdout
        answer = json.loads(out)
        if "openid-configuration" in command:
            self.assertEqual(answer["issuer"], f"https://{HOST}:{self.port}")
        else:
            self.assertEqual(answer["token_type"], "Bearer", out)

    def do_cron(self, command, comment):
        fields = command[len("cron: "):].split(None, 6)
        self.assertEqual(len(fields), 7, command)
        user, line = fields[5], fields[6].replace("\\%", "%")
        if "tokenctl backup" in line:
            # The job runs the next day: today's backup, made above, is yesterday's by then.
            today = self.path("/var/backups/tokenfcgi/") + time.strftime("%Y-%m-%d")
            if os.path.exists(today):
                os.rename(today, today + "-yesterday")
        line = self.rewrite(line)
        if self.is_root and user != "root":
            line = f"runuser -u {self.user if user == 'tokenfcgi' else user} -- sh -c {shlex.quote(line)}"
        self.sh(line)

    def do_restore_copy(self, command, comment):
        # The guide restores a backup of its own date; this one is today's, made above.
        self.sh(self.rewrite(command.replace("2026-01-31", time.strftime("%Y-%m-%d"))))

    def do_stats(self, command, comment):
        out = self.sh(self.rewrite(command)).stdout
        self.assertRegex(out, r"clients")

    def do_key_remove(self, command, comment):
        retired = [k["kid"] for k in self.tokenctl_json("key", "list") if k["state"] == "retired"]
        self.assertEqual(len(retired), 1)
        self.sh(self.rewrite(command.replace("OLD_KID", retired[0])))
        self.assertNotIn(retired[0], [k["kid"] for k in self.tokenctl_json("key", "list")])

    def do_grants_list(self, command, comment):
        self.user_refresh_token()
        out = self.sh(self.rewrite(command)).stdout
        self.assertIn("refresh_token", out)

    def do_grants_revoke(self, command, comment):
        grant = self.user_refresh_token()[-1]
        command = command.replace("x3Hq0c1Yb9Tk", grant["id"]).replace("Qm3cV0kz8pQ2tYb1H0aZrw", grant["family"])
        out = self.sh(self.rewrite(command)).stdout
        self.assertRegex(out, r"revoked \d+ grants? in \d+ famil")

    def do_package(self, command, comment):
        """Run by test_deb.py (it installs system-wide); here: the file name matches the version that is built."""
        with open(os.path.join(harness.SOURCE_DIR, "packaging", "debian", "changelog")) as f:
            version = re.match(r"tokenfcgi \(([^)]+)\)", f.readline()).group(1)
        for name in re.findall(r"tokenfcgi_[^ ]+\.deb", command + " " + comment):
            self.assertEqual(name, f"tokenfcgi_{version}_amd64.deb", command)

    def do_elsewhere(self, command, comment):
        """Apache's system-wide setup: test_apache.py runs Apache with the shipped example in a tree of its own."""

    RULES = [
        (r"make install PREFIX=/usr/local", do_make_install),
        (r"(install -d|mkdir|chown|rm -f) .*|cp (?!/var/backups/).*", do_run),
        (r"editor /etc/tokenfcgi/tokenfcgi\.conf", do_editor),
        (r"adduser --system .*", do_adduser_system),
        (r"runuser -u tokenfcgi -- (sh -c 'umask 007 && tokenctl init'|tokenctl (import|client list|key "
         r"(generate|rotate|list)\b).*)", do_run),
        (r"runuser -u tokenfcgi -- tokenctl client add .*--generate-secret", do_client_add),
        (r"runuser -u tokenfcgi -- tokenctl key remove OLD_KID", do_key_remove),
        (r"spawn-fcgi .*", do_spawn_fcgi),
        (r"runuser -u tokenfcgi -- /usr/local/bin/tokenfcgi .*--listen unix:\S+ .*", do_listen_worker),
        (r"tokenfcgi --check-config", do_check_config),
        (r"systemctl (enable --now|start|restart) tokenfcgi\.(socket|service)", do_systemctl_start),
        (r"systemctl stop tokenfcgi\.socket tokenfcgi\.service", do_systemctl_stop),
        (r"nginx -t && systemctl reload nginx", do_nginx),
        (r"curl -s .*https://auth\.example\.com/.*", do_curl),
        (r"cron: .*", do_cron),
        (r"cp /var/backups/tokenfcgi/2026-01-31/data\.mdb .*", do_restore_copy),
        (r"tokenctl (init|backup .*)", do_run),
        (r"tokenctl stats", do_stats),
        (r"tokenctl (--json )?grants list .*", do_grants_list),
        (r"tokenctl grants revoke .*", do_grants_revoke),
        (r"tokenctl (--json )?gc( --batch \d+)?", do_run),
        (r"make deb|ls build-deb/\*\.deb|apt-get install \./build-deb/\S+ .*", do_package),
    ]
    # Section 2 sets Apache up system-wide (a2enmod, the www-data group, ...): test_apache.py runs that setup.
    APACHE_SECTION = "2. Debian package + Apache (mod_fcgid)"

    def test_every_command_of_the_deployment_guide(self):
        commands = read_commands()
        self.assertGreater(len(commands), 40)
        self.assertIn(self.APACHE_SECTION, {c[0] for c in commands})
        repeated = [("operations.md: " + s, c, m) for s, c, m in read_commands(OPERATIONS_MD, OPERATIONS_SECTION)]
        self.assertGreaterEqual(len(repeated), 4)
        commands += repeated
        order = ["3. From source + spawn-fcgi", "operations.md: " + OPERATIONS_SECTION, "How the pieces fit",
                 "1. Debian package + nginx"]
        commands.sort(key=lambda c: order.index(c[0]) if c[0] in order else len(order))  # stable: guide order
        self.make_cert()
        ran = 0
        for section, command, comment in commands:
            rules = [rule for pattern, rule in self.RULES if re.fullmatch(pattern, command)]
            if section == self.APACHE_SECTION and rules != [DeployCommandsTest.do_package]:
                rules = [DeployCommandsTest.do_elsewhere]
            with self.subTest(section=section, command=command):
                self.assertEqual(len(rules), 1, "a command of docs/deploy.md must match exactly one rule of this test")
                rules[0](self, command, comment)
                ran += 1
        self.assertEqual(ran, len(commands))
        self.run_inline_commands()
        # The last state: the restored database, rotated keys, revoked grants; still serving a token.
        out = self.sh(self.rewrite(f"curl -s -u reporting:{self.secret} -d grant_type=client_credentials "
                                   f"https://{HOST}/connect/token")).stdout
        self.assertIn("access_token", out)
        # Under the sanitizer build the workers are sanitized: their logs must hold no report.
        self.stop_servers()
        for name in ("unit-worker.log", "listen-worker.log"):
            with open(os.path.join(self.root, name), errors="replace") as f:
                log = f.read()
            for marker in harness.SANITIZER_MARKERS:
                self.assertNotIn(marker, log, name)


if __name__ == "__main__":
    harness.main(tools=("nginx", "spawn-fcgi", "curl", "openssl", "cmake"))
