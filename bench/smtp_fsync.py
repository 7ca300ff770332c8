#!/usr/bin/python3
"""smtp_fsync.py - what the disk allows: durable maildir deliveries/s.

Each of --threads threads repeats, for --seconds, what a maildir delivery
that is durable before its 250 does at the least: create a file in tmp/,
write --size bytes, fsync it, rename it into new/, fsync new/. Every
thread has a maildir of its own under --dir (--shared: all threads use
one, as when every message goes to the same user). Prints one JSON line
with the deliveries per second, an upper bound for any server storing
mail this way on this file system whatever its CPU cost, and the average
time to create a file (open with O_CREAT): tens of microseconds
normally; far more on ext4 without a journal after many files were
deleted in the last minutes, as its inode allocator then checks every
recently freed inode before it takes one.

Plain Python 3 from Debian, standard library only (the system calls
release the interpreter lock, so the threads wait on the disk together).
"""
import argparse
import json
import os
import shutil
import sys
import threading
import time


def worker(base, size, stop, counts, idx, create):
    data = b"x" * (size - 1) + b"\n"
    tmp, new = os.path.join(base, "tmp"), os.path.join(base, "new")
    dfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    n = 0
    spent = 0.0
    try:
        while not stop.is_set():
            name = "%d.T%dN%d.bench" % (time.time(), idx, n)
            t = time.monotonic()
            fd = os.open(os.path.join(tmp, name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            spent += time.monotonic() - t
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(os.path.join(tmp, name), os.path.join(new, name))
            os.fsync(dfd)
            n += 1
    finally:
        os.close(dfd)
    counts[idx] = n
    create[idx] = spent


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True,
                    help="scratch folder (must not exist, or is emptied)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--shared", action="store_true",
                    help="one maildir for all threads")
    ap.add_argument("--keep", action="store_true",
                    help="leave the files (deleting thousands of files "
                    "right before other measurements can slow them: "
                    "ext4 without a journal scans past recently freed "
                    "inodes when it allocates one)")
    a = ap.parse_args()

    shutil.rmtree(a.dir, ignore_errors=True)
    bases = []
    for i in range(1 if a.shared else a.threads):
        b = os.path.join(a.dir, "m%d" % i)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(b, sub))
        bases.append(b)
    stop = threading.Event()
    counts = [0] * a.threads
    create = [0.0] * a.threads
    threads = [threading.Thread(target=worker, args=(
        bases[0 if a.shared else i], a.size, stop, counts, i, create))
        for i in range(a.threads)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    if not a.keep:
        shutil.rmtree(a.dir, ignore_errors=True)
    total = sum(counts)
    print(json.dumps({"threads": a.threads, "shared": a.shared,
                      "size": a.size, "deliveries": total,
                      "secs": round(secs, 3),
                      "per_s": round(total / secs, 1),
                      # time to create a file (open O_CREAT), average
                      "create_us": round(1e6 * sum(create) / total, 1)
                      if total else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
