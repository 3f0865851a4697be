"""The write path beside the read path: `make bench`'s second table (also runnable alone).

  python3 bench/write_path.py --build build-bench [--duration S] [--connections N] [--workers P] [--threads T]
                              [--sync full,meta-async] [--strace-seconds S] [--rounds N] [--pairs N]
  python3 bench/write_path.py --build build-bench --reload-clients 10000 [--threads 8] [--connections 16]

nginx (1 worker process) in front of P tokenfcgi processes with --threads T each, on one LMDB, driven by wrk with
-c N for S seconds per scenario, all tokens signed with ES256:
  client_credentials   the read path: no store write
  refresh rotation     each connection rotates its own refresh token chain (RefreshTokenUsage OneTimeOnly): one
                       write transaction per request (consume the old token, store the new one)
  code redemption      authorization_code grant (no PKCE, no openid): each request redeems a code of a pool made
                       beforehand, outside the timed part, by wrk on the authorize endpoint (nginx passes a fixed
                       REMOTE_USER, login_providers = remote_user)
  revocation           RFC 7009 revocation of refresh tokens (the redemption's), one family per request
  device polling       the device_code grant (RFC 8628) on pending device codes made beforehand, untimed, by wrk on
                       the device authorization endpoint: each code polled once, answered 400 authorization_pending
                       after the write that records the poll (the answers' other error codes are counted)
  password             the password grant (Argon2id at the default cost), for reference
and, with --live-grants N (default 1,000,000; 0 leaves it out), refresh rotation on a second database filled
beforehand with N live refresh tokens (fill_grants, beside tokenfcgi in the build tree), measured right after the
rotation on the nearly empty one in every round, with its rate as a share of that rotation's (the median of each
round's share), so that the two are measured side by side rather than minutes apart. With --compact-filled the
filled database is first replaced by its compacted copy (`tokenctl backup`, then the restore steps of
docs/deploy.md), which drops the free pages the fill's large transactions leave behind.
Every scenario runs for each lmdb_sync setting (each with its own P processes on each database). Reports
requests/s, p50/p99, server CPU per request (nginx + workers, from /proc) and its ratio to client_credentials of the
same setting, and, from a separate shorter run of each scenario under `strace -c -f` attached to the workers (which
slows them, so its rates are not reported), the fdatasync, fsync, pwrite64 and pwritev calls per request: the syncs
a request costs.
Token pools (refresh tokens, codes) are made fresh for every wrk run, so no run presents a token another consumed.
With --rounds N every setting's scenarios (and the rotation on the filled database) run N times, the settings
interleaved, and the table shows each column's median and the median of each round's ratio to client_credentials
(syscalls come from the first round's strace runs; each round's tokens stay in the databases, so later rounds run on
databases a few hundred thousand grants larger).

With --pairs N, code redemption, refresh rotation and revocation then run N more times each for --pair-seconds
(default 3) right next to a client_credentials run of the same length, the order alternating, and a second table
gives the mean and standard deviation of the pairs' ratios: two runs minutes apart meet different states of this
machine (client_credentials alone moves by ±17% between runs), two runs side by side nearly the same, so these ratios
are the precise ones (journal §17).

With --reload-clients N, only the configuration reload is measured instead: N more clients in the database,
client_credentials on the first sync setting for --duration seconds while `tokenctl session rotate-key` changes the
configuration generation every --reload-interval seconds (so the worker keeps rebuilding its snapshot of N clients),
against the same without the rotations; requests/s, p50/p90/p99 and the slowest request of each.

With --perf DIR, the workers are recorded with `perf record -g` during the timed client_credentials, code redemption
and refresh rotation runs, and the rotation on the filled database (perf report -i DIR/full-refresh_rotation.data
--no-children; DIR/full-refresh_rotation_live_grants.data); the recording costs the workers some CPU, so take the
rates of such a run as relative only.
Standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same nginx, wrk and /proc helpers as the read-path table)

SECRET = "bench-secret-0123456789"
CB = "http://127.0.0.1/cb"
SCOPE = "api1 offline_access"
SYNC_SETTINGS = ("full", "meta-async")
FILLED = "-filled"  # a setting's target on the database filled with --live-grants grants: "full-filled"
SYSCALLS = ("fdatasync", "fsync", "pwrite64", "pwritev")

# One wrk Lua script for every scenario that needs a pool: each wrk thread reads its share of the pool file
# (lines i with i % threads == its id); request() takes a value from the thread's pool; response() may collect a
# value from the answer (OUT pattern), and with RECYCLE puts it back into the pool (a refresh chain continues).
# done() writes every collected value to OUT_FILE.
POOL_LUA = r"""
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  pool = {}
  out = {}
  exhausted = 0
  nomatch = 0
  local n = 0
  if @POOL@ == "" then return end
  for line in io.lines(@POOL@) do
    if n % @THREADS@ == id then table.insert(pool, line) end
    n = n + 1
  end
