"""The disk's own sync latency, measured the way an LMDB commit syncs (for the write-path journal).

  python3 bench/sync_latency.py [--dir DIR] [--count N] [--size BYTES] [--pages P]

In a scratch file under DIR (default: the temporary directory the tests and benchmarks use), N times (default 2,000):
  fdatasync   write P pages of SIZE bytes (default one page of 4 KiB, LMDB's page size) over pages of the file
              written before (as LMDB reuses freed pages), one pwrite each, then fdatasync: what `lmdb_sync = meta-async` waits for once per commit (a group commit of a
              dozen refresh rotations writes about 70 pages: --pages 70);
  O_DSYNC     write one SIZE-byte page through a descriptor opened with O_DSYNC, at a fixed offset: the meta page
              write that `full` adds to each commit;
  pair        the two one after the other: what one commit waits for under `full`.
Prints p50, p90, p99, p99.9 and max in milliseconds for each. Standard library only.
"""

import argparse
import os
import tempfile
import time

WINDOW_PAGES = 4096  # the data region the commits rewrite (16 MiB of 4 KiB pages)


def percentile(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    i = min(len(sorted_ms) - 1, max(0, int(round(p / 100.0 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--pages", type=int, default=1)
    args = ap.parse_args()

    page = os.urandom(args.size)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="tokenfcgi-sync-") as d:
        path = os.path.join(d, "data")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        meta = os.open(path, os.O_RDWR | os.O_DSYNC)
        try:
            # The two meta pages, then a data region written once beforehand: LMDB rewrites pages of a file that
            # exists (freed pages are reused), so a commit seldom allocates blocks.
            window = max(WINDOW_PAGES, 2 * args.pages)
            os.pwrite(fd, page * 2, 0)
            for k in range(window):
                os.pwrite(fd, page, (2 + k) * args.size)
            os.fsync(fd)
            data_ms, meta_ms, pair_ms = [], [], []
            next_page = 0
            for i in range(args.count):
                t0 = time.perf_counter()
                for _ in range(args.pages):
                    os.pwrite(fd, page, (2 + next_page) * args.size)
                    next_page = (next_page + 1) % window
                os.fdatasync(fd)
                t1 = time.perf_counter()
                os.pwrite(meta, page, (i % 2) * args.size)
                t2 = time.perf_counter()
                data_ms.append((t1 - t0) * 1e3)
                meta_ms.append((t2 - t1) * 1e3)
                pair_ms.append((t2 - t0) * 1e3)
        finally:
            os.close(meta)
            os.close(fd)
    st = os.statvfs(args.dir)
    print(f"{args.count} commits of {args.pages} x {args.size} B in {args.dir} (block size {st.f_bsize})")
    print("| sync | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ms in (("write + fdatasync (meta-async: one per commit)", data_ms),
                     ("meta page through O_DSYNC", meta_ms),
                     ("both (full: one commit)", pair_ms)):
        s = sorted(ms)
        print(f"| {name} | {percentile(s, 50):.2f} | {percentile(s, 90):.2f} | {percentile(s, 99):.2f} | "
              f"{percentile(s, 99.9):.2f} | {s[-1]:.2f} |")


if __name__ == "__main__":
    main()
