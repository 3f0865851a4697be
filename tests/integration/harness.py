"""Integration-test harness: a real nginx in front of real tokenfcgi workers over a real LMDB, on loopback.

Every integration test imports this module (standard library and python3-jwt only) and ends with
`harness.main()`. Conventions:

  * Binaries come from $TF_BUILD_DIR (set by CTest; default <repo>/build). A missing binary, nginx, spawn-fcgi or
    python3-jwt makes the test exit 77, which CTest reports as "skipped".
  * `Deployment` is a context manager (or call start()/stop()). It makes a temporary directory, writes a
    configuration (issuer http://127.0.0.1:<port>, log_level info, plus keyword overrides), runs `tokenctl init
    --no-key` and adds the keys init would make (RSA ones imported from the fixed test keys in tests/keys, as RSA
    generation is slow), imports a dict as IdentityServer-shaped JSON, adds extra signing keys, starts W workers
    (`tokenfcgi --config CFG --listen unix:<tmp>/w<i>.sock`, or one worker on fd 0 under `spawn-fcgi -n`), and an
    nginx on a free loopback port whose upstream lists every worker socket. It waits for readiness with a cap and
    always cleans up: workers and nginx are terminated and waited for, the directory is removed (set TF_KEEP_TMP=1
    to keep it). Stopping fails if a worker did not exit 0 after SIGTERM or a sanitizer reported anything.
  * Requests: post_form(path, fields | body, headers, auth=(id, secret)), get(path), request(method, path, ...)
    return a Response with .status, .headers (case-insensitive), .body (bytes), .text and .json.
  * Worker stderr goes to <tmp>/w<i>.log; when a test fails, main() prints the tail of every live deployment's logs.
    log_mark() / logs_since(mark) read what every worker logged after a point.
  * The authorize endpoint: `Browser(deployment)` is a cookie jar that follows nothing by itself;
    `parse_html(text)` reads forms, inputs, labels and scripts with html.parser; `Deployment(remote_user_header=True)`
    makes the test's nginx (loopback only) pass the request header X-Test-Remote-User as REMOTE_USER;
    `Deployment.verify_id_token` validates an id_token with python3-jose (main(need_jose=True) requires it).

The store: every Deployment gets an LMDB directory in its temporary directory, or, when TF_TEST_STORE=postgresql,
a new database in this test process's private PostgreSQL cluster (pg_cluster.py: started on first use, a Unix socket
in a temporary directory, stopped at exit), so the same tests run against either store. Deployment(database=URI,
provision=False) joins a database another Deployment provisioned (several "hosts" sharing one PostgreSQL).

Each test picks its own port, so `ctest -j` is safe: free_port() only proposes a port, and when another process takes
it first (nginx cannot bind, or someone else answers there), start() tries another one.
"""

import base64
import hashlib
import html.parser
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import struct
import tempfile
import threading
import time
import unittest
import urllib.parse

SKIP = 77

