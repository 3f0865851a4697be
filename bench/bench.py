"""The benchmark behind `make bench`: nginx + FastCGI on loopback, driven by wrk for a fixed time.

Scenarios, all behind the same nginx (1 worker process) with the same POST request (a form body and a Basic header):
  (a) static     nginx answers `return 200` with a body the size of a token response
  (b) fcgi_echo  a bare libfcgi program returning a fixed token-sized JSON body (the baseline)
  (b') the same with --close-at-once: it closes each connection as tokenfcgi does (a plain close once the request
                 was read to its end) instead of libfcgi's lingering close, to show how much of the difference
                 between (b) and (c) is that close
  (c) tokenfcgi  client_credentials, one client per algorithm (ES256, EdDSA, RS256), each client's scope belonging
                 to an ApiResource whose AllowedAccessTokenSigningAlgorithms names that algorithm
  (d) flood      client_credentials (ES256) measured as (c) while --flood-connections other connections send
                 password grants with a wrong password as fast as they are answered, to workers with --flood-threads
                 threads each and the default password_hash_concurrency and password_hash_wait_ms: the goal is a
                 client_credentials p99 under 10 ms. The flood's answers are counted by status (400 = checked,
                 503 = refused because every password check slot stayed busy). The row's FastCGI CPU includes the
                 workers' hashing helper processes, which do the flood's Argon2id work.
  (e) stores     the same client_credentials ES256 request, and refresh_token rotation (each wrk connection redeems
                 the refresh token its previous answer returned), against the LMDB store and against a PostgreSQL
                 store (a private PostgreSQL 15 cluster, tests/integration/pg_cluster.py, with fsync and
                 synchronous_commit on as LMDB syncs its commits, filled with `tokenctl copy` from the LMDB one),
                 side by side; PostgreSQL's CPU counts in its rows. Left out when
                 PostgreSQL 15 is not installed.
(b) and (c) run the same number of FastCGI worker processes. Server CPU per request is the growth of utime+stime
(from /proc/<pid>/stat) of the nginx master and workers and the scenario's FastCGI processes, divided by the number
of requests wrk completed. Also reports one RSA-2048 signature from `openssl speed`.
With --repeat N, (b), (b'), (c) and (e)'s client_credentials on PostgreSQL are measured N times in interleaved
rounds ((b), (b'), ES256, EdDSA, RS256, ES256 on PostgreSQL, (b), ...), so that load from other programs hits all alike; the table shows each column's median over the rounds and the
per-round CPU ratios to (b) are printed below it.
Standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import pg_cluster  # noqa: E402  (standard library only, like this file)

ALGS = ("ES256", "EdDSA", "RS256")
SECRET = "bench-secret-0123456789"
FORM_BODY = "grant_type=client_credentials"
FLOOD_BODY = "grant_type=password&username=flood&password=wrong-password"
REFRESH_USER, REFRESH_PASSWORD = "rotator", "Rotator-pass-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


def wait_socket(path, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: {proc.args[0]} exited with {proc.returncode}")
        if os.path.exists(path):
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(path)
                    return
                except OSError:
                    pass
        time.sleep(0.02)
    sys.exit(f"bench: {path} not ready")


def to_ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def parse_wrk(text):
    result = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    result["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    result["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        result[f"p{pct}"] = to_ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    result["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return result


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def median_row(results):
    """One scenario measured in several rounds: the median of each column (a single round is returned as is)."""
    if len(results) == 1:
        return results[0]
    row = {"name": results[0]["name"] + f" (median of {len(results)})"}
    for key in ("rps", "p50", "p99", "cpu_us", "nginx_us", "fastcgi_us"):
        row[key] = median([r[key] for r in results])
    notes = [r["note"] for r in results if "note" in r]
    if notes:
        row["note"] = "; ".join(notes)
    return row


def rsa2048_sign_us(seconds):
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"^rsa\s+2048 bits\s+([\d.]+)s", out, re.M)
    return float(m.group(1)) * 1e6 if m else None


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            if m:
                model = m.group(1).strip()
    except OSError:
        pass
    nginx_v = subprocess.run([find_nginx(), "-v"], capture_output=True, text=True).stderr.strip()
    ssl_v = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}, {nginx_v.replace('nginx version: ', '')}, {ssl_v}"


def find_nginx():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(tmp, http_body, worker_connections=1024):
    """A benchmark's nginx.conf: one worker process in the foreground, pid, logs and temporary files under `tmp`, no
    access log, and `http_body` (upstreams, servers) inside the http block."""
    user = "user root root;" if os.geteuid() == 0 else ""
    return f"""{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; fastcgi_temp_path {tmp}/fastcgi; proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
{http_body}
}}
"""


def stop_all(procs):
    """SIGTERM to every process still running (last started first), then waits for each, SIGKILL after 5 s."""
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_nginx(tmp, ready, name="bench"):
    """Starts nginx on tmp/nginx.conf and returns its Popen once ready() stops raising OSError; exits the benchmark if
    nginx dies or is not ready within 15 s."""
    log = open(f"{tmp}/nginx-stderr.log", "wb")
    proc = subprocess.Popen([find_nginx(), "-e", f"{tmp}/nginx-error.log", "-p", tmp, "-c", f"{tmp}/nginx.conf"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name}: nginx did not start:\n" + open(f"{tmp}/nginx-error.log").read()[-2000:])
        try:
            ready()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    sys.exit(f"{name}: nginx not ready")


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.tmp = tempfile.mkdtemp(prefix="tokenfcgi-bench-")
        self.procs = []
        self.port = free_port()
        self.port_ka = free_port()
        self.port_flood = free_port()
        self.port_flood_pw = free_port()
        self.port_pg = free_port()
        self.cluster = None
        self.postgresql = args.postgresql and pg_cluster.available()

    def run(self, cmd, **kw):
        return subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)

    def tokenctl(self, *args):
        return self.run([os.path.join(self.build, "tokenctl"), "--config", self.config] + list(args))

    def setup(self):
        t = self.tmp
        self.config = os.path.join(t, "tokenfcgi.conf")
        with open(self.config, "w") as f:
            f.write(f"issuer = http://127.0.0.1:{self.port}\ndatabase = {t}/db\nlog_level = error\n"
                    f"access_token_signing_alg = ES256\n")
        os.makedirs(f"{t}/db")
        digest = base64.b64encode(hashlib.sha256(SECRET.encode()).digest()).decode()
        data = {
            "Clients": [{"ClientId": f"bench-{alg}", "ClientSecrets": [{"Value": digest}],
                         "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": [f"scope.{alg}"]}
                        for alg in ALGS],
            "ApiScopes": [{"Name": f"scope.{alg}"} for alg in ALGS],
            "ApiResources": [{"Name": f"res-{alg}", "Scopes": [f"scope.{alg}"],
                              "AllowedAccessTokenSigningAlgorithms": [alg]} for alg in ALGS],
            "Users": [{"SubjectId": "flood-1", "Username": "flood", "Password": "Flood-pass-1"}],
        }
        data["Clients"].append({"ClientId": "bench-password", "ClientSecrets": [{"Value": digest}],
                                "AllowedGrantTypes": ["password"], "AllowedScopes": ["scope.ES256"]})
        data["Clients"].append({"ClientId": "bench-refresh", "ClientSecrets": [{"Value": digest}],
                                "AllowedGrantTypes": ["password", "refresh_token"], "AllowedScopes": ["scope.ES256"],
                                "AllowOfflineAccess": True})
        data["Users"].append({"SubjectId": "rotator-1", "Username": REFRESH_USER, "Password": REFRESH_PASSWORD})
        with open(f"{t}/bench.json", "w") as f:
            json.dump(data, f)
        self.tokenctl("init")
        self.tokenctl("import", f"{t}/bench.json")
        for alg in ALGS:
            if alg != "ES256":
                self.tokenctl("key", "generate", "--alg", alg)
        # (e): the same store on PostgreSQL, copied from the LMDB one; workers that read it through config_pg.
        if self.postgresql:
            os.environ.setdefault("TF_BUILD_DIR", self.build)   # where pg_cluster keeps its initdb template
            self.cluster = pg_cluster.PgCluster(durable=True).start()   # synced commits, as LMDB's
            uri = self.cluster.create_database("bench")
            self.config_pg = os.path.join(t, "tokenfcgi-pg.conf")
            with open(self.config) as src, open(self.config_pg, "w") as dst:
                dst.write(src.read().replace(f"database = {t}/db\n", f"database = {uri}\n"))
            self.tokenctl("copy", f"{t}/db", uri)

        # "echo"/"token": single-threaded processes, one nginx connection per request. "echo_ka"/"token_ka": the
        # same programs with --threads T behind an upstream with keepalive = workers x T and fastcgi_keep_conn on.
        # libfcgi serves a kept-alive connection until nginx closes it, so every thread is tied to one nginx
        # connection; nginx must never hold more connections than there are threads (see --ka-threads).
        # "echo_close": fcgi_echo --close-at-once, i.e. with the connection close tokenfcgi uses.
        # "flood": tokenfcgi with --flood-threads threads, for (d).
        # "token_pg": as "token", on the PostgreSQL store, for (e).
        self.sockets = {"echo": [], "echo_close": [], "token": [], "echo_ka": [], "token_ka": [], "flood": [],
                        "token_pg": []}
        kinds = [("echo", "fcgi_echo"), ("echo_close", "fcgi_echo"), ("token", "tokenfcgi"),
                 ("echo_ka", "fcgi_echo"), ("token_ka", "tokenfcgi"), ("flood", "tokenfcgi")]
        if self.postgresql:
            kinds.append(("token_pg", "tokenfcgi"))
        for kind, binary in kinds:
            for i in range(self.args.workers):
                sock = f"{t}/{kind}{i}.sock"
                cmd = [os.path.join(self.build, binary)]
                if binary == "tokenfcgi":
                    cmd += ["--config", self.config_pg if kind == "token_pg" else self.config]
                cmd += ["--listen", "unix:" + sock]
                if kind.endswith("_ka"):
                    cmd += ["--threads", str(self.args.ka_threads)]
                if kind == "flood":
                    cmd += ["--threads", str(self.args.flood_threads)]
                if kind == "echo_close":
                    cmd += ["--close-at-once"]
                log = open(f"{t}/{kind}{i}.log", "wb")
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
                log.close()
                self.procs.append(p)
                wait_socket(sock, p)
                self.sockets[kind].append((sock, p.pid))

        # The static body is as long as a real RS256 token response: start nginx, ask for one, then reload nginx
        # with a static body of that length.
        self.start_nginx("{}")
        sample = self.token_request("RS256")
        def static(n):
            return json.dumps({"access_token": "x" * n, "token_type": "Bearer", "expires_in": 3600,
                               "scope": "api1 api2"}, separators=(",", ":"))
        static_body = static(max(0, len(sample) - len(static(0))))
        self.static_len = len(static_body)
        self.write_nginx_config(static_body)
        self.nginx.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while len(self.post("/static")) != self.static_len:
            if time.monotonic() > deadline:
                sys.exit("bench: nginx did not reload")
            time.sleep(0.05)

    def post(self, path, alg="ES256", port=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port or self.port}{path}", data=FORM_BODY.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Authorization": self.basic(alg)})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def token_request(self, alg, port=None):
        return self.post("/connect/token", alg, port)

    @staticmethod
    def basic(alg):
        return "Basic " + base64.b64encode(f"bench-{alg}:{SECRET}".encode()).decode()

    def write_nginx_config(self, static_body):
        t = self.tmp
        echo = "\n".join(f"server unix:{s};" for s, _ in self.sockets["echo"])
        echo_close = "\n".join(f"server unix:{s};" for s, _ in self.sockets["echo_close"])
        token = "\n".join(f"server unix:{s};" for s, _ in self.sockets["token"])
        echo_ka = "\n".join(f"server unix:{s};" for s, _ in self.sockets["echo_ka"])
        token_ka = "\n".join(f"server unix:{s};" for s, _ in self.sockets["token_ka"])
        flood = "\n".join(f"server unix:{s};" for s, _ in self.sockets["flood"])
        token_pg = "\n".join(f"server unix:{s};" for s, _ in self.sockets["token_pg"])
        postgresql = f"""
    upstream token_pg {{ {token_pg} }}
    server {{
        listen 127.0.0.1:{self.port_pg} backlog=1024;
        client_max_body_size 64k;
        location = /connect/token {{ {{fastcgi}} fastcgi_pass token_pg; }}
    }}""" if token_pg else ""
        ka = self.args.workers * self.args.ka_threads
        fastcgi = 'fastcgi_param REMOTE_USER ""; include /etc/nginx/fastcgi_params; fastcgi_param REMOTE_USER "";'
        postgresql = postgresql.replace("{fastcgi}", fastcgi)
        conf = nginx_conf(t, f"""    upstream echo {{ {echo} }}
    upstream echo_close {{ {echo_close} }}
    upstream token {{ {token} }}
    server {{
        listen 127.0.0.1:{self.port} backlog=1024;
        client_max_body_size 64k;
        location = /static {{ default_type application/json; add_header Cache-Control no-store;
                              add_header Pragma no-cache; return 200 '{static_body}'; }}
        location = /echo {{ {fastcgi} fastcgi_pass echo; }}
        location = /echo-close {{ {fastcgi} fastcgi_pass echo_close; }}
        location = /connect/token {{ {fastcgi} fastcgi_pass token; }}
    }}
    upstream echo_ka {{ {echo_ka} keepalive {ka}; }}
    upstream token_ka {{ {token_ka} keepalive {ka}; }}
    server {{
        listen 127.0.0.1:{self.port_ka} backlog=1024;
        client_max_body_size 64k;
        location = /echo {{ {fastcgi} fastcgi_keep_conn on; fastcgi_pass echo_ka; }}
        location = /connect/token {{ {fastcgi} fastcgi_keep_conn on; fastcgi_pass token_ka; }}
    }}
    upstream flood {{ {flood} }}
    log_format status_only $status;
    server {{
        listen 127.0.0.1:{self.port_flood} backlog=1024;
        client_max_body_size 64k;
        location = /connect/token {{ {fastcgi} fastcgi_pass flood; }}
    }}
    server {{
        listen 127.0.0.1:{self.port_flood_pw} backlog=1024;
        client_max_body_size 64k;
        access_log {t}/flood-access.log status_only;
        location = /connect/token {{ {fastcgi} fastcgi_pass flood; }}
    }}{postgresql}""")
        with open(f"{t}/nginx.conf", "w") as f:
            f.write(conf)

    def start_nginx(self, static_body):
        self.write_nginx_config(static_body)
        self.nginx = start_nginx(self.tmp, lambda: self.post("/static"))
        self.procs.append(self.nginx)

    def check(self, alg, port=None):
        raw = self.token_request(alg, port)
        token = json.loads(raw)["access_token"]
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        if header.get("alg") != alg:
            sys.exit(f"bench: client bench-{alg} got a token signed with {header.get('alg')}")
        return len(raw)

    def postgresql_pids(self):
        """The PostgreSQL server's processes (postmaster and its children), or [] without (e)."""
        if self.cluster is None:
            return []
        with open(os.path.join(self.cluster.data_dir, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        return [postmaster] + children(postmaster)

    def measure(self, name, path, alg, fastcgi_pids, port=None, script=None, warmup=True, database=False):
        """One wrk run. script: a wrk Lua script instead of the client_credentials one; database: count the
        PostgreSQL server's CPU too (its processes that live through the run)."""
        lua = os.path.join(self.tmp, f"{name}.lua")
        with open(lua, "w") as f:
            f.write(script or ('wrk.method = "POST"\n'
                               f'wrk.body = "{FORM_BODY}"\n'
                               'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                               f'wrk.headers["Authorization"] = "{self.basic(alg or "ES256")}"\n'))
        url = f"http://127.0.0.1:{port or self.port}{path}"
        wrk = ["wrk", f"-t{self.args.threads}", f"-c{self.args.connections}", "--latency", "-s", lua, url]
        if warmup:
            subprocess.run(wrk[:1] + ["-d2s"] + wrk[1:], capture_output=True, check=True)  # warm-up, not counted
        nginx_pids = [self.nginx.pid] + children(self.nginx.pid)
        db_before = {p: cpu_ticks(p) for p in (self.postgresql_pids() if database else [])}
        before = [sum(cpu_ticks(p) for p in nginx_pids), sum(cpu_ticks(p) for p in fastcgi_pids)]
        out = subprocess.run(wrk[:1] + [f"-d{self.args.duration}s"] + wrk[1:], capture_output=True, text=True,
                             check=True).stdout
        after = [sum(cpu_ticks(p) for p in nginx_pids), sum(cpu_ticks(p) for p in fastcgi_pids)]
        db_ticks = 0
        for p, ticks in db_before.items():
            try:
                db_ticks += cpu_ticks(p) - ticks
            except OSError:
                pass
        r = parse_wrk(out)
        r["name"] = name
        per_request = (lambda ticks: ticks / CLK_TCK * 1e6 / r["requests"]) if r["requests"] else (lambda _: float("nan"))
        r["nginx_us"] = per_request(after[0] - before[0])
        r["fastcgi_us"] = per_request(after[1] - before[1])
        r["db_us"] = per_request(db_ticks)
        r["cpu_us"] = r["nginx_us"] + r["fastcgi_us"] + r["db_us"]
        if r["non2xx"] or r["socket_errors"]:
            r["note"] = f"{r['non2xx']} non-2xx, {r['socket_errors']} socket errors"
        print(f"  {name}: {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
              f"{r['cpu_us']:.1f} us CPU/request (nginx {r['nginx_us']:.1f}, FastCGI {r['fastcgi_us']:.1f}"
              + (f", PostgreSQL {r['db_us']:.1f}" if database else "") + ")", file=sys.stderr)
        return r

    def refresh_tokens(self, port, n):
        """n refresh tokens of n families from the password grant (in parallel, two at a time)."""
        body = urllib.parse.urlencode({"grant_type": "password", "username": REFRESH_USER,
                                       "password": REFRESH_PASSWORD, "scope": "scope.ES256 offline_access"})
        basic = "Basic " + base64.b64encode(f"bench-refresh:{SECRET}".encode()).decode()

        def one(_):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/connect/token", data=body.encode(),
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "Authorization": basic})
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())["refresh_token"]

        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return list(pool.map(one, range(n)))

    def refresh(self, name, port, fastcgi_pids, database):
        """(e) refresh_token rotation: every wrk thread keeps a queue of refresh tokens (its share of fresh ones),
        sends the first and queues the one each 200 answer returns, so each token is redeemed once. No warm-up run:
        it would spend the tokens."""
        tokens = self.refresh_tokens(port, self.args.connections + 4 * self.args.threads)
        basic = "Basic " + base64.b64encode(f"bench-refresh:{SECRET}".encode()).decode()
        script = f"""
local all = {{ {", ".join(json.dumps(t) for t in tokens)} }}
local threads = {self.args.threads}
local n = 0
function setup(thread)
  local mine = {{}}
  for i = n + 1, #all, threads do table.insert(mine, all[i]) end
  thread:set("pool", table.concat(mine, " "))
  n = n + 1
end
function init(args)
  queue = {{}}
  for t in string.gmatch(pool, "%S+") do table.insert(queue, t) end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "{basic}"
end
function request()
  local t = table.remove(queue, 1) or "none"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. t)
end
function response(status, headers, body)
  if status == 200 then
    local t = string.match(body, '"refresh_token":"([^"]+)"')
    if t then table.insert(queue, t) end
  end
end
"""
        return self.measure(name, "/connect/token", "ES256", fastcgi_pids, port, script=script, warmup=False,
                            database=database)

    def flood(self):
        """(d): client_credentials measured as (c) during a flood of wrong passwords; returns (row, flood statuses)."""
        lua = os.path.join(self.tmp, "flood.lua")
        basic = "Basic " + base64.b64encode(f"bench-password:{SECRET}".encode()).decode()
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\n'
                    f'wrk.body = "{FLOOD_BODY}"\n'
                    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                    f'wrk.headers["Authorization"] = "{basic}"\n')
        log = os.path.join(self.tmp, "flood-access.log")
        open(log, "w").close()
        self.nginx.send_signal(signal.SIGUSR1)  # reopen the access log
        c = self.args.flood_connections
        flood = subprocess.Popen(["wrk", "-t1", f"-c{c}", f"-d{self.args.duration + 4}s", "-s", lua,
                                  f"http://127.0.0.1:{self.port_flood_pw}/connect/token"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)  # the flood is under way before the warm-up and the measurement start
            # The workers' hashing helpers (tokenfcgi --hash-helper, their children) do the flood's Argon2id work.
            workers = [pid for _, pid in self.sockets["flood"]]
            row = self.measure(f"(d) tokenfcgi ES256 during a flood of {c} connections of wrong passwords",
                               "/connect/token", "ES256", workers + [k for w in workers for k in children(w)],
                               self.port_flood)
        finally:
            flood.wait()
        with open(log) as f:
            statuses = [line.strip() for line in f if line.strip()]
        counts = {st: statuses.count(st) for st in sorted(set(statuses))}
        return row, counts

    def stop(self):
        stop_all(self.procs)
        if self.cluster is not None:
            self.cluster.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="FastCGI worker processes for (b) and (c)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="measure (b), (b') and (c) this many times in interleaved rounds and report medians")
    ap.add_argument("--ka-threads", type=int, default=16,
                    help="threads per FastCGI process in the keepalive scenarios; nginx keepalive = workers x this, "
                         "which must be >= --connections or requests stall")
    ap.add_argument("--flood-connections", type=int, default=16, help="connections sending wrong passwords in (d)")
    ap.add_argument("--flood-threads", type=int, default=32,
                    help="threads per FastCGI process in (d); keep workers x this above both connection counts")
    ap.add_argument("--no-postgresql", dest="postgresql", action="store_false",
                    help="leave out (e), the PostgreSQL store")
    args = ap.parse_args()

    b = Bench(args)
    try:
        b.setup()
        sizes = {alg: b.check(alg) for alg in ALGS}
        token_pids = [pid for _, pid in b.sockets["token"]]
        print(f"bench: wrk -t{args.threads} -c{args.connections} -d{args.duration}s on 127.0.0.1:{b.port}, "
              f"{args.workers} FastCGI processes for (b) and (c)", file=sys.stderr)
        static = b.measure("(a) nginx static body", "/static", None, [])
        # One round: (b), (b'), then (c) for each of ALGS.
        scenarios = [("(b) fcgi_echo (bare FastCGI)", "/echo", None, [pid for _, pid in b.sockets["echo"]]),
                     ("(b') fcgi_echo --close-at-once", "/echo-close", None,
                      [pid for _, pid in b.sockets["echo_close"]])]
        scenarios += [(f"(c) tokenfcgi {alg}", "/connect/token", alg, token_pids) for alg in ALGS]
        if b.postgresql:
            b.check("ES256", b.port_pg)
            scenarios.append(("(e) tokenfcgi ES256, PostgreSQL store", "/connect/token", "ES256",
                              [pid for _, pid in b.sockets["token_pg"]], b.port_pg, None, True, True))
        # One RSA-2048 signature (`openssl speed`) is measured in every round, right after the scenarios, so that
        # the RS256 goal compares numbers taken under the same load.
        rounds, rsa_rounds = [], []
        for _ in range(max(1, args.repeat)):
            rounds.append([b.measure(*sc) for sc in scenarios])
            rsa_rounds.append(rsa2048_sign_us(3))
        measured = [median_row([r[i] for r in rounds]) for i in range(len(scenarios))]
        if len(rounds) > 1:  # ratios to (b) within each round, then their median: robust to load between rounds
            for i, row in enumerate(measured):
                row["cpu_ratio"] = median([r[i]["cpu_us"] / r[0]["cpu_us"] for r in rounds])
        b.check("ES256", b.port_ka)
        ka = f"keepalive {args.workers * args.ka_threads}, {args.workers}×{args.ka_threads} threads"
        keepalive = [b.measure(f"(b-ka) fcgi_echo, {ka}", "/echo", None,
                               [pid for _, pid in b.sockets["echo_ka"]], b.port_ka),
                     b.measure(f"(c-ka) tokenfcgi ES256, {ka}", "/connect/token", "ES256",
                               [pid for _, pid in b.sockets["token_ka"]], b.port_ka)]
        b.check("ES256", b.port_flood)
        flooded, flood_statuses = b.flood()
        rotation = []
        if b.postgresql:
            rotation = [b.refresh("(e) refresh_token rotation, LMDB store", b.port, token_pids, False),
                        b.refresh("(e) refresh_token rotation, PostgreSQL store", b.port_pg,
                                  [pid for _, pid in b.sockets["token_pg"]], True)]
    finally:
        b.stop()

    rows = [static] + measured + keepalive + [flooded]
    base = measured[0]
    es, rs = measured[2], measured[4]
    bka, eska = keepalive
    print()
    print(f"Machine: {machine()}.  ")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, POST {FORM_BODY} with Basic auth; "
          f"nginx 1 worker process; {args.workers} FastCGI processes for (b) and (c); log_level = error. "
          f"Response bodies: static {b.static_len} B, token "
          + ", ".join(f"{a} {n} B" for a, n in sizes.items()) + ".")
    print()
    print("| scenario | requests/s | p50 ms | p99 ms | server CPU µs/request (nginx + FastCGI) | CPU vs (b) | "
          "requests/s vs (b) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        note = f" ({r['note']})" if "note" in r else ""
        print(f"| {r['name']}{note} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['cpu_us']:.1f} "
              f"({r['nginx_us']:.1f} + {r['fastcgi_us']:.1f}) | "
              f"{r.get('cpu_ratio', r['cpu_us'] / base['cpu_us']):.2f}× | {r['rps'] / base['rps']:.2f}× |")
    print()

    def ratio(i, j):  # median over the rounds of scenario i's CPU / scenario j's CPU
        return median([r[i]["cpu_us"] / r[j]["cpu_us"] for r in rounds])
    if len(rounds) > 1:
        for i, (name, *_rest) in enumerate(scenarios[1:], start=1):
            ratios = [r[i]["cpu_us"] / r[0]["cpu_us"] for r in rounds]
            print(f"- {name} CPU / (b) CPU in each round: " + ", ".join(f"{x:.2f}" for x in ratios))
    print(f"- keepalive: ES256 {eska['cpu_us'] / bka['cpu_us']:.2f}× (b-ka); (b-ka) {bka['cpu_us'] / base['cpu_us']:.2f}× "
          f"and {bka['rps'] / base['rps']:.2f}× the requests/s of (b); (c-ka) ES256 {eska['cpu_us'] / es['cpu_us']:.2f}× "
          f"the CPU and {eska['rps'] / es['rps']:.2f}× the requests/s of (c) ES256")
    how = " (medians of the per-round ratios)" if len(rounds) > 1 else ""
    es_ratio = ratio(2, 0)
    print(f"- ES256: {es_ratio:.2f}× (b){how} vs goal ≤ 2×: {'met' if es_ratio <= 2 else 'NOT met'}; "
          f"{ratio(2, 1):.2f}× (b'), the baseline with tokenfcgi's connection close")
    if None not in rsa_rounds:
        print("- One RSA-2048 signature (`openssl speed -seconds 3 rsa2048`, after each round): " +
              ", ".join(f"{x:.0f}" for x in rsa_rounds) + " µs.")
        # RS256 CPU / (1.2 × ((b) + one RSA signature)) in each round; ≤ 1 meets the goal.
        shares = [r[4]["cpu_us"] / (1.2 * (r[0]["cpu_us"] + rsa)) for r, rsa in zip(rounds, rsa_rounds)]
        shares_close = [r[4]["cpu_us"] / (1.2 * (r[1]["cpu_us"] + rsa)) for r, rsa in zip(rounds, rsa_rounds)]
        print(f"- RS256: CPU / (1.2 × ((b) + one RSA signature)) = {median(shares):.2f}{how} vs goal ≤ 1: "
              f"{'met' if median(shares) <= 1 else 'NOT met'}; {median(shares_close):.2f} with (b') instead of (b)")
        if len(rounds) > 1:
            print("  in each round: " + ", ".join(f"{x:.2f}" for x in shares))
    if b.postgresql:
        pg_row = len(scenarios) - 1
        cc_lmdb, cc_pg = measured[2], measured[pg_row]
        rot_lmdb, rot_pg = rotation
        print()
        print("(e) The two stores side by side (CPU per request: nginx + FastCGI workers, + the PostgreSQL server on "
              "PostgreSQL):")
        print()
        print("| request | LMDB requests/s | LMDB p99 ms | LMDB CPU µs/request | PostgreSQL requests/s | "
              "PostgreSQL p99 ms | PostgreSQL CPU µs/request (of which the server) | CPU PostgreSQL / LMDB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for what, lm, pg, cpu in (("client_credentials ES256", cc_lmdb, cc_pg, ratio(pg_row, 2)),
                                  ("refresh_token rotation", rot_lmdb, rot_pg, rot_pg["cpu_us"] / rot_lmdb["cpu_us"])):
            note = "".join(f" ({r['note']})" for r in (lm, pg) if "note" in r)
            print(f"| {what}{note} | {lm['rps']:.0f} | {lm['p99']:.2f} | {lm['cpu_us']:.1f} | {pg['rps']:.0f} | "
                  f"{pg['p99']:.2f} | {pg['cpu_us']:.1f} ({pg['db_us']:.1f}) | {cpu:.2f}× |")
        print()
        print(f"- client_credentials ES256 on PostgreSQL: {ratio(pg_row, 2):.2f}× the CPU per request of LMDB{how} "
              f"vs goal ≤ 1.10×: {'met' if ratio(pg_row, 2) <= 1.10 else 'NOT met'}")
        print(f"- refresh_token rotation on PostgreSQL: {rot_pg['rps']:.0f} requests/s, p99 {rot_pg['p99']:.2f} ms "
              f"(LMDB: {rot_lmdb['rps']:.0f} requests/s, p99 {rot_lmdb['p99']:.2f} ms)")
    else:
        print("- (e) left out: " + ("--no-postgresql" if not args.postgresql else
                                    "PostgreSQL 15 is not installed (" + ", ".join(pg_cluster.missing()) + ")"))
    print(f"- (d) client_credentials p99 during the password flood: {flooded['p99']:.2f} ms vs goal < 10 ms: "
          f"{'met' if flooded['p99'] < 10 else 'NOT met'} (without the flood, (c) ES256: {es['p99']:.2f} ms); the "
          f"flood's password requests by status (400 checked, 503 refused, 499 cut by wrk at the end): "
          + ", ".join(f"{n} × {st}" for st, n in flood_statuses.items()))
    if any("note" in r for r in keepalive):
        print("\nNote: requests failed in the keepalive scenarios: the libfcgi keepalive stall (see docs/benchmark.md).")
    if any("note" in r for r in [static] + measured + rotation):
        print("\nWARNING: some requests failed (see the notes in the table); the numbers are not valid.")
        sys.exit(1)

if __name__ == "__main__":
    main()
