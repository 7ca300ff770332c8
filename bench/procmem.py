#!/usr/bin/python3
"""procmem.py PID - memory of a server: the process tree rooted at PID.

Sums Pss, Rss and private memory (Private_Clean + Private_Dirty) in KiB
from /proc/<pid>/smaps_rollup over PID and all its descendants (the
master and its workers or login processes), and prints one JSON line.
PSS charges each shared page to the processes sharing it in equal parts,
so the sum over a tree counts every page once: it is the figure to add
up across processes. Importable: tree_mem(pid) -> dict.
"""
import json
import os
import sys


def _children():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split after the last ')'
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree_pids(root):
    kids = _children()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def proc_mem(pid):
    """Pss, Rss, private KiB of one process, or None if it is gone."""
    vals = {"rss": 0, "pss": 0, "private": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key == "Rss":
                    vals["rss"] = int(rest.split()[0])
                elif key == "Pss":
                    vals["pss"] = int(rest.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    vals["private"] += int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return vals


def tree_mem(root):
    tot = {"procs": 0, "rss_kib": 0, "pss_kib": 0, "private_kib": 0}
    by_comm = {}
    per_proc = []
    for pid in tree_pids(root):
        m = proc_mem(pid)
        if m is None:
            continue
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        tot["procs"] += 1
        tot["rss_kib"] += m["rss"]
        tot["pss_kib"] += m["pss"]
        tot["private_kib"] += m["private"]
        c = by_comm.setdefault(comm, [0, 0])
        c[0] += 1
        c[1] += m["pss"]
        per_proc.append({"pid": pid, "comm": comm, "pss_kib": m["pss"]})
    # one line per process when there are few (a master and its workers)
    if len(per_proc) <= 16:
        tot["per_proc"] = per_proc
    tot["by_comm"] = {k: {"procs": v[0], "pss_kib": v[1]}
                      for k, v in sorted(by_comm.items())}
    return tot


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(__doc__)
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    print(json.dumps(tree_mem(int(sys.argv[1]))))
