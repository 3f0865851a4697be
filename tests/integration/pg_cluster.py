"""A private PostgreSQL 15 cluster for the integration tests: Debian's postgresql-15 binaries, a temporary directory,
a Unix socket in that directory and no TCP listener, so nothing outside the test can reach it and no system service
is touched.

  * `PgCluster()` is a context manager (or call start()/stop()). start() copies a template data directory made once
    per build tree with initdb (<TF_BUILD_DIR>/pg-template-15, made under a lock, so parallel tests share it), starts
    the server with `pg_ctl start -w` and returns once it accepts connections. As root, the directory belongs to, and
    every PostgreSQL program runs as, the unprivileged user `nobody` (PostgreSQL refuses to run as root).
  * `create_database(name=None)` makes a database and returns its libpq URI,
    postgresql://postgres@/NAME?host=<socket dir>; `psql(sql, database)` runs SQL and returns its output.
  * `stop(mode="fast")` stops the server and keeps the data; `start()` after it starts the same cluster again (the
    outage tests); `destroy()` stops it and removes the directory. If the test process dies without destroy(), a
    watchdog process stops the server (immediate mode) and removes the directory within a second.
  * The cluster's directory is in /dev/shm when that is a writable tmpfs, else in the temporary directory.
  * The server is tuned for throwaway data: fsync, synchronous_commit and full_page_writes off, unless
    PgCluster(durable=True) (the benchmark, which compares with LMDB's synced commits). Its log is
    <dir>/server.log; TF_KEEP_TMP=1 keeps the directory.

`available()` says whether the binaries are installed (tests exit 77 without them); `shared_cluster()` is the one
cluster of this test process that harness.Deployment uses when TF_TEST_STORE=postgresql.
"""

import atexit
import fcntl
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("TF_PG_BIN", "/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
RUN_AS = "nobody"   # the server's user when the tests run as root

_SERVER_SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "log_connections": "off",
}


def available():
    return all(os.access(os.path.join(PG_BIN, p), os.X_OK) for p in ("initdb", "pg_ctl", "postgres", "psql"))


def missing():
    return [] if available() else [f"{PG_BIN}/initdb, pg_ctl, postgres, psql (Debian: postgresql-15)"]


class PgClusterError(RuntimeError):
    pass


def _user_kwargs():
    """subprocess arguments that run a program as RUN_AS when we are root."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(RUN_AS)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _chown_tree(path):
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(RUN_AS)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def _run(cmd, timeout=120, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          **_user_kwargs(), **kw)
    if proc.returncode != 0:
        raise PgClusterError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc


def _scratch_parent():
    """Where clusters live: /dev/shm when it is a writable tmpfs (a cluster's files are throwaway, and a disk shared
    by parallel builds makes copying the template take seconds), else the temporary directory."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _template_dir():
    """A data directory made by initdb once per build tree (and PostgreSQL major version), copied by every cluster:
    initdb costs seconds, a copy a fraction of one."""
    build_dir = os.environ.get("TF_BUILD_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    base = os.path.join(os.path.abspath(build_dir), "pg-template-" + os.path.basename(os.path.dirname(PG_BIN)))
    ready = os.path.join(base, "data", "PG_VERSION")
    if os.path.exists(ready):
        return os.path.join(base, "data")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(ready):
            # initdb runs as RUN_AS, who may not reach the build tree: it writes in /tmp, then the result is copied.
            work = tempfile.mkdtemp(prefix="tokenfcgi-initdb-")
            staging = tempfile.mkdtemp(prefix="initdb-", dir=os.path.dirname(base))
            try:
                _chown_tree(work)
                _run([os.path.join(PG_BIN, "initdb"), "-D", os.path.join(work, "data"), "-U", SUPERUSER,
                      "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions", "--wal-segsize=1"])
                shutil.copytree(os.path.join(work, "data"), os.path.join(staging, "data"), symlinks=True)
                shutil.rmtree(base, ignore_errors=True)
                os.rename(staging, base)
            finally:
                shutil.rmtree(work, ignore_errors=True)
                shutil.rmtree(staging, ignore_errors=True)
    return os.path.join(base, "data")


class PgCluster:
    START_TIMEOUT = 60

    def __init__(self, durable=False):
        self.durable = durable
        self.dir = None
        self.running = False
        self._watchdog = None
        self._databases = 0

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def socket_dir(self):
        return self.dir

    @property
    def log_path(self):
        return os.path.join(self.dir, "server.log")

    def start(self):
        if self.dir is None:
            template = _template_dir()
            self.dir = tempfile.mkdtemp(prefix="tokenfcgi-pg-", dir=_scratch_parent())
            os.chmod(self.dir, 0o711)   # the socket inside must be reachable by whoever runs the workers
            shutil.copytree(template, self.data_dir, symlinks=True)
            os.chmod(self.data_dir, 0o700)
            _chown_tree(self.dir)
            self._start_watchdog()
        settings = dict(_SERVER_SETTINGS)
        if self.durable:
            settings.update(fsync="on", synchronous_commit="on", full_page_writes="on")
        options = " ".join(f"-c {k}={v}" for k, v in settings.items())
        options += f" -c unix_socket_directories={self.socket_dir}"
        _run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data_dir, "-l", self.log_path, "-w",
              "-t", str(self.START_TIMEOUT), "-o", options, "start"], timeout=self.START_TIMEOUT + 30)
        self.running = True
        return self

    def stop(self, mode="fast"):
        """Stops the server, keeping the data (start() brings the same cluster back)."""
        if self.dir is None or not self.running:
            return
        self.running = False
        _run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data_dir, "-w", "-t", "60", "-m", mode, "stop"],
             timeout=90)

    def destroy(self):
        if self.dir is None:
            return
        try:
            try:
                self.stop("fast")
            except (PgClusterError, subprocess.TimeoutExpired):
                self.stop("immediate")
        finally:
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait()
                self._watchdog = None
            if os.environ.get("TF_KEEP_TMP"):
                print(f"kept {self.dir}", file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _start_watchdog(self):
        """A process that outlives a test killed without cleanup (a CTest timeout) and stops its server."""
        pg_ctl = os.path.join(PG_BIN, "pg_ctl")
        as_user = f"runuser -u {RUN_AS} -- " if os.geteuid() == 0 else ""
        script = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
                  f"{as_user}{pg_ctl} -D {self.data_dir} -m immediate stop >/dev/null 2>&1; "
                  f"rm -rf {self.dir}")
        self._watchdog = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True)

    # -- databases ---------------------------------------------------------------------------------------------------

    def uri(self, database):
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def psql(self, sql, database="postgres"):
        proc = _run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                     "-h", self.socket_dir, "-U", SUPERUSER, "-d", database, "-c", sql])
        return proc.stdout

    def create_database(self, name=None):
        """A new empty database; returns its URI."""
        self._databases += 1
        name = name or f"t{self._databases}_{secrets.token_hex(4)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.uri(name)

    def wait_until_accepting(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-h", self.socket_dir, "-U", SUPERUSER],
                               capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise PgClusterError(f"the server did not accept connections within {timeout}s")


_shared = None


def shared_cluster():
    """The one cluster of this test process (started on first use, destroyed at exit)."""
    global _shared
    if _shared is None:
        cluster = PgCluster()
        cluster.start()
        atexit.register(cluster.destroy)
        _shared = cluster
    return _shared
