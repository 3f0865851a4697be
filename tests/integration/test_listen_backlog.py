"""A burst of connections through nginx to two `--listen` workers queues in the workers' listen backlog instead of
being refused: 512 requests arrive at once while both workers are stopped (SIGSTOP), so every upstream connection
must wait in a backlog; then the workers continue and every request gets 200, none nginx's 502. With a backlog of
128 a full Unix-socket backlog fails nginx's connect() with EAGAIN, which is a 502 and marks the worker down.

A worker stopped (SIGTERM) while connections wait in the backlog of the socket it bound answers them before it exits
(it drains the backlog), removes its socket file first so that nothing new arrives, and exits 0: every queued
request gets 200, and nginx logs no connection reset.

Needs ss (iproute2) to see the backlogs fill; exits 77 without it. Loopback and Unix sockets only."""

import http.client
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

import harness
from harness import Deployment

BURST = 512


def accept_queues(paths):
    """{socket path: connections waiting in its accept queue} from `ss -xl` (Recv-Q of a listening socket). ss names
    a socket by the path it was bound to: the worker binds PATH.new<pid> and renames it to PATH."""
    out = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True, timeout=10).stdout
    queues = {}
    for line in out.splitlines():
        fields = line.split()
        for i, field in enumerate(fields):
            for path in paths:
                if (field == path or field.startswith(path + ".new")) and i >= 2 and fields[i - 2].isdigit():
                    queues[path] = int(fields[i - 2])
    return queues


def burst(d, count, before_release):
    """`count` GETs of the JWKS through nginx while the workers are stopped (SIGSTOP); once every one waits in a
    backlog (or was answered), calls before_release(), resumes the workers (SIGCONT) and returns the statuses (0 =
    connection failed)."""
    statuses = []
    lock = threading.Lock()

    def one():
        status = 0
        try:
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
            c.request("GET", "/.well-known/openid-configuration/jwks")
            status = c.getresponse().status
            c.close()
        except OSError:
            pass
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for proc in d.workers:
        proc.send_signal(signal.SIGSTOP)
    try:
        for t in threads:
            t.start()
        # Every request is either waiting in a worker's backlog or already answered (by nginx, with an error: the
        # workers are stopped). Bounded well below nginx's fastcgi_read_timeout (60 s), so that a client slow to
        # connect delays the test instead of failing it.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            queued = sum(accept_queues(set(d.sockets)).values())
            with lock:
                answered = len(statuses)
            if queued + answered >= count:
                break
            time.sleep(0.05)
        before_release()
    finally:
        for proc in d.workers:
            proc.send_signal(signal.SIGCONT)
    for t in threads:
        t.join(90)
    assert not any(t.is_alive() for t in threads), "some requests did not finish within 90 s"
    return statuses


class ListenBacklogTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("ss") is None:
            raise unittest.SkipTest("needs ss (iproute2)")

    def test_burst_queues_instead_of_502(self):
        with Deployment(workers=2, threads=2, worker_connections=4 * BURST) as d:
            statuses = burst(d, BURST, lambda: None)
            counts = {s: statuses.count(s) for s in set(statuses)}
            self.assertEqual(counts, {200: BURST}, "statuses of the burst (0 = connection failed)")
            with open(d.nginx_error_log) as f:
                log = f.read()
            self.assertNotIn("Resource temporarily unavailable", log)

    def test_stop_answers_the_backlog(self):
        with Deployment(workers=1, threads=2, worker_connections=1024) as d:
            proc, sock = d.workers[0], d.sockets[0]
            # SIGTERM reaches the stopped worker before it runs again: it stops while the burst waits in its backlog.
            statuses = burst(d, 128, lambda: proc.send_signal(signal.SIGTERM))
            self.assertEqual(proc.wait(30), 0)
            counts = {s: statuses.count(s) for s in set(statuses)}
            self.assertEqual(counts, {200: 128}, "statuses of the burst (0 = connection failed)")
            self.assertFalse(os.path.exists(sock), "the socket file outlived its worker")
            with open(d.nginx_error_log) as f:
                log = f.read()
            self.assertNotIn("reset", log)
            d._start_workers()  # for the deployment's own clean stop


if __name__ == "__main__":
    harness.main(need_jwt=False)
