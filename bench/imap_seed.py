#!/usr/bin/env python3
"""imap_seed.py DIR N: N messages for the IMAP benchmarks (imap.sh,
pgsql.sh), the same for every run (a fixed random seed): sizes spread
from 1 KB to 300 KB, most small as in a real mailbox, a tenth multipart
with an attachment, varied senders and subjects for SEARCH."""
import base64, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(8)
people = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
words = ["alpha", "bravo", "report", "meeting", "invoice", "lunch",
         "release", "budget", "travel", "review"]
for k in range(n):
    size = int(min(300000, max(1000, rnd.lognormvariate(8.5, 1.2))))
    who = rnd.choice(people)
    subj = "%s %s %d" % (rnd.choice(words), rnd.choice(words), k)
    head = ("From: %s <%s@example.net>\nTo: Bench <bench@example.org>\n"
            "Cc: %s@example.com\nSubject: %s\n"
            "Date: %s, %02d Nov 2026 %02d:%02d:00 +0000\n"
            "Message-ID: <%d.seed@bench.example>\nMIME-Version: 1.0\n" % (
                who.title(), who, rnd.choice(people), subj,
                rnd.choice(["Mon", "Tue", "Wed"]), rnd.randint(1, 28),
                rnd.randint(0, 23), rnd.randint(0, 59), k))
    line = "%s\n" % " ".join(rnd.choice(words) for _ in range(10))
    if k % 10 == 3:
        blob = base64.encodebytes(os.urandom(size * 3 // 4)).decode()
        msg = (head + 'Content-Type: multipart/mixed; boundary="b%d"\n\n'
               "--b%d\nContent-Type: text/plain\n\n%s\n--b%d\n"
               "Content-Type: application/octet-stream\n"
               "Content-Transfer-Encoding: base64\n"
               'Content-Disposition: attachment; filename="f%d.bin"\n\n'
               "%s--b%d--\n" % (k, k, line * 5, k, k, blob, k))
    else:
        msg = (head + "Content-Type: text/plain; charset=us-ascii\n\n"
               + line * max(1, (size - len(head)) // len(line)))
    with open(os.path.join(d, "m%05d.eml" % k), "w") as f:
        f.write(msg)
