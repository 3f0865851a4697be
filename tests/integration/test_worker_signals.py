#!/usr/bin/python3
"""The tokenfcgi worker as a process: FastCGI spoken directly (no web server), SIGTERM, SIGHUP and SIGUSR1, CGI
mode, the command line and the per-request log line.

Needs $TF_BUILD_DIR/tokenfcgi and $TF_BUILD_DIR/tokenctl (to create the database); exits 77 (skip) without them.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 1, 3, 4, 5, 6, 7
FCGI_RESPONDER = 1
FCGI_KEEP_CONN = 1

FAILURES = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILURES.append(what)
    return cond


# ---- A minimal FastCGI client -----------------------------------------------------------------------------------

def record(rtype, content, request_id=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), pad) + content + b"\0" * pad


def encode_length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_params(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        out += encode_length(len(k)) + encode_length(len(v)) + k + v
    return out


def begin_and_params(params, flags=0):
    data = record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", FCGI_RESPONDER, flags))
    encoded = encode_params(params)
    for i in range(0, len(encoded), 65535):
        data += record(FCGI_PARAMS, encoded[i:i + 65535])
    return data + record(FCGI_PARAMS, b"")


def stdin_records(body):
    data = b""
    for i in range(0, len(body), 65535):
        data += record(FCGI_STDIN, body[i:i + 65535])
    return data + record(FCGI_STDIN, b"")


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_response(sock):
    """Reads STDOUT until END_REQUEST; returns (status, headers dict (lower-case names), body bytes)."""
    out = b""
    while True:
        version, rtype, _rid, length, pad = struct.unpack(">BBHHBx", read_exact(sock, 8))
        content = read_exact(sock, length + pad)[:length]
        if rtype == FCGI_STDOUT:
            out += content
        elif rtype == FCGI_END_REQUEST:
            break
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(headers.get("status", "0").split()[0])
    return status, headers, body


def fcgi_params(method, uri, body=b"", content_type=""):
    path, _, query = uri.partition("?")
    return {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query, "SCRIPT_NAME": path,
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)) if body else "",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080", "SERVER_PROTOCOL": "HTTP/1.1",
    }


def fcgi_request(path, method, uri, body=b"", content_type=""):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(begin_and_params(fcgi_params(method, uri, body, content_type)) + stdin_records(body))
        return read_response(s)


# ---- Helpers ----------------------------------------------------------------------------------------------------

def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def socket_count(pid):
    """How many sockets process `pid` holds open (an accepted connection adds one)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def listening_on(pid, port):
    """Whether 127.0.0.1:`port` is a listening TCP socket of process `pid` (from /proc/<pid>/net/tcp)."""
    return accept_queue(pid, port) is not None


def accept_queue(pid, port):
    """The connections waiting to be accepted on the listening TCP socket 127.0.0.1:`port` of process `pid` (a
    listening socket's rx_queue in /proc/<pid>/net/tcp), or None if there is no such socket."""
    want = "0100007F:%04X" % port
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":
                    return int(fields[4].split(":")[1], 16)
    except OSError:
        pass
    return None