end
function request()
  if @POOL@ == "" then return wrk.format(@METHOD@, @PATH@, headers, nil) end
  local v = table.remove(pool)
  if v == nil then
    exhausted = exhausted + 1
    v = "exhausted"
  end
  return wrk.format(@METHOD@, @PATH@ .. @BEFORE@ .. v .. @AFTER@, headers, @BODY@)
end
headers = {}
@HEADERS@
function response(status, hdrs, body)
  if status >= 400 and failure == nil then failure = status .. " " .. string.sub(body, 1, 200) end
  if @OUT@ == "" then return end
  local text = body
  if @OUT_HEADER@ ~= "" then text = hdrs[@OUT_HEADER@] or "" end
  local v = string.match(text, @OUT@)
  if v == nil and status < 400 then
    nomatch = nomatch + 1
    if nomatch == 1 then io.stderr:write("answer without a value: " .. status .. " " .. string.sub(text, 1, 300) .. "\n") end
  end
  if v ~= nil then
    if @RECYCLE@ then table.insert(pool, v) else table.insert(out, v) end
  end
end
function done(summary, latency, requests)
  local f = io.open(@OUT_FILE@, "w")
  local short = 0
  for _, t in ipairs(threads) do
    local got = t:get("out")
    if got then for _, v in ipairs(got) do f:write(v, "\n") end end
    short = short + (t:get("exhausted") or 0)
    if t:get("failure") then io.stderr:write("first failure: " .. t:get("failure") .. "\n") end
  end
  f:close()
  io.stderr:write("pool exhausted: " .. short .. "\n")