SOURCE_DIR = os.environ.get("TF_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.environ.get("TF_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
FASTCGI_PARAMS = "/etc/nginx/fastcgi_params"

# Lines in a worker log that mean a sanitizer found a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")

FORM = "application/x-www-form-urlencoded"

# Fixed RSA-2048 test keys (PKCS#8 PEM), used instead of generating RSA keys for every deployment.
TEST_KEYS_DIR = os.path.join(SOURCE_DIR, "tests", "keys")
FIXED_RSA_KEYS = tuple(os.path.join(TEST_KEYS_DIR, f"rsa-2048-{n}.pem") for n in range(4))

_live_deployments = []

# "lmdb" or "postgresql": the store a Deployment gets when its `database` is not given (see the module docstring).
TEST_STORE = os.environ.get("TF_TEST_STORE") or "lmdb"
if TEST_STORE not in ("lmdb", "postgresql"):
    raise SystemExit(f"TF_TEST_STORE={TEST_STORE!r}: expected lmdb or postgresql")


# ---------------------------------------------------------------------------------------------------------------
# Locating tools


def binary(name):
    """Path of a build product in $TF_BUILD_DIR, or None."""
    path = os.path.join(BUILD_DIR, name)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def find_tool(name):
    """A system tool on PATH or in the sbin directories (nginx lives in /usr/sbin)."""
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def missing_requirements(binaries=("tokenfcgi", "tokenctl"), tools=("nginx",), need_jwt=True, need_jose=False):
    missing = [f"{BUILD_DIR}/{b}" for b in binaries if binary(b) is None]
    missing += [t for t in tools if find_tool(t) is None]
    if TEST_STORE == "postgresql":
        import pg_cluster
        missing += pg_cluster.missing()
    if "nginx" in tools and not os.path.isfile(FASTCGI_PARAMS):
        missing.append(FASTCGI_PARAMS)
    if need_jwt:
        try:
            import jwt  # noqa: F401
            from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: F401
        except ImportError:
            missing.append("python3-jwt/python3-cryptography (use /usr/bin/python3)")
    if need_jose:
        try:
            import jose.jwt  # noqa: F401
        except ImportError:
            missing.append("python3-jose (use /usr/bin/python3; scripts/deps.sh installs it)")
    return missing


def require(binaries=("tokenfcgi", "tokenctl"), tools=("nginx",), need_jwt=True, need_jose=False):
    """Exit 77 (CTest: skipped) when something the test needs is not there."""
    missing = missing_requirements(binaries, tools, need_jwt, need_jose)
    if missing:
        print("SKIP: missing " + ", ".join(missing), file=sys.stderr)
        sys.exit(SKIP)


# ---------------------------------------------------------------------------------------------------------------
# Small helpers shared by tests


def hashed_secret(secret, expiration=None, digest="sha256"):
    """An IdentityServer ClientSecrets entry: {"Value": base64(SHA-256(secret))} (or SHA-512)."""
    h = hashlib.sha512 if digest == "sha512" else hashlib.sha256
    entry = {"Value": base64.b64encode(h(secret.encode("utf-8")).digest()).decode("ascii")}
    if expiration is not None:
        entry["Expiration"] = expiration
    return entry


def basic_auth(client_id, secret, encode=True, scheme="Basic"):
    """Authorization header value per RFC 6749 §2.3.1: id and secret form-urlencoded, then base64."""
    if encode:
        client_id = urllib.parse.quote_plus(client_id, safe="")
        secret = urllib.parse.quote_plus(secret, safe="")
    raw = f"{client_id}:{secret}".encode("utf-8")
    return f"{scheme} " + base64.b64encode(raw).decode("ascii")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def refresh_token_key(token):
    """The store key of a refresh token of this build (src/oauth/refresh_tokens.h, written out here): the handle
    names its family and chain; the key is 16 bytes of SHA-256(family id), then 16 of SHA-256(family id | chain)."""
    raw = b64url_decode(token)
    assert len(raw) == 65 and raw[0] == 2, "not a refresh handle that names its chain"
    family = base64.urlsafe_b64encode(raw[1:17]).rstrip(b"=")
    chain = raw[17:25]
    return hashlib.sha256(family).digest()[:16] + hashlib.sha256(family + chain).digest()[:16]


def authorization_code_key(code):
    """The store key of an authorization code of this build (src/oauth/authorization_codes.h, written out here): the
    code names its family; the key is 16 bytes of SHA-256(family id), then the first 16 of SHA-256(code)."""
    raw = b64url_decode(code)
    assert len(raw) == 49 and raw[0] == 1, "not an authorization code that names its family"
    family = base64.urlsafe_b64encode(raw[1:17]).rstrip(b"=")
    return hashlib.sha256(family).digest()[:16] + hashlib.sha256(code.encode()).digest()[:16]


def jwk_thumbprint(jwk):
    """RFC 7638: SHA-256 over the required members, sorted, no whitespace; base64url without padding."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def unverified_header(token):
    return json.loads(b64url_decode(token.split(".")[0]))


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get(), get_all()
        self.body = body
        self._json = None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.body)
        return self._json

    def __repr__(self):
        return f"<Response {self.status} {self.text[:300]!r}>"


# ---------------------------------------------------------------------------------------------------------------
# The deployment


class DeploymentError(RuntimeError):
    pass


class _PortTaken(DeploymentError):
    """Another server answered on the port picked for nginx (it took the port first): start() tries another."""


class Deployment:
    """nginx + W tokenfcgi workers + one LMDB environment in a temporary directory.

    clients: a dict imported with `tokenctl import` ({"Clients": [...], "ApiScopes": [...], ...}) or None.
    workers: number of worker processes (each --listen unix:<tmp>/w<i>.sock).
    threads: passed as --threads N when set.
    key_algs: extra keys after init, placed as `tokenctl key generate --alg X` places them (RSA ones imported from
        the fixed test keys while they last).
    spawn_fcgi: run one worker under `spawn-fcgi -n` (FastCGI socket on fd 0) instead of --listen.
    client_max_body_size: nginx's own body limit (large by default so the worker's max_body_bytes is what is tested).
    nginx_server_extra: text added inside the nginx server block (before the catch-all location).
    nginx_locations: text that replaces the catch-all `location / {...}`; "tokenfcgi" names the upstream of all
        worker sockets, and `include fastcgi_params;` finds a copy of /etc/nginx/fastcgi_params next to nginx.conf.
    env: extra environment for the workers.
    remote_user_header: the catch-all location passes the request header X-Test-Remote-User as REMOTE_USER, the
        ONLY copy of that parameter (the stock fastcgi_params line that passes nginx's unverified $remote_user is
        left out), so libfcgi's first-wins and other parsers' last-wins read the same value; no header = "". For
        tests only: nginx listens on 127.0.0.1, and the shipped configs clear REMOTE_USER instead. Cannot be combined
        with nginx_locations.
    worker_connections: nginx's events { worker_connections } (each proxied request takes two).
    nginx_http_extra: text added inside nginx's http block (e.g. an include of limit_req zones).
    provision: False to skip `tokenctl init`, keys and import: the database (given as database=...) was provisioned
        by another Deployment.
    **config: configuration keys (issuer, base_path, max_body_bytes, log_level, access_token_signing_alg, ...); a
        list value writes the key once per item (extension_grant).
    """

    START_TIMEOUT = 60.0   # seconds for a worker or nginx to become ready (sanitized builds on a busy machine are slow)
    STOP_TIMEOUT = 5.0     # seconds between SIGTERM and SIGKILL

    def __init__(self, clients=None, workers=2, threads=None, key_algs=(), spawn_fcgi=False,
                 client_max_body_size="16m", nginx_server_extra="", nginx_locations=None, env=None,
                 remote_user_header=False, worker_connections=512, nginx_http_extra="", provision=True,
                 keep_conn=False, **config):
        if remote_user_header and nginx_locations is not None:
            raise ValueError("remote_user_header replaces the catch-all location: do not pass nginx_locations")
        self.remote_user_header = remote_user_header
        self.keep_conn = keep_conn  # nginx keeps its FastCGI connections open between requests (fastcgi_keep_conn)
        self.worker_connections = worker_connections
        self.nginx_http_extra = nginx_http_extra
        self.import_data = clients
        self.worker_count = 1 if spawn_fcgi else workers
        self.threads = threads
        self.key_algs = list(key_algs)
        self.spawn_fcgi = spawn_fcgi
        self.client_max_body_size = client_max_body_size
        self.nginx_server_extra = nginx_server_extra
        self.nginx_locations = nginx_locations
        self.extra_env = dict(env or {})
        self.config_overrides = dict(config)
        self.provision = provision
        self._database = None
        self.tmp = None
        self.port = None
        self.workers = []       # list of (Popen, log path)
        self.nginx = None
        self.worker_logs = []
        self._log_files = []
        self._problems = []

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.print_logs(f"deployment failed: {exc_type.__name__}: {exc}")
        self.stop(raise_on_problems=exc_type is None)
        return False

    def start(self):
        require(tools=("nginx", "spawn-fcgi") if self.spawn_fcgi else ("nginx",), need_jwt=False)
        self.tmp = tempfile.mkdtemp(prefix="tokenfcgi-it-")
        os.chmod(self.tmp, 0o755)
        _live_deployments.append(self)
        try:
            last_error = None
            self._database = None
            provisioned = not self.provision
            for _ in range(5):
                self.port = free_port()
                self._write_config()
                if not provisioned:
                    self._provision()
                    provisioned = True
                self._start_workers()
                try:
                    self._start_nginx()
                    return self
                except DeploymentError as e:  # most likely the port was taken between free_port() and bind()
                    last_error = e
                    self._stop_processes()
                    if not isinstance(e, _PortTaken) and "Address already in use" not in tail(self.nginx_error_log, 20):
                        raise
            raise last_error
        except BaseException:
            self.print_logs("deployment did not start")
            self.stop(raise_on_problems=False)
            raise

    def stop(self, raise_on_problems=True):
        if self.tmp is None:
            return
        try:
            self._stop_processes()
            for path in self.worker_logs:
                text = tail(path, 100000)
                for marker in SANITIZER_MARKERS:
                    if marker in text:
                        self._problems.append(f"{os.path.basename(path)}: sanitizer report ({marker})")
                        break
            if self._problems:
                self.print_logs("problems at shutdown: " + "; ".join(self._problems))
        finally:
            for f in self._log_files:
                f.close()
            self._log_files = []
            if self in _live_deployments:
                _live_deployments.remove(self)
            if os.environ.get("TF_KEEP_TMP"):
                print(f"kept {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        problems, self._problems = self._problems, []
        if problems and raise_on_problems:
            raise DeploymentError("; ".join(problems))

    # -- setup steps ----------------------------------------------------------------------------------------------

    @property
    def config_path(self):
        return os.path.join(self.tmp, "tokenfcgi.conf")

    @property
    def nginx_error_log(self):
        return os.path.join(self.tmp, "nginx-error.log")

    @property
    def issuer(self):
        return self.config["issuer"]

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def _database_location(self):
        """Where this deployment's store is: an LMDB directory in tmp, or a new PostgreSQL database (TEST_STORE)."""
        if self._database is None:
            if "database" in self.config_overrides:
                self._database = str(self.config_overrides["database"])
            elif TEST_STORE == "postgresql":
                import pg_cluster
                self._database = pg_cluster.shared_cluster().create_database()
            else:
                self._database = os.path.join(self.tmp, "db")
        return self._database

    def _write_config(self):
        config = {
            "issuer": f"http://127.0.0.1:{self.port}",
            "database": self._database_location(),
            "log_level": "info",
        }
        # A list value writes the key once per item (keys that may repeat, such as extension_grant).
        config.update({k: [str(i) for i in v] if isinstance(v, (list, tuple)) else str(v)
                       for k, v in self.config_overrides.items()})
        self.config = config
        with open(self.config_path, "w") as f:
            f.write("# written by tests/integration/harness.py\n")
            for key, value in config.items():
                for item in value if isinstance(value, list) else [value]:
                    f.write(f"{key} = {item}\n")

    def _provision(self):
        """What `tokenctl init` does (current keys for access_token_signing_alg and id_token_signing_alg), then the
        import and the key_algs keys. RSA keys come from the fixed test keys (generating RSA-2048 is slow): `init
        --no-key`, then `key import`, which places a key as `key generate` would."""
        os.makedirs(os.path.join(self.tmp, "db"), exist_ok=True)
        self._fixed_rsa_keys = list(FIXED_RSA_KEYS)
        self.tokenctl("init", "--no-key")
        init_algs = [self.config.get("access_token_signing_alg", "RS256")]
        if self.config.get("id_token_signing_alg", "RS256") not in init_algs:
            init_algs.append(self.config.get("id_token_signing_alg", "RS256"))
        for alg in init_algs:
            self._add_key(alg)
        if self.import_data is not None:
            self.import_json(self.import_data)
        for alg in self.key_algs:
            self._add_key(alg)

    def _add_key(self, alg):
        """A key for `alg` placed as `tokenctl key generate` places it: RSA ones imported from tests/keys (each file
        once per deployment, so kids differ), others generated."""
        if alg in ("RS256", "PS256") and self._fixed_rsa_keys:
            return self.tokenctl("key", "import", self._fixed_rsa_keys.pop(0), "--alg", alg)
        return self.tokenctl("key", "generate", "--alg", alg)

    def _worker_env(self):
        env = dict(os.environ)
        env.pop("TOKENFCGI_CONFIG", None)
        env.update(self.extra_env)
        return env

    def _start_workers(self):
        self.workers = []
        self.sockets = []
        for i in range(self.worker_count):
            sock = os.path.join(self.tmp, f"w{i}.sock")
            log_path = os.path.join(self.tmp, f"w{i}.log")
            if log_path not in self.worker_logs:
                self.worker_logs.append(log_path)
            if os.path.exists(sock):
                os.unlink(sock)
            log = open(log_path, "ab")
            self._log_files.append(log)
            cmd = [binary("tokenfcgi"), "--config", self.config_path]
            if self.threads:
                cmd += ["--threads", str(self.threads)]
            if self.spawn_fcgi:
                cmd = [find_tool("spawn-fcgi"), "-n", "-s", sock, "-M", "0600", "--"] + cmd
            else:
                cmd += ["--listen", "unix:" + sock]
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=self._worker_env(), start_new_session=True)
            self.workers.append(proc)
            self.sockets.append(sock)
        for proc, sock, log_path in zip(self.workers, self.sockets, self.worker_logs):
            self._wait_for_unix_socket(proc, sock, log_path)

    def _wait_for_unix_socket(self, proc, path, log_path):
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DeploymentError(f"worker exited with {proc.returncode} before listening:\n{tail(log_path)}")
            if os.path.exists(path):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    try:
                        s.connect(path)
                        return
                    except OSError:
                        pass
            time.sleep(0.02)
        raise DeploymentError(f"worker socket {path} not ready after {self.START_TIMEOUT}s:\n{tail(log_path)}")

    def _nginx_config(self, nonce):
        t = self.tmp
        servers = "\n".join(f"        server unix:{s};" for s in self.sockets)
        # As root, nginx would run its workers as nobody, who cannot reach this private directory.
        user = "user root root;" if os.geteuid() == 0 else ""
        if self.remote_user_header:
            return self._nginx_config_text(nonce, servers, user, f"""location / {{
            # Tests only (loopback): REMOTE_USER comes from a request header, as auth_request would set it.
            include {t}/fastcgi_params_without_remote_user;
            fastcgi_param REMOTE_USER $http_x_test_remote_user;
            fastcgi_pass tokenfcgi;
            fastcgi_next_upstream off;
        }}""")
        locations = self.nginx_locations or f"""location / {{
            # libfcgi's FCGX_GetParam returns the first of repeated parameters, other parsers the last:
            # clear REMOTE_USER on both sides of the stock list, which passes nginx's unverified $remote_user.
            fastcgi_param REMOTE_USER "";
            include {FASTCGI_PARAMS};
            fastcgi_param REMOTE_USER "";
            fastcgi_pass tokenfcgi;
            {"fastcgi_keep_conn on;" if self.keep_conn else ""}
            # A crashed worker must show as a 502, not be hidden by a retry on the other one.
            fastcgi_next_upstream off;
        }}"""
        return self._nginx_config_text(nonce, servers, user, locations)

    def _nginx_config_text(self, nonce, servers, user, locations):
        t = self.tmp
        return f"""# written by tests/integration/harness.py
{user}
daemon off;
master_process on;
worker_processes 1;
pid {t}/nginx.pid;
error_log {self.nginx_error_log} warn;
events {{ worker_connections {self.worker_connections}; }}
http {{
    access_log {t}/nginx-access.log;
    default_type application/octet-stream;
    client_body_temp_path {t}/nginx-tmp/body;
    fastcgi_temp_path {t}/nginx-tmp/fastcgi;
    proxy_temp_path {t}/nginx-tmp/proxy;
    uwsgi_temp_path {t}/nginx-tmp/uwsgi;
    scgi_temp_path {t}/nginx-tmp/scgi;
    upstream tokenfcgi {{
{servers}
        {"keepalive 8;" if self.keep_conn else ""}
    }}
    {self.nginx_http_extra}
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        client_max_body_size {self.client_max_body_size};
        location = /__harness_ready {{ default_type text/plain; return 200 "{nonce}"; }}
        {self.nginx_server_extra}
        {locations}
    }}
}}
"""

    def _start_nginx(self):
        os.makedirs(os.path.join(self.tmp, "nginx-tmp"), exist_ok=True)
        shutil.copyfile(FASTCGI_PARAMS, os.path.join(self.tmp, "fastcgi_params"))
        with open(FASTCGI_PARAMS) as src, \
                open(os.path.join(self.tmp, "fastcgi_params_without_remote_user"), "w") as dst:
            dst.writelines(line for line in src if line.split()[:2] != ["fastcgi_param", "REMOTE_USER"])
        nonce = secrets.token_hex(8)
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self._nginx_config(nonce))
        log = open(os.path.join(self.tmp, "nginx-stderr.log"), "ab")
        self._log_files.append(log)
        self.nginx = subprocess.Popen(
            [find_tool("nginx"), "-e", self.nginx_error_log, "-p", self.tmp, "-c", conf],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise DeploymentError(f"nginx exited with {self.nginx.returncode}:\n{tail(self.nginx_error_log)}")
            try:
                r = self.get("/__harness_ready", timeout=2)
                if r.status == 200 and r.text == nonce:
                    return
                raise _PortTaken(f"port {self.port} answered by someone else")
            except OSError:
                time.sleep(0.02)
        raise DeploymentError(f"nginx not ready after {self.START_TIMEOUT}s:\n{tail(self.nginx_error_log)}")

    def _terminate(self, proc, name):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns False if the process had already exited."""
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._problems.append(f"{name} did not exit within {self.STOP_TIMEOUT}s of SIGTERM")
            proc.kill()
            proc.wait()
        return True

    def _stop_processes(self):
        self._terminate(self.nginx, "nginx")
        self.nginx = None
        for i, proc in enumerate(self.workers):
            name = f"worker w{i}"
            if not self._terminate(proc, name):
                self._problems.append(f"{name} had exited by itself with status {proc.returncode}")
            elif proc.returncode != 0 and not any(p.startswith(f"{name} did not") for p in self._problems):
                self._problems.append(f"{name} exited with status {proc.returncode} after SIGTERM")
        self.workers = []

    # -- admin tool -----------------------------------------------------------------------------------------------

    def tokenctl(self, *args, check=True, input_text=None):
        """Runs `tokenctl --config CFG ARGS...`; returns the CompletedProcess (text). input_text, when given, is its
        standard input (a password for user add/passwd); otherwise it reads nothing."""
        cmd = [binary("tokenctl"), "--config", self.config_path] + list(args)
        stdin = {"input": input_text} if input_text is not None else {"stdin": subprocess.DEVNULL}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=self._worker_env(), **stdin)
        if check and proc.returncode != 0:
            raise DeploymentError(f"{' '.join(cmd[1:])} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def raw_database_dump(self):
        """Everything the store holds, as text, for tests that check what is never stored: `mdb_dump -a` of the LMDB
        directory (keys and values in hex), or `pg_dump --data-only` of the PostgreSQL database (bytea in hex)."""
        database = self.config["database"]
        if database.startswith(("postgresql://", "postgres://")):
            import pg_cluster
            cmd = [os.path.join(pg_cluster.PG_BIN, "pg_dump"), "--data-only", "--dbname", database]
        else:
            cmd = [find_tool("mdb_dump"), "-a", database]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise DeploymentError(f"{' '.join(cmd[:2])} failed ({proc.returncode}):\n{proc.stderr}")
        return proc.stdout

    def import_json(self, data):
        """`tokenctl import` of `data`; once the workers run, returns when they all serve what it imported."""
        path = os.path.join(self.tmp, f"import-{secrets.token_hex(4)}.json")
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
        proc = self.tokenctl("import", path)
        self.wait_for_configuration()
        return proc

    def wait_for_configuration(self):
        """Returns when every running worker serves the configuration (clients, resources, keys, session key) as
        tokenctl last changed it. A worker notices a change on its next request (on LMDB, whose workers check the
        generation on every request) or, on PostgreSQL, when its reload thread next asks (twice a second, store.h
        ConfigCheckIntervalMs), and rebuilds on that thread meanwhile serving the previous configuration
        (oauth/catalog.h): so a few requests reach every worker, then the rebuild (milliseconds for a test's
        configuration) is given time to finish."""
        if not self.workers:
            return
        if self.config["database"].startswith(("postgresql://", "postgres://")):
            time.sleep(0.6)
        for _ in range(2 * len(self.workers)):  # nginx takes the workers in turn
            self.get(self.config.get("base_path", "") + "/.well-known/openid-configuration")
        time.sleep(0.3)

    # -- HTTP -----------------------------------------------------------------------------------------------------

    def url(self, path):
        return self.base_url + path

    def request(self, method, path, body=None, headers=None, timeout=15):
        headers = dict(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.headers, data)
        finally:
            conn.close()

    def get(self, path, headers=None, timeout=15):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def post_form(self, path, fields=None, body=None, headers=None, auth=None, content_type=FORM):
        """POST a form. `fields`: dict or list of pairs (urlencoded); or `body`: raw str/bytes.
        `auth=(id, secret)` adds an RFC 6749 Basic header. `content_type=None` sends none."""
        if fields is not None:
            body = urllib.parse.urlencode(fields)
        headers = dict(headers or {})
        if content_type is not None:
            headers.setdefault("Content-Type", content_type)
        if auth is not None:
            headers["Authorization"] = basic_auth(*auth)
        return self.request("POST", path, body=body if body is not None else b"", headers=headers)

    def token_path(self):
        return self.config.get("base_path", "") + "/connect/token"

    def discovery(self):
        r = self.get(self.config.get("base_path", "") + "/.well-known/openid-configuration")
        if r.status != 200:
            raise AssertionError(f"discovery answered {r!r}")
        return r.json

    def jwks(self):
        r = self.get(self.config.get("base_path", "") + "/.well-known/openid-configuration/jwks")
        if r.status != 200:
            raise AssertionError(f"jwks answered {r!r}")
        return r.json

    def verify_access_token(self, token, audience=None):
        """Verifies `token` with python3-jwt against the served JWKS (an independent implementation).
        Returns (header, claims). Checks signature, alg/kid agreement, iss, exp/nbf/iat; aud when given."""
        import jwt
        header = jwt.get_unverified_header(token)
        keys = {k["kid"]: k for k in self.jwks()["keys"]}
        if header.get("kid") not in keys:
            raise AssertionError(f"kid {header.get('kid')!r} not in the served JWKS")
        jwk = keys[header["kid"]]
        key = jwt.PyJWK(jwk)
        options = {"require": ["iss", "exp", "iat", "nbf"], "verify_aud": audience is not None}
        claims = jwt.decode(token, key=key.key, algorithms=[jwk.get("alg", header.get("alg"))],
                            issuer=self.issuer, audience=audience, options=options, leeway=5)
        return header, claims

    def verify_id_token(self, token, client_id, access_token=None, nonce=None):
        """Validates an OpenID Connect id_token with python3-jose (another independent library) against the served
        JWKS: typ JWT, a kid of the JWKS with its alg, the signature, iss, aud = client_id, exp/iat (5 s leeway),
        sub, and at_hash against `access_token` when given (then at_hash is required). `nonce`: required and equal
        when given. Returns (header, claims)."""
        from jose import jwt as jose_jwt
        header = jose_jwt.get_unverified_header(token)
        if header.get("typ") != "JWT":
            raise AssertionError(f"id_token typ is {header.get('typ')!r}, not JWT")
        keys = {k["kid"]: k for k in self.jwks()["keys"]}
        if header.get("kid") not in keys:
            raise AssertionError(f"kid {header.get('kid')!r} not in the served JWKS")
        jwk = keys[header["kid"]]
        alg = jwk.get("alg", header.get("alg"))
        if header.get("alg") != alg:
            raise AssertionError(f"id_token alg {header.get('alg')!r} but its key is {alg!r}")
        options = {"leeway": 5, "require_iat": True, "require_exp": True, "require_iss": True, "require_aud": True,
                   "require_sub": True, "require_at_hash": access_token is not None}
        claims = jose_jwt.decode(token, jwk, algorithms=[alg], audience=client_id, issuer=self.issuer,
                                 access_token=access_token, options=options)
        if nonce is not None and claims.get("nonce") != nonce:
            raise AssertionError(f"id_token nonce {claims.get('nonce')!r}, expected {nonce!r}")
        return header, claims

    # -- logs -----------------------------------------------------------------------------------------------------

    def read_worker_logs(self):
        text = ""
        for path in self.worker_logs:
            try:
                with open(path, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text

    def log_mark(self):
        """The current size of every worker log: pass it to logs_since() to read what was logged after it."""
        return [os.path.getsize(p) if os.path.exists(p) else 0 for p in self.worker_logs]

    def logs_since(self, mark):
        text = ""
        for path, offset in zip(self.worker_logs, mark):
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text

    def print_logs(self, why, lines=30):
        if self.tmp is None:
            return
        out = [f"---- {why} ({self.tmp}) ----"]
        for path in self.worker_logs + [self.nginx_error_log]:
            out.append(f"---- tail of {os.path.basename(path)} ----")
            out.append(tail(path, lines))
        print("\n".join(out), file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------
# A browser for the authorize endpoint

REMOTE_USER_HEADER = "X-Test-Remote-User"


def pkce_pair(verifier=None):
    """(code_verifier, S256 code_challenge) per RFC 7636 §4.1-4.2; a random 43-character verifier by default."""
    verifier = verifier or secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def parse_query(query):
    """A query string as a dict; a repeated name is an AssertionError (the authorize response never repeats one)."""
    out = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if name in out:
            raise AssertionError(f"parameter {name!r} repeated in {query!r}")
        out[name] = value
    return out


def split_redirect(location):
    """A redirect URI with parameters: (the URI without its query, dict of the query's parameters)."""
    parts = urllib.parse.urlsplit(location)
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if parts.fragment:
        raise AssertionError(f"unexpected fragment in {location!r}")
    return base, parse_query(parts.query)


class HtmlForm:
    def __init__(self, attrs):
        self.attrs = attrs
        self.action = attrs.get("action")
        self.method = (attrs.get("method") or "get").lower()
        self.inputs = []    # dicts of attributes, in document order
        self.buttons = []

    def field(self, name):
        for i in self.inputs:
            if i.get("name") == name:
                return i
        return None

    def hidden(self):
        """The hidden inputs as a list of (name, value) pairs, in order."""
        return [(i.get("name"), i.get("value", "")) for i in self.inputs if i.get("type") == "hidden"]

    def values(self):
        """Every named input's value (as a browser would submit them before the user types), as (name, value)."""
        return [(i["name"], i.get("value", "")) for i in self.inputs if i.get("name") is not None]


class HtmlPage(html.parser.HTMLParser):
    """What a test needs from the HTML pages of the authorize endpoint: forms with their inputs and buttons,
    <label for=...> texts, elements by id, scripts (attributes and text), the <html> attributes, the visible text."""

    VOID = {"input", "meta", "br", "img", "link", "hr"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.labels = {}         # for -> text
        self.ids = {}            # id -> (tag, attrs)
        self.scripts = []        # (attrs, text)
        self.html_attrs = {}
        self.title = ""
        self.text_parts = []
        self._form = None
        self._label = None
        self._script = None
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        if "id" in attrs:
            self.ids[attrs["id"]] = (tag, attrs)
        if tag == "html":
            self.html_attrs = attrs
        elif tag == "form":
            self._form = HtmlForm(attrs)
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form.inputs.append(attrs)
        elif tag == "button" and self._form is not None:
            self._form.buttons.append(attrs)
        elif tag == "label":
            self._label = [attrs.get("for"), ""]
        elif tag == "script":
            self._script = [attrs, ""]
        elif tag == "title":
            self._in_title = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "label" and self._label is not None:
            self.labels[self._label[0]] = self._label[1].strip()
            self._label = None
        elif tag == "script" and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._label is not None:
            self._label[1] += data
        if self._script is not None:
            self._script[1] += data
            return
        if self._in_title:
            self.title += data
        self.text_parts.append(data)

    @property
    def text(self):
        return " ".join(" ".join(self.text_parts).split())


def parse_html(text):
    return HtmlPage(text)


class Cookie:
    def __init__(self, header):
        first, *attributes = header.split(";")
        name, sep, value = first.partition("=")
        if not sep:
            raise AssertionError(f"Set-Cookie without '=': {header!r}")
        self.name, self.value = name.strip(), value.strip()
        self.attributes = {}     # lower-case name -> value ("" for flags)
        for a in attributes:
            k, _, v = a.strip().partition("=")
            self.attributes[k.strip().lower()] = v.strip()
        self.header = header

    @property
    def deletes(self):
        max_age = self.attributes.get("max-age")
        return max_age is not None and max_age.lstrip("-").isdigit() and int(max_age) <= 0


class Browser:
    """A cookie jar in front of a Deployment, for the authorize flow. It follows no redirect and submits no form by
    itself: every step is the test's. Cookies are sent back by hand over http: the __Host- cookies are Secure, which a
    real browser keeps for https, and this jar deliberately ignores that for the loopback test server. What a browser
    would refuse is an AssertionError instead: a __Host- cookie without Secure, without Path=/ or with Domain
    (RFC 6265bis §4.1.3.2). A Max-Age of 0 or less deletes a cookie. remote_user: sent as X-Test-Remote-User (see
    Deployment(remote_user_header=True)). Every Set-Cookie of the last answer is in .last_set_cookies by name."""

    def __init__(self, deployment, remote_user=None):
        self.d = deployment
        self.remote_user = remote_user
        self.jar = {}               # name -> Cookie, in the order they were set
        self.last_set_cookies = {}

    def cookie(self, name):
        c = self.jar.get(name)
        return c.value if c is not None else None

    def cookie_header(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar.values())

    def _path(self, path_or_url):
        if path_or_url.startswith(("http://", "https://")):
            if not path_or_url.startswith(self.d.base_url + "/"):
                raise AssertionError(f"the browser only talks to the deployment, not {path_or_url!r}")
            return path_or_url[len(self.d.base_url):]
        return path_or_url

    def request(self, method, path_or_url, body=None, headers=None, cookies=True):
        headers = dict(headers or {})
        if cookies and self.jar:
            headers.setdefault("Cookie", self.cookie_header())
        if self.remote_user is not None:
            headers.setdefault(REMOTE_USER_HEADER, self.remote_user)
        r = self.d.request(method, self._path(path_or_url), body=body, headers=headers)
        self.last_set_cookies = {}
        for header in r.headers.get_all("Set-Cookie") or []:
            c = Cookie(header)
            if c.name.startswith("__Host-"):
                if "secure" not in c.attributes or c.attributes.get("path") != "/" or "domain" in c.attributes:
                    raise AssertionError(f"a browser would refuse this __Host- cookie: {header!r}")
            self.last_set_cookies[c.name] = c
            if c.deletes:
                self.jar.pop(c.name, None)
            else:
                self.jar[c.name] = c
        return r

    def get(self, path_or_url, params=None, headers=None, cookies=True):
        path = self._path(path_or_url)
        if params is not None:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        return self.request("GET", path, headers=headers, cookies=cookies)

    def post_form(self, path_or_url, fields, headers=None, cookies=True):
        headers = dict(headers or {})
        headers.setdefault("Content-Type", FORM)
        return self.request("POST", path_or_url, body=urllib.parse.urlencode(fields), headers=headers,
                            cookies=cookies)

    def submit(self, form, cookies=True, **typed):
        """Submits an HtmlForm as a browser would: its inputs' values, then what the user typed (username=...),
        replacing inputs of the same name, to its action, with its method."""
        fields = [(n, v) for n, v in form.values() if n not in typed] + list(typed.items())
        if form.method == "post":
            return self.post_form(form.action, fields, cookies=cookies)
        return self.get(form.action, params=fields, cookies=cookies)


# ---------------------------------------------------------------------------------------------------------------
# A FastCGI responder that shows what the web server sends


class FastCgiParamsEcho:
    """A minimal FastCGI responder on a Unix socket (a thread; context manager). It answers every request with
    200 and a JSON array of [name, value] pairs: the FastCGI parameters exactly as received, in order, repeated ones
    included. Used to check what a web-server configuration passes to the worker (e.g. REMOTE_USER)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)
        return False

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._handle(conn)
                except (OSError, ValueError):
                    pass

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ValueError("connection closed mid-record")
            data += chunk
        return data

    @staticmethod
    def _pairs(data):
        def length(i):
            if data[i] & 0x80:
                return struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF, i + 4
            return data[i], i + 1
        i, out = 0, []
        while i < len(data):
            nl, i = length(i)
            vl, i = length(i)
            out.append([data[i:i + nl].decode("latin-1"), data[i + nl:i + nl + vl].decode("latin-1")])
            i += nl + vl
        return out

    def _handle(self, conn):
        params, request_id, stdin_done, params_done = b"", 1, False, False
        while not (stdin_done and params_done):
            version, rtype, request_id, clen, plen, _ = struct.unpack(">BBHHBB", self._read(conn, 8))
            content = self._read(conn, clen)
            self._read(conn, plen)
            if rtype == 4:          # FCGI_PARAMS
                params += content
                params_done = clen == 0
            elif rtype == 5:        # FCGI_STDIN
                stdin_done = clen == 0
        body = json.dumps(self._pairs(params)).encode()
        out = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n" + body
        records = b""
        for i in range(0, len(out), 65535):
            chunk = out[i:i + 65535]
            records += struct.pack(">BBHHBB", 1, 6, request_id, len(chunk), 0, 0) + chunk
        records += struct.pack(">BBHHBB", 1, 6, request_id, 0, 0, 0)                       # end of FCGI_STDOUT
        records += struct.pack(">BBHHBB", 1, 3, request_id, 8, 0, 0) + struct.pack(">IB3x", 0, 0)  # END_REQUEST
        conn.sendall(records)


# ---------------------------------------------------------------------------------------------------------------
# `make run`, as a reader starts it


class MakeRun:
    """`make run PORT=<free port>` from the checkout, as a reader runs it (context manager): the demo's files in a
    temporary RUN_DIR, the binaries of BUILD_DIR. Entering waits (at most `timeout` s) for the banner; .port,
    .banner. stop() is Ctrl-C: it returns whether make ended within 30 s (else it is killed) and sets .output, all
    that make printed. Leaving stops it if still running and removes the directory (TF_KEEP_TMP=1 keeps it)."""

    def __init__(self, timeout=300):
        self.timeout = timeout
        self.run_dir = tempfile.mkdtemp(prefix="tf_make_run.")
        os.chmod(self.run_dir, 0o755)
        self.port = free_port()
        self.log_path = os.path.join(self.run_dir, "make-run.log")
        self.proc = None
        self.banner = ""
        self.output = ""

    def __enter__(self):
        env = dict(os.environ, BUILD_DIR=BUILD_DIR, RUN_DIR=self.run_dir)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(["make", "-C", SOURCE_DIR, "run", f"PORT={self.port}"], env=env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        try:
            self._wait_for_banner()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for_banner(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                text = f.read()
            if "Press Ctrl-C to stop." in text:
                self.banner = text
                return
            if self.proc.poll() is not None:
                raise DeploymentError(f"make run exited {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        raise DeploymentError(f"make run printed no banner within {self.timeout}s")

    def stop(self):
        stopped = True
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                stopped = False
        with open(self.log_path) as f:
            self.output = f.read()
        return stopped

    def __exit__(self, *exc):
        if self.proc is not None:
            self.stop()
        if os.environ.get("TF_KEEP_TMP"):
            print(f"kept {self.run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return False


# ---------------------------------------------------------------------------------------------------------------
# Running a test file


class _TailingResult(unittest.TextTestResult):
    """Prints the tail of every live deployment's logs next to a failure."""

    def _dump(self, test):
        for d in list(_live_deployments):
            d.print_logs(f"logs after {test}")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def main(binaries=("tokenfcgi", "tokenctl"), tools=("nginx",), need_jwt=True, need_jose=False):
    """Runs the unittest tests of __main__; exits 77 if something is missing or any test skipped itself (so CTest
    reports the file as skipped, and CI, which refuses skips, notices), 1 on any failure, else 0."""
    require(binaries, tools, need_jwt, need_jose)
    started = time.monotonic()
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_TailingResult)
    program = unittest.main(module="__main__", testRunner=runner, exit=False)
    result = program.result
    print(f"{result.testsRun} tests ({TEST_STORE} store) in {time.monotonic() - started:.1f}s: "
          f"{len(result.failures)} failed, {len(result.errors)} errors, {len(result.skipped)} skipped",
          file=sys.stderr)
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(SKIP if result.skipped else 0)
