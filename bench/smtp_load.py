#!/usr/bin/python3
"""smtp_load.py - one timed SMTP load: smtp-source against a server, then
wait until every message is a file in the recipients' maildirs.

Runs Postfix's smtp-source (from Debian's postfix package) against
127.0.0.1:--port: --sessions parallel sessions, --messages messages of
--size bytes of payload, one recipient each, a new connection per
message (smtp-source's default; --reuse sends them all over the same
connections). With --rcpt-users K > 1, K smtp-source processes share the
sessions and the messages, process i sending to test<i>@--domain.

Two times are taken from the start:
  accept  until every smtp-source has exited: every message had its 250
          after DATA (smtp-source stops at the first unexpected reply);
  e2e     until the maildirs hold every message: the files in new/ and
          cur/ of each --maildir (a template where {i} is the user's
          number) number the count before the run plus --messages.
Without --maildir (a sink that keeps nothing) e2e is accept.

--cpu-tree PID (repeatable) also reports the CPU time (user + system)
that the process trees under those pids used from the start to the end
of e2e: every live process's own time plus the time of the children it
reaped, so short-lived processes (Postfix's smtpd, Dovecot's lmtp) are
counted too. other_cores is the rest of the machine's busy time over
the same period, in CPUs: other work on the machine, plus the kernel's
interrupt work for this load (network, disk), which no process is
charged for.

Prints one JSON line. Plain Python 3 from Debian, standard library only.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def count_files(templates, users):
    """Files in new/ and cur/ of every user's maildir."""
    n = 0
    for t in templates:
        for i in range(1, users + 1):
            base = t.format(i=i)
            for sub in ("new", "cur"):
                try:
                    with os.scandir(os.path.join(base, sub)) as it:
                        for e in it:
                            if not e.name.startswith("."):
                                n += 1
                except FileNotFoundError:
                    pass
    return n


def proc_table():
    """pid -> (ppid, cpu ticks of itself and its reaped children)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        # after comm: state ppid ... utime(14) stime(15) cutime(16) cstime(17)
        ppid = int(fields[1])
        ticks = sum(int(x) for x in fields[11:15])
        out[int(name)] = (ppid, ticks)
    return out


def tree_cpu(roots):
    """CPU seconds of the process trees under roots, reaped children in."""
    table = proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo, ticks = set(), list(roots), 0
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        ticks += table[pid][1]
        todo.extend(children.get(pid, []))
    return ticks / CLK_TCK, len(seen)


def machine_busy():
    """CPU seconds the whole machine spent busy (every CPU, not idle or
    waiting for I/O), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user)
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--label", default="smtp")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rcpt-users", type=int, default=1)
    ap.add_argument("--domain", default="example.test")
    ap.add_argument("--sender", default="sender@example.net")
    ap.add_argument("--helo", default="client.example.net")
    ap.add_argument("--reuse", action="store_true",
                    help="smtp-source -d: several messages per connection")
    ap.add_argument("--maildir", action="append", default=[],
                    help="maildir template, {i} = user number (repeatable)")
    ap.add_argument("--cpu-tree", type=int, action="append", default=[],
                    help="pid whose process tree's CPU time is measured")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds smtp-source may take")
    ap.add_argument("--e2e-timeout", type=float, default=300,
                    help="seconds to wait for delivery after acceptance")
    ap.add_argument("--smtp-source", default="smtp-source")
    a = ap.parse_args()

    k = max(1, a.rcpt_users)
    sessions = [max(1, a.sessions // k)] * k
    messages = [a.messages // k] * k
    for i in range(a.messages % k):
        messages[i] += 1
    total = sum(messages)

    before = count_files(a.maildir, k) if a.maildir else 0
    cpu0 = tree_cpu(a.cpu_tree)[0] if a.cpu_tree else None
    busy0, kids0 = machine_busy(), children_cpu()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    errs = []
    procs = []
    t0 = time.monotonic()
    for i in range(k):
        if messages[i] == 0:
            continue
        cmd = [a.smtp_source, "-s", str(sessions[i]), "-m", str(messages[i]),
               "-l", str(a.size), "-M", a.helo, "-f", a.sender,
               "-t", "test%d@%s" % (i + 1, a.domain)]
        if a.reuse:
            cmd.append("-d")
        cmd.append("127.0.0.1:%d" % a.port)
        err = tempfile.TemporaryFile()
        procs.append((subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                       stdout=err, stderr=err), err))
    rc = 0
    for p, err in procs:
        try:
            r = p.wait(timeout=max(1, a.timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            p.kill()
            r = p.wait()
            errs.append("smtp-source timed out after %.0f s" % a.timeout)
        rc = rc or r
        err.seek(0)
        text = err.read().decode("utf-8", "replace").strip()
        if text:
            errs.extend(text.splitlines()[:5])
    t1 = time.monotonic()

    got = total
    if a.maildir:
        deadline = t1 + a.e2e_timeout
        while True:
            got = count_files(a.maildir, k) - before
            if got >= total or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    t2 = time.monotonic()
    cpu = None
    if a.cpu_tree:
        cpu = tree_cpu(a.cpu_tree)[0] - cpu0
    busy = machine_busy() - busy0
    source = children_cpu() - kids0

    acc, e2e = t1 - t0, t2 - t0
    out = {
        "label": a.label, "port": a.port, "sessions": a.sessions,
        "messages": total, "size": a.size, "rcpt_users": k,
        "reuse": a.reuse, "rc": rc, "errors": errs[:10],
        "delivered": got, "complete": got >= total and rc == 0,
        "accept_secs": round(acc, 3),
        "accept_per_s": round(total / acc, 1) if acc > 0 else None,
        "e2e_secs": round(e2e, 3),
        "e2e_per_s": round(got / e2e, 1) if e2e > 0 else None,
        "cpu_secs": round(cpu, 2) if cpu is not None else None,
        "cpu_ms_per_msg": round(1000 * cpu / total, 3)
        if cpu is not None and total else None,
        "loadavg_before": float(load),
        "source_cpu_secs": round(source, 2),
        "machine_busy_cores": round(busy / e2e, 2) if e2e > 0 else None,
        # what the machine did besides the server and smtp-source
        # (includes the kernel's own network and disk work for the load)
        "other_cores": round(max(0.0, busy - source - (cpu or 0)) / e2e, 2)
        if e2e > 0 and cpu is not None else None,
    }
    print(json.dumps(out))
    return 0 if out["complete"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Ctrl-C reached smtp-source too; the caller cleans up
        sys.exit(130)