end
"""


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def lua_string(s):
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for these ASCII values


class WritePathBench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.tmp = tempfile.mkdtemp(prefix="tokenfcgi-wbench-")
        self.procs = []
        # Where requests go: each sync setting on the nearly empty database, and with --live-grants also on the
        # filled one (setting + FILLED).
        self.targets = SYNC_SETTINGS
        if args.live_grants and not args.reload_clients:
            self.targets += tuple(sync + FILLED for sync in SYNC_SETTINGS)
        self.ports = {target: bench.free_port() for target in self.targets}
        self.workers = {}  # target -> [(socket, pid)]
        self.filled = ""  # fill_grants's report
        self.seq = 0
        self.perf_name = None  # the timed scenario being run, for --perf

    def run(self, cmd, **kw):
        return subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)

    def config(self, sync):
        return os.path.join(self.tmp, f"{sync}.conf")

    def tokenctl(self, *args, target="full"):
        return self.run([os.path.join(self.build, "tokenctl"), "--config", self.config(target)] + list(args))

    def setup(self):
        t = self.tmp
        for target in self.targets:
            sync, filled = target.removesuffix(FILLED), target.endswith(FILLED)
            with open(self.config(target), "w") as f:
                f.write(f"issuer = http://127.0.0.1:{self.ports[target]}\n"
                        f"database = {t}/{'db-filled' if filled else 'db'}\nlog_level = error\n"
                        f"access_token_signing_alg = ES256\nlogin_providers = remote_user local\n"
                        f"refresh_token_reuse_grace_seconds = 0\nmax_readers = 1000\nlmdb_sync = {sync}\n"
                        f"map_size = 4G\n")
        os.makedirs(f"{t}/db")
        digest = base64.b64encode(hashlib.sha256(SECRET.encode()).digest()).decode()
        secret = [{"Value": digest}]
        data = {
            "Clients": [
                {"ClientId": "cc", "ClientSecrets": secret, "AllowedGrantTypes": ["client_credentials"],
                 "AllowedScopes": ["api1"]},
                {"ClientId": "app", "ClientSecrets": secret, "AllowedGrantTypes": ["authorization_code", "password"],
                 "RequirePkce": False, "RedirectUris": [CB], "AllowedScopes": ["api1"], "AllowOfflineAccess": True,
                 "RefreshTokenUsage": "OneTimeOnly"},
                {"ClientId": "tv", "ClientSecrets": secret, "AllowedGrantTypes": [DEVICE_GRANT],
                 "AllowedScopes": ["api1"], "DeviceCodeLifetime": 3600},
            ],
            "ApiScopes": [{"Name": "api1"}],
            "ApiResources": [{"Name": "api", "Scopes": ["api1"], "AllowedAccessTokenSigningAlgorithms": ["ES256"]}],
            "Users": [{"SubjectId": "1001", "Username": "alice", "Password": "Alice-pass-1"}],
        }
        for i in range(self.args.reload_clients):
            data["Clients"].append({"ClientId": f"extra{i:05d}", "ClientSecrets": secret,
                                    "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"]})
        with open(f"{t}/data.json", "w") as f:
            json.dump(data, f)
        self.tokenctl("init")
        self.tokenctl("import", f"{t}/data.json")
        if "full" + FILLED in self.targets:
            os.makedirs(f"{t}/db-filled")
            self.tokenctl("init", target="full" + FILLED)
            self.tokenctl("import", f"{t}/data.json", target="full" + FILLED)
            self.fill(self.args.live_grants)
            if self.args.compact_filled:  # as docs/deploy.md's backup and restore: a compacted copy replaces the file
                self.tokenctl("backup", f"{t}/db-compacted", target="full" + FILLED)
                os.replace(f"{t}/db-compacted/data.mdb", f"{t}/db-filled/data.mdb")
                os.remove(f"{t}/db-filled/lock.mdb")
        for target in self.targets:
            self.workers[target] = []
            for i in range(self.args.workers):
                sock = f"{t}/{target}-{i}.sock"
                cmd = [os.path.join(self.build, "tokenfcgi"), "--config", self.config(target), "--listen",
                       "unix:" + sock, "--threads", str(self.args.threads)]
                log = open(f"{t}/{target}-{i}.log", "wb")
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
                log.close()
                self.procs.append(p)
                bench.wait_socket(sock, p)
                self.workers[target].append((sock, p.pid))
        self.start_nginx()

    def start_nginx(self):
        t = self.tmp
        params = 'fastcgi_param REMOTE_USER ""; include /etc/nginx/fastcgi_params; fastcgi_param REMOTE_USER "";'
        # The authorize location alone passes a fixed REMOTE_USER (first and last, whichever a parser keeps).
        as_alice = ('fastcgi_param REMOTE_USER "alice"; include /etc/nginx/fastcgi_params; '
                    'fastcgi_param REMOTE_USER "alice";')
        upstreams = "".join(f"upstream {s.replace('-', '_')} {{ "
                            + " ".join(f"server unix:{sock};" for sock, _ in self.workers[s]) + " }\n"
                            for s in self.targets)
        servers = "".join(f"""
    server {{
        listen 127.0.0.1:{self.ports[s]} backlog=1024;
        client_max_body_size 64k;
        location = /connect/authorize {{ {as_alice} fastcgi_pass {s.replace('-', '_')}; }}
        location / {{ {params} fastcgi_pass {s.replace('-', '_')}; }}
    }}""" for s in self.targets)
        with open(f"{t}/nginx.conf", "w") as f:
            f.write(bench.nginx_conf(t, f"    {upstreams}\n{servers}", worker_connections=2048))
        self.nginx = bench.start_nginx(t, lambda: self.post("full", "/connect/token", "grant_type=client_credentials",
                                                            "cc"), name="write_path")
        self.procs.append(self.nginx)

    @staticmethod
    def basic(client):
        return "Basic " + base64.b64encode(f"{client}:{SECRET}".encode()).decode()

    def post(self, sync, path, body, client):
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports[sync]}{path}", data=body.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Authorization": self.basic(client)})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode())

    # -- wrk runs ---------------------------------------------------------------------------------------------------

    def lua(self, method, path, before="", after="", body=None, client=None, pool=None, out="", out_header="",
            recycle=False):
        """A wrk script. Without a pool: a fixed request. With one: the pool script above; returns (path, out file)."""
        self.seq += 1
        script = os.path.join(self.tmp, f"s{self.seq}.lua")
        out_file = os.path.join(self.tmp, f"s{self.seq}.out")
        headers = []
        if client:
            headers.append(f'headers["Authorization"] = {lua_string(self.basic(client))}')
        if method == "POST":
            headers.append('headers["Content-Type"] = "application/x-www-form-urlencoded"')
        if pool is None and not out:
            text = f"wrk.method = {lua_string(method)}\n" + (f"wrk.body = {lua_string(body)}\n" if body else "")
            text += "\n".join(h.replace("headers[", "wrk.headers[") for h in headers) + "\n"
        else:
            text = POOL_LUA
            repl = {"@POOL@": lua_string(pool or ""), "@THREADS@": str(self.args.wrk_threads),
                    "@METHOD@": lua_string(method), "@PATH@": lua_string(path), "@HEADERS@": "\n".join(headers),
                    "@OUT_FILE@": lua_string(out_file), "@OUT_HEADER@": lua_string(out_header),
                    "@RECYCLE@": "true" if recycle else "false"}
            if method == "POST":
                repl.update({"@BEFORE@": '""', "@AFTER@": '""', "@BODY@": f"{lua_string(before)} .. v .. {lua_string(after)}"})
                text = text.replace('@PATH@ .. @BEFORE@ .. v .. @AFTER@', '@PATH@')
            else:
                repl.update({"@BEFORE@": lua_string(before), "@AFTER@": lua_string(after), "@BODY@": "nil"})
            for k, v in repl.items():
                text = text.replace(k, v)
            text = text.replace("@OUT@", lua_string(out))  # last: a pattern may contain any of the names above
        with open(script, "w") as f:
            f.write(text)
        return script, out_file

    def wrk(self, sync, path, script, seconds, connections=None, strace=False, show_failures=True):
        """Runs wrk; returns the parsed result with CPU per request (and syscalls per request under strace)."""
        url = f"http://127.0.0.1:{self.ports[sync]}{path}"
        c = connections or self.args.connections
        cmd = ["wrk", f"-t{self.args.wrk_threads}", f"-c{c}", f"-d{seconds}s", "--latency", "-s", script, url]
        pids = [pid for _, pid in self.workers[sync]]
        nginx_pids = [self.nginx.pid] + bench.children(self.nginx.pid)
        tracer = None
        if strace:
            trace_out = os.path.join(self.tmp, f"strace{self.seq}.txt")
            tracer = subprocess.Popen(["strace", "-c", "-f", "-o", trace_out, "-e", "trace=" + ",".join(SYSCALLS)]
                                      + [a for pid in pids for a in ("-p", str(pid))],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # attached to every thread
        recorder = None
        if self.args.perf and not strace and self.perf_name:
            os.makedirs(self.args.perf, exist_ok=True)
            data = os.path.join(self.args.perf, f"{sync.removesuffix(FILLED)}-{self.perf_name}.data")
            recorder = subprocess.Popen(["perf", "record", "-g", "-o", data,
                                         "-p", ",".join(str(pid) for pid in pids)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        before = [sum(bench.cpu_ticks(p) for p in nginx_pids), sum(bench.cpu_ticks(p) for p in pids)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        after = [sum(bench.cpu_ticks(p) for p in nginx_pids), sum(bench.cpu_ticks(p) for p in pids)]
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(60)
        r = bench.parse_wrk(proc.stdout)
        m = re.search(r"^\s+90%\s+(\S+)", proc.stdout, re.M)
        r["p90"] = bench.to_ms(m.group(1)) if m else float("nan")
        m = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", proc.stdout, re.M)
        r["max"] = bench.to_ms(m.group(1)) if m else float("nan")
        m = re.search(r"pool exhausted: (\d+)", proc.stderr)
        r["exhausted"] = int(m.group(1)) if m else 0
        for line in re.findall(r"^first failure: .*$", proc.stderr, re.M) if show_failures else ():
            print(f"    {path}: {line}", file=sys.stderr)
        n = max(1, r["requests"])
        r["nginx_us"] = (after[0] - before[0]) / bench.CLK_TCK * 1e6 / n
        r["fastcgi_us"] = (after[1] - before[1]) / bench.CLK_TCK * 1e6 / n
        r["cpu_us"] = r["nginx_us"] + r["fastcgi_us"]
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(30)
            counts = {}
            with open(trace_out) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 5 and parts[-1] in SYSCALLS:
                        counts[parts[-1]] = int(parts[3])
            r["syscalls"] = {k: counts.get(k, 0) / n for k in SYSCALLS}
        return r

    def write_pool(self, values, name):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("".join(v + "\n" for v in values))
        return path

    def read_pool(self, path):
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]

    def make_codes(self, sync, seconds):
        """Codes from the authorize endpoint (wrk, untimed); returns them as a list."""
        query = urllib.parse.urlencode({"client_id": "app", "redirect_uri": CB, "response_type": "code",
                                        "scope": SCOPE, "state": "s"})
        script, out = self.lua("GET", f"/connect/authorize?{query}", out="code=([^&]+)", out_header="Location")
        self.wrk(sync, "/connect/authorize", script, seconds)
        return self.read_pool(out)

    def redeem(self, sync, codes, seconds, strace=False):
        """Code redemption; returns (result, refresh tokens issued)."""
        pool = self.write_pool(codes, f"codes{self.seq}")
        script, out = self.lua("POST", "/connect/token",
                               before="grant_type=authorization_code&redirect_uri=" + urllib.parse.quote(CB, safe="")
                               + "&code=", client="app", pool=pool, out='"refresh_token":"([^"]+)"')
        r = self.wrk(sync, "/connect/token", script, seconds, strace=strace)
        return r, self.read_pool(out)

    def rotate(self, sync, tokens, seconds, strace=False):
        """Refresh rotation: `tokens` should hold --connections + --wrk-threads chains, since wrk calls request() once
        in its first thread to check the script, and the token that call takes is never sent."""
        pool = self.write_pool(tokens, f"rt{self.seq}")
        script, _ = self.lua("POST", "/connect/token", before="grant_type=refresh_token&refresh_token=",
                             client="app", pool=pool, out='"refresh_token":"([^"]+)"', recycle=True)
        connections = min(len(tokens) - self.args.wrk_threads, self.args.connections)
        return self.wrk(sync, "/connect/token", script, seconds, connections=connections, strace=strace)

    def revoke(self, sync, tokens, seconds, strace=False):
        pool = self.write_pool(tokens, f"rv{self.seq}")
        script, _ = self.lua("POST", "/connect/revocation",
                             before="token_type_hint=refresh_token&token=", client="app", pool=pool)
        return self.wrk(sync, "/connect/revocation", script, seconds, strace=strace)

    def make_device_codes(self, sync, seconds):
        """Pending device codes from the device authorization endpoint (wrk, untimed); returns them as a list."""
        script, out = self.lua("POST", "/connect/deviceauthorization", body="scope=api1", client="tv",
                               out='"device_code":"([^"]+)"')
        self.wrk(sync, "/connect/deviceauthorization", script, seconds)
        return self.read_pool(out)

    def poll(self, sync, codes, seconds, strace=False):
        """Device polling, each code once; the result counts answers other than authorization_pending."""
        pool = self.write_pool(codes, f"dc{self.seq}")
        script, out = self.lua("POST", "/connect/token",
                               before=f"grant_type={urllib.parse.quote(DEVICE_GRANT, safe='')}&device_code=",
                               client="tv", pool=pool, out='"error":"([a-z_]+)"')
        r = self.wrk(sync, "/connect/token", script, seconds, strace=strace, show_failures=False)
        errors = self.read_pool(out)
        r["unexpected"] = r["requests"] - sum(1 for e in errors if e == "authorization_pending")
        r["non2xx"] = 0  # every expected answer is a 400; the unexpected ones are counted above
        return r

    def fixed(self, sync, body, client, seconds, strace=False):
        script, _ = self.lua("POST", "/connect/token", body=body, client=client)
        return self.wrk(sync, "/connect/token", script, seconds, strace=strace)

    def scenarios(self, sync, with_strace=True):
        """Every scenario of one sync setting, warm-up and timed runs, then (with_strace) the strace runs; returns
        rows."""
        d, s = self.args.duration, self.args.strace_seconds
        chains = self.args.connections + self.args.wrk_threads
        rows = {}
        cc = "grant_type=client_credentials"
        pw = "grant_type=password&username=alice&password=Alice-pass-1&scope=api1"
        self.fixed(sync, cc, "cc", 2)
        self.perf_name = "client_credentials"
        rows["client_credentials"] = self.fixed(sync, cc, "cc", d)
        self.perf_name = None
        # Codes are made by wrk on the authorize endpoint (which writes too), untimed, at about the rate they are
        # redeemed; the redemptions' refresh tokens feed the rotation chains and the revocations.
        _, warm = self.redeem(sync, self.make_codes(sync, 2), 2)
        codes = self.make_codes(sync, 2 * d)
        self.perf_name = "code_redemption"
        rows["code redemption"], tokens = self.redeem(sync, codes, d)
        self.perf_name = None
        self.rotate(sync, warm[:chains], 2)
        self.perf_name = "refresh_rotation"
        rows["refresh rotation"] = self.rotate(sync, tokens[:chains], d)
        self.perf_name = None
        if sync + FILLED in self.targets:
            live = self.rotate_on_full_database(sync + FILLED)
            live["share_of_empty"] = live["rps"] / rows["refresh rotation"]["rps"]
            rows[f"refresh rotation, {self.args.live_grants:,} live grants"] = live
        # A revocation has no signature to make, so it may run faster than a redemption: more tokens, untimed.
        pool = tokens[chains:]
        for _ in range(3):
            if len(pool) >= 3 * len(tokens):
                break
            pool += self.redeem(sync, self.make_codes(sync, d + d // 2), d)[1]
        strace_rotation, pool = pool[:chains], pool[chains:]
        strace_revocation, pool = pool[:len(pool) * s // (s + d)], pool[len(pool) * s // (s + d):]
        print(f"  {sync}: {len(pool)} refresh tokens to revoke", file=sys.stderr)
        rows["revocation"] = self.revoke(sync, pool, d)
        self.poll(sync, self.make_device_codes(sync, 2), 2)
        device_codes = self.make_device_codes(sync, 3 * d)
        self.perf_name = "device_polling"
        rows["device polling"] = self.poll(sync, device_codes, d)
        self.perf_name = None
        self.fixed(sync, pw, "app", 2)
        rows["password"] = self.fixed(sync, pw, "app", d)
        # Under strace: syncs and writes per request.
        if with_strace and shutil.which("strace"):
            for name, fn in (("client_credentials", lambda: self.fixed(sync, cc, "cc", s, strace=True)),
                             ("code redemption",
                              lambda: self.redeem(sync, self.make_codes(sync, s), s, strace=True)[0]),
                             ("refresh rotation", lambda: self.rotate(sync, strace_rotation, s, strace=True)),
                             ("revocation", lambda: self.revoke(sync, strace_revocation, s, strace=True)),
                             ("device polling",
                              lambda: self.poll(sync, self.make_device_codes(sync, s), s, strace=True)),
                             ("password", lambda: self.fixed(sync, pw, "app", s, strace=True))):
                rows[name]["syscalls"] = fn()["syscalls"]
        for name, r in rows.items():
            print(f"  {sync} {name}: {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
                  f"{r['cpu_us']:.0f} us CPU/request, {r['non2xx']} non-2xx, pool short {r['exhausted']}",
                  file=sys.stderr)
        return rows

    def paired(self, sync, pairs, seconds):
        """--pairs: code redemption, refresh rotation and revocation each run `pairs` times for `seconds`, every run
        right next to a client_credentials run (in alternating order), so that each ratio compares two runs that met
        the same state of the machine; returns {scenario: [(write run, its client_credentials run)]}. The pools are
        made before each pair, untimed: codes for the redemption, whose refresh tokens (and those of one more
        untimed redemption) feed the rotation's chains and the revocation."""
        cc = "grant_type=client_credentials"
        chains = self.args.connections + self.args.wrk_threads
        out = {"code redemption": [], "refresh rotation": [], "revocation": []}

        def pair(i, name, write):
            if i % 2 == 0:
                cc_run = self.fixed(sync, cc, "cc", seconds)
                write_run = write()
            else:
                write_run = write()
                cc_run = self.fixed(sync, cc, "cc", seconds)
            out[name].append((write_run, cc_run))

        self.fixed(sync, cc, "cc", 2)
        for i in range(pairs):
            codes = self.make_codes(sync, seconds + seconds // 2)
            tokens = []

            def redeem():
                r, issued = self.redeem(sync, codes, seconds)
                tokens.extend(issued)
                return r
            pair(i, "code redemption", redeem)
            tokens += self.redeem(sync, self.make_codes(sync, seconds + seconds // 2), seconds)[1]
            pair(i, "refresh rotation", lambda: self.rotate(sync, tokens[:chains], seconds))
            pair(i, "revocation", lambda: self.revoke(sync, tokens[chains:], seconds))
        return out

    def reload(self, sync):
        """client_credentials while the configuration generation moves every --reload-interval seconds, and without."""
        d = self.args.duration
        cc = "grant_type=client_credentials"
        self.fixed(sync, cc, "cc", 2)
        rows = {"no configuration change": self.fixed(sync, cc, "cc", d)}
        stop = threading.Event()

        def rotate():
            while not stop.wait(self.args.reload_interval):
                self.tokenctl("session", "rotate-key")

        rotator = threading.Thread(target=rotate)
        rotator.start()
        try:
            rows[f"session rotate-key every {self.args.reload_interval:g} s"] = self.fixed(sync, cc, "cc", d)
        finally:
            stop.set()
            rotator.join()
        return rows

    def fill(self, count):
        """Fills the second database with `count` live refresh tokens; keeps fill_grants's report."""
        started = time.monotonic()
        out = self.run([os.path.join(self.build, "fill_grants"), "--config", self.config("full" + FILLED),
                        str(count), str(self.args.fill_batch)]).stdout
        print(f"  filled in {time.monotonic() - started:.0f} s: {out.strip()}", file=sys.stderr)
        self.filled = out.strip()

    def rotate_on_full_database(self, sync):
        """Refresh rotation on the database filled with --live-grants live grants (`sync` is its target)."""
        d = self.args.duration
        chains = self.args.connections + self.args.wrk_threads
        _, tokens = self.redeem(sync, self.make_codes(sync, 2), 2)
        self.rotate(sync, tokens[:chains], 2)
        _, tokens = self.redeem(sync, self.make_codes(sync, 2), 2)
        self.perf_name = "refresh_rotation_live_grants"
        r = self.rotate(sync, tokens[:chains], d)
        self.perf_name = None
        print(f"  {sync} refresh rotation, {self.args.live_grants:,} live grants: {r['rps']:.0f} req/s, "
              f"p99 {r['p99']:.2f} ms, {r['cpu_us']:.0f} us CPU/request", file=sys.stderr)
        return r

    def stop(self):
        bench.stop_all(self.procs)
        if not os.environ.get("TF_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def merge_rounds(rounds):
    """One setting's rows measured in several rounds: each column's median, and the ratios to client_credentials as
    the median of each round's ratio (robust to load that differs between rounds); syscalls from the first round."""
    if len(rounds) == 1:
        return rounds[0]
    merged = {}
    for name in rounds[0]:
        rs = [r[name] for r in rounds if name in r]
        row = {k: bench.median([r[k] for r in rs]) for k in ("rps", "p50", "p99", "cpu_us", "nginx_us", "fastcgi_us")}
        for k in ("non2xx", "socket_errors", "exhausted", "unexpected"):
            row[k] = sum(r.get(k, 0) for r in rs)
        if "share_of_empty" in rs[0]:
            row["share_of_empty"] = bench.median([r["share_of_empty"] for r in rs])
        if "syscalls" in rs[0]:
            row["syscalls"] = rs[0]["syscalls"]
        ccs = [r["client_credentials"] for r in rounds if name in r]
        row["cpu_ratio"] = bench.median([r["cpu_us"] / cc["cpu_us"] for r, cc in zip(rs, ccs)])
        row["rps_ratio"] = bench.median([r["rps"] / cc["rps"] for r, cc in zip(rs, ccs)])
        merged[name] = row
    return merged


def live_grants_lines(args, results, filled):
    how = "the median of each round's share; " if args.rounds > 1 else ""
    compacted = ", then compacted" if args.compact_filled else ""
    lines = ["", f"Refresh rotation on a database filled with {args.live_grants:,} live grants ({filled}{compacted}), "
             "as a share "
             "of the same setting's rotation on the nearly empty database measured just before it "
             f"({how}goal: at least 90%):", ""]
    for sync, rows in results.items():
        full, empty = rows.get(f"refresh rotation, {args.live_grants:,} live grants"), rows.get("refresh rotation")
        if full and empty:
            lines.append(f"- {sync}: {full['rps']:.0f} against {empty['rps']:.0f} requests/s: "
                         f"{100 * full['share_of_empty']:.0f}%; CPU {full['cpu_us']:.0f} against "
                         f"{empty['cpu_us']:.0f} µs per request")
    return "\n".join(lines)


def table(args, results):
    how = (f"medians of {args.rounds} interleaved rounds (ratios: medians of each round's ratio); "
           if args.rounds > 1 else "")
    lines = [f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s; nginx 1 worker process; "
             f"{args.workers} tokenfcgi processes × {args.threads} threads per setting; ES256; {how}syncs per request "
             f"from separate {args.strace_seconds}s runs under `strace -c -f`.", "",
             "| lmdb_sync | scenario | requests/s | p50 ms | p99 ms | CPU µs/request (nginx + FastCGI) | CPU vs cc | "
             "requests/s vs cc | fdatasync / fsync / pwrite64 / pwritev per request |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for sync, rows in results.items():
        cc = rows["client_credentials"]
        for name, r in rows.items():
            note = []
            if r["non2xx"] or r["socket_errors"]:
                note.append(f"{r['non2xx']} non-2xx, {r['socket_errors']} socket errors")
            if r["exhausted"]:
                note.append(f"pool short by {r['exhausted']}")
            if r.get("unexpected"):
                note.append(f"{r['unexpected']} answers not authorization_pending")
            sc = r.get("syscalls")
            sys_text = " / ".join(f"{sc[k]:.2f}" for k in SYSCALLS) if sc else "-"
            lines.append(f"| {sync} | {name}{' (' + '; '.join(note) + ')' if note else ''} | {r['rps']:.0f} | "
                         f"{r['p50']:.2f} | {r['p99']:.2f} | {r['cpu_us']:.0f} ({r['nginx_us']:.0f} + "
                         f"{r['fastcgi_us']:.0f}) | {r.get('cpu_ratio', r['cpu_us'] / cc['cpu_us']):.2f}× | "
                         f"{r.get('rps_ratio', r['rps'] / cc['rps']):.2f}× | "
                         f"{sys_text} |")
    return "\n".join(lines)


def paired_table(args, paired):
    times = f"{args.pairs} time{'s' if args.pairs != 1 else ''}"
    lines = [f"Each write scenario run {times} for {args.pair_seconds}s right next to a client_credentials "
             "run of the same length (the order alternating), so that both runs of a pair meet the same state of the "
             "machine: the mean ± standard deviation of the pairs' ratios.", "",
             "| lmdb_sync | scenario | pairs | requests/s vs cc | CPU vs cc | requests/s | p99 ms (highest) | "
             "non-2xx / pool short |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]

    def spread(values):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.2f}× ± {sd:.2f}"
    for sync, scenarios in paired.items():
        for name, runs in scenarios.items():
            lines.append(f"| {sync} | {name} | {len(runs)} | {spread([w['rps'] / c['rps'] for w, c in runs])} | "
                         f"{spread([w['cpu_us'] / c['cpu_us'] for w, c in runs])} | "
                         f"{statistics.mean(w['rps'] for w, _ in runs):.0f} | "
                         f"{max(w['p99'] for w, _ in runs):.2f} | {sum(w['non2xx'] for w, _ in runs)} / "
                         f"{sum(w['exhausted'] for w, _ in runs)} |")
    return "\n".join(lines)


def reload_table(args, rows):
    lines = [f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s on client_credentials; "
             f"{args.workers} tokenfcgi process(es) × {args.threads} threads; {args.reload_clients} more clients.", "",
             "| configuration | requests/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | "
                     f"{r['max']:.2f} | {r['non2xx']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="tokenfcgi processes per sync setting")
    ap.add_argument("--threads", type=int, default=32, help="--threads of each tokenfcgi process")
    ap.add_argument("--sync", default=",".join(SYNC_SETTINGS), help="the lmdb_sync settings to measure")
    ap.add_argument("--strace-seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure every setting's scenarios this many times, interleaved, and report medians")
    ap.add_argument("--live-grants", type=int, default=1_000_000,
                    help="measure refresh rotation again on a database of this many live grants (0: not)")
    ap.add_argument("--compact-filled", action="store_true",
                    help="replace the filled database by its compacted copy (`tokenctl backup`) before measuring it: "
                         "without the free pages that filling it in transactions of 10,000 grants leaves")
    ap.add_argument("--fill-batch", type=int, default=10000,
                    help="grants per write transaction when filling (10,000: a bulk load; 64: as the worker's group "
                         "commit writes)")
    ap.add_argument("--perf", metavar="DIR",
                    help="record the workers with `perf record -g` during the timed client_credentials, code "
                         "redemption and refresh rotation runs (also on the filled database), into "
                         "DIR/<sync>-<scenario>.data")
    ap.add_argument("--pairs", type=int, default=0,
                    help="also run each write scenario this many times right next to a client_credentials run and "
                         "report the mean and spread of the pairs' ratios")
    ap.add_argument("--pair-seconds", type=int, default=3, help="seconds of each run of --pairs")
    ap.add_argument("--reload-clients", type=int, default=0,
                    help="measure only the configuration reload, with this many more clients")
    ap.add_argument("--reload-interval", type=float, default=0.5,
                    help="seconds between configuration changes with --reload-clients")
    args = ap.parse_args()
    b = WritePathBench(args)
    results, paired = {}, {}
    try:
        b.setup()
        if args.reload_clients:
            rows = b.reload(args.sync.split(",")[0])
        else:
            rounds = {sync: [] for sync in args.sync.split(",")}
            for i in range(args.rounds):
                for sync in rounds:
                    rounds[sync].append(b.scenarios(sync, with_strace=i == 0))
            results = {sync: merge_rounds(rs) for sync, rs in rounds.items()}
            if args.pairs:
                paired = {sync: b.paired(sync, args.pairs, args.pair_seconds) for sync in rounds}
    finally:
        b.stop()
    print()
    if args.reload_clients:
        print(reload_table(args, rows))
        return
    print(table(args, results))
    if args.live_grants:
        print(live_grants_lines(args, results, b.filled))
    if paired:
        print()
        print(paired_table(args, paired))


if __name__ == "__main__":
    main()
