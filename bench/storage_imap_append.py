#!/usr/bin/python3
"""storage_imap_append.py PORT USER PASSWORD COUNT SIZE PROCS

Appends COUNT messages of SIZE bytes into INBOX over IMAP (127.0.0.1:PORT),
from PROCS processes with one connection each, started together once all
are logged in. Prints one JSON line: messages, seconds, per_second. Used
by storage.sh to time Dovecot's APPEND on a connection that stays open,
the nearest thing to facteur's appends through the storage API.
"""
import imaplib
import json
import multiprocessing
import sys
import time


def message(proc, n, size):
    head = ("From: bench@example.org\r\nSubject: bench %d-%d\r\n"
            "Message-ID: <%d.%d@bench>\r\n\r\n" % (proc, n, proc, n))
    body = []
    left = size - len(head)
    line = ("abcdefghijklmnopqrstuvwxyz" * 3)[:70] + "\r\n"
    while left >= len(line):
        body.append(line)
        left -= len(line)
    body.append("x" * max(left - 2, 0) + "\r\n")
    return (head + "".join(body)).encode()


def worker(args):
    port, user, password, count, size, proc, barrier = args
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.login(user, password)
    barrier.wait()
    for n in range(count):
        typ, _ = imap.append("INBOX", None, None, message(proc, n, size))
        if typ != "OK":
            raise SystemExit("APPEND failed")
    imap.logout()


def main():
    if len(sys.argv) != 7 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 else 2)
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    count, size, procs = (int(a) for a in sys.argv[4:7])
    barrier = multiprocessing.Barrier(procs + 1)
    jobs = []
    for k in range(procs):
        share = count // procs + (1 if k < count % procs else 0)
        p = multiprocessing.Process(target=worker, args=(
            (port, user, password, share, size, k, barrier),))
        p.start()
        jobs.append(p)
    barrier.wait()
    t0 = time.monotonic()
    for p in jobs:
        p.join()
    seconds = time.monotonic() - t0
    failed = any(p.exitcode != 0 for p in jobs)
    print(json.dumps({"what": "imap-append", "messages": count,
                      "size": size, "processes": procs,
                      "seconds": round(seconds, 3),
                      "per_second": round(count / seconds, 1),
                      "failed": int(failed)}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