def caught_signals(pid):
    """The signals process `pid` has a handler for (SigCgt in /proc/<pid>/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    mask = int(line.split()[1], 16)
                    return {signal.Signals(n) for n in range(1, 32) if mask & (1 << (n - 1))}
    except (OSError, ValueError):
        pass
    return set()


def exited_within(proc, seconds):
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def stopped_under_load(proc, request, clients=8):
    """SIGTERM to `proc` while `clients` threads call request() in a loop (a failing request is ignored: connections
    after the stop fail); whether it then exits 0 within 5 s."""
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                request()
            except (OSError, EOFError):  # EOFError: closed unanswered (a connection after a stop's drain)
                pass
    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    exited = exited_within(proc, 5)
    stop.set()
    for t in threads:
        t.join(30)
    return exited and proc.returncode == 0


def read_file(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


class Worker:
    def __init__(self, exe, config, tmp, name, extra_args=(), stdin=subprocess.DEVNULL, env=None):
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, "--config", config] + list(extra_args), stdin=stdin,
                                     stdout=self.log, stderr=self.log, env=env)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def log_text(self):
        self.log.flush()
        return read_file(self.log_path)


def main():
    build = os.environ.get("TF_BUILD_DIR", "")
    exe = os.path.join(build, "tokenfcgi")
    tokenctl = os.path.join(build, "tokenctl")
    if not (build and os.access(exe, os.X_OK) and os.access(tokenctl, os.X_OK)):
        print("skip: needs $TF_BUILD_DIR/tokenfcgi and $TF_BUILD_DIR/tokenctl")
        return 77

    tmp = tempfile.mkdtemp(prefix="tf-worker-")
    db = os.path.join(tmp, "db")
    config = os.path.join(tmp, "tokenfcgi.conf")
    with open(config, "w") as f:
        f.write("# test\nissuer = http://127.0.0.1:8080\ndatabase = %s\nmap_size = 16M\nmax_body_bytes = 4K\n" % db)
    init = subprocess.run([tokenctl, "--config", config, "init"], capture_output=True, timeout=60)
    if not check(init.returncode == 0, "tokenctl init creates the database"):
        print(init.stdout.decode(), init.stderr.decode())
        return 1

    sock = os.path.join(tmp, "s")
    workers = []
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # -- 0. A connection that sends nothing holds one thread (the other still answers) and is closed after 10 s,
        # which is checked at the end, so that the wait overlaps the other checks.
        silent_sock = os.path.join(tmp, "silent")
        silent_worker = Worker(exe, config, tmp, "w0", ["--listen", "unix:" + silent_sock, "--threads", "2"])
        workers.append(silent_worker)
        check(wait_for(lambda: os.path.exists(silent_sock), 10), "worker for a silent connection starts")
        silent.connect(silent_sock)
        check(fcgi_request(silent_sock, "GET", "/.well-known/openid-configuration")[0] == 200,
              "a connection that sends nothing holds one thread: the other answers")
        # Bytes that are not FastCGI: the connection is closed unanswered, and the worker goes on serving.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(silent_sock)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            garbage_closed = s.recv(1) == b""
        check(garbage_closed and fcgi_request(silent_sock, "GET", "/.well-known/openid-configuration")[0] == 200,
              "a connection that does not speak FastCGI is closed, and the next one is answered")

        # -- 1. A request over FastCGI, the log line, then SIGTERM while idle: exit 0 within 2 s.
        w = Worker(exe, config, tmp, "w1", ["--listen", "unix:" + sock, "--threads", "2"])
        workers.append(w)
        check(wait_for(lambda: os.path.exists(sock), 10), "worker creates its unix socket")
        check(oct(os.stat(sock).st_mode & 0o777) == oct(0o660), "unix socket mode is 0660")
        status, headers, body = fcgi_request(sock, "GET", "/.well-known/openid-configuration?secret=s3cr3t")
        check(status == 200, "discovery answers 200 (got %d)" % status)
        try:
            doc = json.loads(body)
            check(doc.get("issuer") == "http://127.0.0.1:8080", "discovery names the configured issuer")
        except ValueError:
            check(False, "discovery body is JSON: %r" % body[:200])
        check(headers.get("content-length") == str(len(body)), "Content-Length matches the body")
        wait_for(lambda: "status=200" in w.log_text(), 5)
        log = w.log_text()
        check("starting: listen=unix:%s threads=2 pid=%d" % (sock, w.proc.pid) in log, "startup line: %r" % log[:300])
        lines = [l for l in log.splitlines() if "GET /.well-known/openid-configuration " in l]
        check(len(lines) == 1 and " client=- grant=- outcome=" in lines[0] and " status=200 us=" in lines[0],
              "one request log line in the documented format: %r" % lines)
        check("s3cr3t" not in log and "secret=" not in log, "the query string is never logged")

        # -- 1b. Closing the connection. A request whose body of declared length was read to its end is closed at
        # once: no lingering wait for the web server to close first, so a write after the response fails. A body
        # left unread (413) keeps the lingering close, which reads until the web server closes: closing a TCP socket
        # with unread input sends a reset, which can destroy the response before the web server has read it. So
        # does a request without CONTENT_LENGTH, whose input may still be streaming.
        def written_after_response(params, stdin):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(sock)
                s.sendall(begin_and_params(params) + stdin)
                status = read_response(s)[0]
                at_eof = s.recv(1) == b""
                try:
                    s.sendall(b"\0" * 64)
                    return status, at_eof, True
                except (BrokenPipeError, ConnectionResetError):
                    return status, at_eof, False
        form = b"grant_type=client_credentials&client_id=no-such-client&client_secret=wrong"
        status, at_eof, written = written_after_response(
            fcgi_params("POST", "/connect/token", form, "application/x-www-form-urlencoded"), stdin_records(form))
        check(status == 401 and at_eof and not written,
              "a body read to its end: the worker closes at once (status %d, eof %s, write after it %s)"
              % (status, at_eof, "succeeded" if written else "failed"))
        status, at_eof, written = written_after_response(
            fcgi_params("GET", "/.well-known/openid-configuration"), stdin_records(b""))
        check(status == 200 and at_eof and written,
              "no CONTENT_LENGTH: the worker keeps the lingering close (status %d, eof %s, write after it %s)"
              % (status, at_eof, "succeeded" if written else "failed"))
        big = b"x" * 5000  # over max_body_bytes = 4K
        status, at_eof, written = written_after_response(
            fcgi_params("POST", "/connect/token", big, "application/x-www-form-urlencoded"), stdin_records(big))
        check(status == 413 and at_eof and written,
              "a body left unread (413): the worker still reads until the web server closes (status %d, eof %s, "
              "write after it %s)" % (status, at_eof, "succeeded" if written else "failed"))
        w.proc.send_signal(signal.SIGTERM)
        check(exited_within(w.proc, 2), "SIGTERM while idle: exits within 2 s")
        check(w.proc.returncode == 0, "SIGTERM while idle: exit status 0 (got %s)" % w.proc.returncode)
        check(not os.path.exists(sock), "the unix socket file is removed at exit")

        # -- 2. A request whose body is still being sent when SIGTERM arrives is still answered.
        w = Worker(exe, config, tmp, "w2", ["--listen", "unix:" + sock, "--threads", "2"])
        workers.append(w)
        check(wait_for(lambda: os.path.exists(sock), 10), "second worker creates its socket")
        form = b"grant_type=client_credentials&client_id=no-such-client&client_secret=wrong"
        idle_sockets = socket_count(w.proc.pid)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(sock)
            s.sendall(begin_and_params(fcgi_params("POST", "/connect/token", form,
                                                   "application/x-www-form-urlencoded")))
            s.sendall(record(FCGI_STDIN, form[:10]))  # part of the body
            # The worker has accepted the connection (it holds one more socket) and is reading the body.
            check(wait_for(lambda: socket_count(w.proc.pid) > idle_sockets, 20),
                  "the worker accepts the connection whose body is being sent")
            w.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            check(w.proc.poll() is None, "SIGTERM with a request in flight: still running while the body is sent")
            s.sendall(record(FCGI_STDIN, form[10:]) + record(FCGI_STDIN, b""))
            try:
                status, headers, body = read_response(s)
            except (EOFError, OSError) as e:
                status, body = 0, str(e).encode()
        check(status == 401 and b"invalid_client" in body,
              "the request in flight is answered in full after SIGTERM (401 invalid_client; got %d %r)"
              % (status, body[:120]))
        check(exited_within(w.proc, 2), "after the request in flight: exits within 2 s")
        check(w.proc.returncode == 0, "after the request in flight: exit status 0 (got %s)" % w.proc.returncode)

        # -- 2b. SIGHUP is a graceful stop like SIGTERM: a slow request in flight (its body still arriving) is answered
        # in full, then the worker exits 0. SIGUSR1 is ignored: the request in flight is answered and the worker keeps
        # serving.
        def signal_in_flight(w, sig):
            idle = socket_count(w.proc.pid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(sock)
                s.sendall(begin_and_params(fcgi_params("POST", "/connect/token", form,
                                                       "application/x-www-form-urlencoded")))
                s.sendall(record(FCGI_STDIN, form[:10]))
                # Accepted (one more socket) and reading the body, not a fixed sleep.
                check(wait_for(lambda: socket_count(w.proc.pid) > idle, 20),
                      "the worker accepts the connection before %s" % sig.name)
                w.proc.send_signal(sig)
                time.sleep(0.5)
                running = w.proc.poll() is None
                try:
                    s.sendall(record(FCGI_STDIN, form[10:]) + record(FCGI_STDIN, b""))
                    status, _, body = read_response(s)
                except (EOFError, OSError) as e:
                    status, body = 0, str(e).encode()
            return running, status, body

        w = Worker(exe, config, tmp, "w2hup", ["--listen", "unix:" + sock, "--threads", "2"])
        workers.append(w)
        check(wait_for(lambda: os.path.exists(sock), 10), "SIGHUP worker creates its socket")
        running, status, body = signal_in_flight(w, signal.SIGHUP)
        check(running, "SIGHUP with a request in flight: still running while the body is sent")
        check(status == 401 and b"invalid_client" in body,
              "SIGHUP: the request in flight is answered in full (got %d %r)" % (status, body[:120]))
        check(exited_within(w.proc, 2) and w.proc.returncode == 0,
              "SIGHUP: exits 0 within 2 s after the request in flight (got %s)" % w.proc.returncode)
        check("SIGHUP received: finishing requests in flight" in w.log_text(), "SIGHUP is logged")

        if os.path.exists(sock):
            os.unlink(sock)  # left by a worker that did not exit cleanly (checked above)
        w = Worker(exe, config, tmp, "w2usr1", ["--listen", "unix:" + sock, "--threads", "2"])
        workers.append(w)
        check(wait_for(lambda: os.path.exists(sock), 10), "SIGUSR1 worker creates its socket")
        running, status, body = signal_in_flight(w, signal.SIGUSR1)
        check(running and status == 401 and b"invalid_client" in body,
              "SIGUSR1: the request in flight is answered in full (got %d %r)" % (status, body[:120]))
        time.sleep(0.2)
        check(w.proc.poll() is None, "SIGUSR1: the worker keeps running")
        try:
            status = fcgi_request(sock, "GET", "/.well-known/openid-configuration")[0]
        except OSError:
            status = 0
        check(status == 200, "SIGUSR1: the worker still serves new requests (got %d)" % status)
        check("SIGUSR1 received: ignored" in w.log_text(), "SIGUSR1 is logged as ignored")
        w.proc.send_signal(signal.SIGTERM)
        check(exited_within(w.proc, 2) and w.proc.returncode == 0, "after SIGUSR1, SIGTERM still exits 0")

        # -- 2b. A --listen Unix socket whose file cannot be removed at the stop (its directory made immutable with
        # chattr +i, which binds root too) keeps taking connections, so the worker must not drain it: under steady
        # load it still exits. Skipped where chattr +i is not available (not root, or a filesystem without it).
        locked = os.path.join(tmp, "locked")
        os.mkdir(locked)
        locked_sock = os.path.join(locked, "s.sock")
        w = Worker(exe, config, tmp, "w2locked", ["--listen", "unix:" + locked_sock, "--threads", "2"])
        workers.append(w)
        check(wait_for(lambda: os.path.exists(locked_sock), 10), "worker on a socket in a directory to lock starts")
        chattr = shutil.which("chattr")
        if chattr and subprocess.run([chattr, "+i", locked], capture_output=True).returncode == 0:
            try:
                check(stopped_under_load(
                          w.proc, lambda: fcgi_request(locked_sock, "GET", "/.well-known/openid-configuration")),
                      "a socket file that cannot be removed: SIGTERM under load exits 0 within 5 s")
            finally:
                subprocess.run([chattr, "-i", locked], capture_output=True)
        else:
            print("skip chattr +i is not available here: the undrained socket is not checked")
            w.proc.send_signal(signal.SIGTERM)
            check(exited_within(w.proc, 5), "worker on a socket in a directory to lock exits")

        # -- 3. The socket inherited on fd 0 (as from spawn-fcgi): served, and never shut down or closed for siblings.
        inherited = os.path.join(tmp, "inherited")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(inherited)
        listener.listen(16)
        w = Worker(exe, config, tmp, "w3", ["--threads", "3"], stdin=listener.fileno())
        workers.append(w)
        status, _, _ = fcgi_request(inherited, "GET", "/.well-known/openid-configuration/jwks")
        check(status == 200, "served on the socket inherited on fd 0 (got %d)" % status)
        w.proc.send_signal(signal.SIGINT)
        check(exited_within(w.proc, 2) and w.proc.returncode == 0, "SIGINT: exits 0 within 2 s")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            try:
                s.connect(inherited)
                connected = True
            except OSError:
                connected = False
        check(connected, "the inherited listening socket still accepts connections after the worker exits")

        # -- 3b. SIGTERM while a worker on an inherited socket is still starting (libfcgi has installed its SIGTERM
        # handler, the worker does not serve yet: it is opening the database or starting its hashing helper) is held
        # until it serves, then stops it cleanly, as once it serves.
        w = Worker(exe, config, tmp, "w3b", ["--threads", "2"], stdin=listener.fileno())
        workers.append(w)
        deadline = time.monotonic() + 10
        while signal.SIGTERM not in caught_signals(w.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.0005)  # the start takes milliseconds
        check(signal.SIGTERM in caught_signals(w.proc.pid),
              "a starting worker on an inherited socket has a SIGTERM handler (libfcgi's)")
        w.proc.send_signal(signal.SIGTERM)
        check(exited_within(w.proc, 5) and w.proc.returncode == 0 and "SIGTERM received" in w.log_text(),
              "SIGTERM while starting: exits 0 within 5 s (%s; %r)" % (w.proc.returncode, w.log_text()[-300:]))
        listener.close()

        # -- 4. --listen HOST:PORT on loopback.
        # A free port may be taken by another process before the worker binds it: then the worker exits, and
        # another port is tried.
        for attempt in range(5):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            w = Worker(exe, config, tmp, "w4-%d" % attempt, ["--listen", "127.0.0.1:%d" % port])
            workers.append(w)
            wait_for(lambda: w.proc.poll() is not None or listening_on(w.proc.pid, port), 20)
            if w.proc.poll() is None or "in use" not in w.log_text():
                break

        def tcp_request():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(begin_and_params(fcgi_params("GET", "/.well-known/openid-configuration")) +
                              stdin_records(b""))
                    return read_response(s)[0]
            except OSError:
                return 0
        check(wait_for(lambda: tcp_request() == 200, 10), "--listen 127.0.0.1:PORT serves over TCP")
        # Stopped under steady load: the worker answers what waited in its backlog, but a TCP socket goes on taking
        # new connections, so the drain is bounded and the worker still exits.
        check(stopped_under_load(w.proc, tcp_request), "TCP worker under load: SIGTERM exits 0 within 5 s")
        check("any local process can connect" not in w.log_text(),
              "TCP without the remote_user provider: no REMOTE_USER warning")

        # -- 4b. remote_user over TCP: any local process could send REMOTE_USER, so the worker warns at start; over a
        # Unix socket (which only the web server's group can open) it does not.
        remote_config = os.path.join(tmp, "remote.conf")
        with open(config) as src, open(remote_config, "w") as dst:
            dst.write(src.read() + "login_providers = local remote_user\n")
        w = Worker(exe, remote_config, tmp, "w4remote", ["--listen", "127.0.0.1:%d" % port])
        workers.append(w)
        check(wait_for(lambda: tcp_request() == 200, 10), "remote_user worker serves over TCP")
        log = w.log_text()
        check("login_providers includes remote_user and the FastCGI socket is TCP (127.0.0.1:%d): any local process "
              "can connect and send REMOTE_USER" % port in log, "remote_user over TCP: warning at start (%r)" % log[:600])
        # Stopped while connections wait in its TCP backlog: it answers them before it exits (the drain).
        answers = []
        w.proc.send_signal(signal.SIGSTOP)
        queued = [threading.Thread(target=lambda: answers.append(tcp_request())) for _ in range(8)]
        for t in queued:
            t.start()
        waited = wait_for(lambda: accept_queue(w.proc.pid, port) == 8, 10)
        w.proc.send_signal(signal.SIGTERM)  # delivered once the worker runs again, with the 8 still queued
        w.proc.send_signal(signal.SIGCONT)
        for t in queued:
            t.join(30)
        check(waited and answers == [200] * 8, "TCP worker stopped with 8 connections in its backlog answers all of "
              "them (%r)" % answers)
        check(exited_within(w.proc, 5) and w.proc.returncode == 0, "remote_user TCP worker then exits 0")
        w = Worker(exe, remote_config, tmp, "w4remoteunix", ["--listen", "unix:" + sock])
        workers.append(w)
        check(wait_for(lambda: os.path.exists(sock), 10), "remote_user worker on a unix socket starts")
        status, _, _ = fcgi_request(sock, "GET", "/.well-known/openid-configuration")
        check(status == 200 and "any local process can connect" not in w.log_text(),
              "remote_user over a unix socket: no warning")
        w.proc.send_signal(signal.SIGTERM)
        check(exited_within(w.proc, 2) and w.proc.returncode == 0, "remote_user unix worker exits 0")

        # -- 4c. A connection the worker has accepted but whose request arrives only after SIGTERM is still answered:
        # the stop interrupts a wait for a connection, never the read of one that was accepted (a web server may be a
        # moment late sending after its connect() completes). On a Unix socket and on TCP (whose backlog is empty at
        # the stop, so nothing more is drained). An idle kept-alive connection (FCGI_KEEP_CONN) is closed at the stop
        # instead, or the worker would wait for the web server to close it.
        for kind, listen, family, address in (("unix", "unix:" + sock, socket.AF_UNIX, sock),
                                              ("TCP", "127.0.0.1:%d" % port, socket.AF_INET, ("127.0.0.1", port))):
            params = fcgi_params("GET", "/.well-known/openid-configuration")
            for case in ("late", "kept idle"):
                w = Worker(exe, config, tmp, "w4c-%s-%s" % (kind, case.replace(" ", "-")), ["--listen", listen])
                workers.append(w)
                check(wait_for(lambda: os.path.exists(sock) if kind == "unix" else listening_on(w.proc.pid, port),
                               10), "%s worker starts" % kind)
                idle = socket_count(w.proc.pid)
                running, statuses, closed = False, [], False
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(10)
                    s.connect(address)
                    accepted = wait_for(lambda: socket_count(w.proc.pid) > idle, 10)
                    try:
                        if case == "late":
                            w.proc.send_signal(signal.SIGTERM)
                            time.sleep(0.3)
                            running = w.proc.poll() is None
                            s.sendall(begin_and_params(params) + stdin_records(b""))
                            statuses.append(read_response(s)[0])
                        else:
                            s.sendall(begin_and_params(params, FCGI_KEEP_CONN) + stdin_records(b""))
                            statuses.append(read_response(s)[0])
                            w.proc.send_signal(signal.SIGTERM)
                            closed = s.recv(1) == b""
                    except (EOFError, OSError):
                        pass
                if case == "late":
                    check(accepted and running and statuses == [200], "%s: a request sent 0.3 s after SIGTERM on a "
                          "connection accepted before it is answered (got %r)" % (kind, statuses))
                else:
                    check(accepted and statuses == [200] and closed, "%s: an idle kept-alive connection is closed at "
                          "the stop (answered %r before, closed %s)" % (kind, statuses, closed))
                check(exited_within(w.proc, 5) and w.proc.returncode == 0, "%s worker then exits 0" % kind)

        # -- 4d. FCGI_WEB_SERVER_ADDRS (libfcgi's): a TCP connection from another address is closed unanswered, and
        # logged.
        for allowed, served in (("127.0.0.2", False), ("127.0.0.2,127.0.0.1", True)):
            w = Worker(exe, config, tmp, "w4d-%d" % served, ["--listen", "127.0.0.1:%d" % port],
                       env=dict(os.environ, FCGI_WEB_SERVER_ADDRS=allowed))
            workers.append(w)
            check(wait_for(lambda: listening_on(w.proc.pid, port), 10), "FCGI_WEB_SERVER_ADDRS=%s: starts" % allowed)
            try:
                status = tcp_request()
            except EOFError:
                status = 0
            refused = "connection from 127.0.0.1 refused: not in FCGI_WEB_SERVER_ADDRS" in w.log_text()
            check(status == (200 if served else 0) and refused != served,
                  "FCGI_WEB_SERVER_ADDRS=%s: a connection from 127.0.0.1 is %s (got %d)"
                  % (allowed, "served" if served else "closed and logged", status))
            w.proc.send_signal(signal.SIGTERM)
            check(exited_within(w.proc, 5) and w.proc.returncode == 0, "FCGI_WEB_SERVER_ADDRS=%s: exits 0" % allowed)

        # -- 5. CGI mode: environment + stdin pipe, one answer on stdout.
        env = dict(os.environ, REQUEST_METHOD="GET", REQUEST_URI="/.well-known/openid-configuration",
                   QUERY_STRING="", CONTENT_LENGTH="")
        r = subprocess.run([exe, "--config", config], env=env, input=b"", capture_output=True, timeout=30)
        check(r.returncode == 0 and r.stdout.startswith(b"Status: 200 OK\r\n"),
              "CGI GET answers 'Status: 200 OK' (rc %d, %r)" % (r.returncode, r.stdout[:60]))
        env = dict(os.environ, REQUEST_METHOD="POST", REQUEST_URI="/connect/token",
                   CONTENT_TYPE="application/x-www-form-urlencoded", CONTENT_LENGTH=str(len(form)))
        r = subprocess.run([exe, "--config", config], env=env, input=form, capture_output=True, timeout=30)
        check(r.stdout.startswith(b"Status: 401 Unauthorized\r\n"),
              "CGI POST reads the body from stdin (%r)" % r.stdout[:60])
        env["CONTENT_LENGTH"] = "5000"  # over max_body_bytes = 4K
        r = subprocess.run([exe, "--config", config], env=env, input=b"x" * 5000, capture_output=True, timeout=30)
        check(r.stdout.startswith(b"Status: 413 "), "CGI body over max_body_bytes is 413 (%r)" % r.stdout[:60])
        env["CONTENT_LENGTH"] = str(len(form) + 10)
        r = subprocess.run([exe, "--config", config], env=env, input=form, capture_output=True, timeout=30)
        check(r.stdout.startswith(b"Status: 400 "), "CGI body shorter than CONTENT_LENGTH is 400 (%r)" % r.stdout[:60])

        # -- 6. Command line and configuration errors.
        r = subprocess.run([exe, "--config", config, "--check-config"], capture_output=True, timeout=30)
        check(r.returncode == 0, "--check-config on a good setup exits 0 (%r)" % r.stderr)
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("issuer = http://127.0.0.1:8080\n\nmap_size = lots\n")
        r = subprocess.run([exe, "--config", bad, "--check-config"], capture_output=True, timeout=30)
        err = r.stderr.decode()
        check(r.returncode == 1 and err == "tokenfcgi: %s:3: map_size: not a size " % bad +
              "(a number of bytes, optionally with K, M, G or T): 'lots'\n", "bad config: one line, exit 1 (%r)" % err)
        nodb = os.path.join(tmp, "nodb.conf")
        with open(nodb, "w") as f:
            f.write("issuer = http://127.0.0.1:8080\ndatabase = %s\n" % os.path.join(tmp, "missing"))
        r = subprocess.run([exe, "--config", nodb, "--listen", "unix:" + sock], capture_output=True, timeout=30)
        check(r.returncode == 1 and b"cannot open the database" in r.stderr and not os.path.exists(sock),
              "missing database: exit 1 before listening (%r)" % r.stderr)
        env = dict(os.environ, TOKENFCGI_CONFIG=config)
        r = subprocess.run([exe, "--check-config"], env=env, capture_output=True, timeout=30)
        check(r.returncode == 0, "$TOKENFCGI_CONFIG is used without --config")
        for args in (["--listen", ":9000"], ["--threads", "0"], ["--bogus"], ["--listen"], ["--backlog", "0"],
                     ["--backlog", "65536"], ["--backlog", "x"]):
            r = subprocess.run([exe, "--config", config] + args, capture_output=True, timeout=30)
            check(r.returncode == 2 and r.stderr.startswith(b"tokenfcgi: "), "usage error %s exits 2" % args)
        r = subprocess.run([exe, "--version"], capture_output=True, timeout=30)
        check(r.returncode == 0 and r.stdout.startswith(b"tokenfcgi "), "--version")
        r = subprocess.run([exe, "--help"], capture_output=True, timeout=30)
        check(r.returncode == 0 and b"max_body_bytes" in r.stdout, "--help lists the configuration keys")

        # -- 0, continued: the silent connection is closed, and logged.
        silent.settimeout(15)
        try:
            closed = silent.recv(1) == b""
        except OSError:
            closed = False
        check(closed and "a connection sent no request within 10 s: closed" in silent_worker.log_text(),
              "a connection that sends nothing is closed after 10 s, and logged (closed %s)" % closed)
    finally:
        silent.close()
        for w in workers:
            w.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
