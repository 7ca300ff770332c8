#!/usr/bin/env bash
# idle-memory.sh [BUILDDIR] - memory per idle connection.
#
# Opens many idle connections that each read their greeting (and then
# send nothing), and measures the server's memory before and after: PSS
# summed from /proc/<pid>/smaps_rollup over the master and all its
# children (idle_conns.py does the connecting and the measuring). Each
# case runs against a freshly started server.
#
#   1. facteurd, echo module, CONNS plain connections (default 10,000)
#   2. facteurd, echo module, TLS_CONNS implicit-TLS connections (default
#      1,000; a P-256 certificate made here with openssl)
#   3. Dovecot's IMAP (Debian's dovecot-imapd, private instance), for
#      scale. facteur has no IMAP yet, so these are PRE-LOGIN connections:
#      they read Dovecot's greeting and stay idle, like the echo ones.
#      a. stock process model (one imap-login process per connection),
#         DOVECOT_CONNS connections (default 1,000: one process each, about
#         1 MiB apiece; the stock process_limit of 100 and client_limit of
#         1000 are raised to let them in)
#      b. Dovecot's high-performance mode, service imap-login {
#         service_count = 0; process_min_avail = 2 }, DOVECOT_PERF_CONNS
#         connections (default: CONNS)
#
# Prints one line per case and the facteur/Dovecot ratios. Target:
# facteur plain under 16 KiB per idle connection.
#
# BUILDDIR: the facteur build tree (default $FACTEUR_BUILDDIR, else
# ../build from this folder). Run as root on Debian 12; installs
# python3, openssl, procps and dovecot-imapd if they are missing.
#
# Environment:
#   CONNS=10000 TLS_CONNS=1000 DOVECOT_CONNS=1000 DOVECOT_PERF_CONNS=$CONNS
#   HOLD=3               seconds the connections stay idle before measuring
#   CONCURRENCY=100      connections being opened at once
#   SKIP_DOVECOT=1       facteur only
#   FACTEUR_WORKERS=2
#   FACTEUR_PORT=17007 FACTEUR_TLS_PORT=17993 DOVECOT_PORT=17143
#   BENCH_JSON=FILE      append the raw JSON result lines to FILE
#   BENCH_KEEP=1         keep the scratch folder (configs, logs, JSON)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

CONNS="${CONNS:-10000}"
TLS_CONNS="${TLS_CONNS:-1000}"
DOVECOT_CONNS="${DOVECOT_CONNS:-1000}"
DOVECOT_PERF_CONNS="${DOVECOT_PERF_CONNS:-$CONNS}"
HOLD="${HOLD:-3}"
CONCURRENCY="${CONCURRENCY:-100}"
SKIP_DOVECOT="${SKIP_DOVECOT:-0}"
FACTEUR_PORT="${FACTEUR_PORT:-17007}"
FACTEUR_TLS_PORT="${FACTEUR_TLS_PORT:-17993}"
DOVECOT_PORT="${DOVECOT_PORT:-17143}"

bench_init idle-memory "${1:-}"
pkgs=(python3 openssl procps)
[ "$SKIP_DOVECOT" = 1 ] || pkgs+=(dovecot-imapd)
bench_need_pkgs "${pkgs[@]}"
bench_ensure_user facteur
[ "$SKIP_DOVECOT" = 1 ] || bench_ensure_user "$BENCH_MAIL_USER"

# one descriptor per connection in the client, and in the server's
# process that holds it (facteurd raises its own soft limit up to the
# hard one; Dovecot's login processes inherit ours)
most="$CONNS"
for n in "$TLS_CONNS" "$DOVECOT_CONNS" "$DOVECOT_PERF_CONNS"; do
    [ "$n" -gt "$most" ] && most="$n"
done
bench_raise_nofile $((most + 256))
bench_port_free "$FACTEUR_PORT"
bench_port_free "$FACTEUR_TLS_PORT"
[ "$SKIP_DOVECOT" = 1 ] || bench_port_free "$DOVECOT_PORT"
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

# measure LABEL PORT PID EXPECT CONNS [idle_conns options...]
measure() {
    local label="$1" port="$2" pid="$3" expect="$4" n="$5" out
    shift 5
    bench_log "$label: $n idle connections"
    out="$("$BENCH_PY" "$BENCH_DIR/idle_conns.py" --port "$port" \
        --pid "$pid" --conns "$n" --expect "$expect" --label "$label" \
        --hold "$HOLD" --concurrency "$CONCURRENCY" "$@")" \
        || bench_die "$label: idle_conns.py failed"
    echo "$out" >>"$RESULTS"
    [ -z "${BENCH_JSON:-}" ] || echo "$out" >>"$BENCH_JSON"
}

# ------------------------------------------------------------------
# facteurd

F="$BENCH_TMP/facteur"
mkdir -p "$F"
chmod 755 "$F"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 2 -subj /CN=localhost -keyout "$F/key.pem" \
    -out "$F/cert.pem" >"$F/openssl.log" 2>&1 \
    || { cat "$F/openssl.log" >&2; bench_die "openssl req failed"; }
chmod 600 "$F/key.pem"

bench_facteur_conf "$F/plain.conf" "$F" "127.0.0.1:$FACTEUR_PORT"
bench_facteur_conf "$F/tls.conf" "$F" "127.0.0.1:$FACTEUR_TLS_PORT tls" \
"    tls_certificate $F/cert.pem;
    tls_key $F/key.pem;"
for c in plain tls; do
    "$FACTEURD" -t -c "$F/$c.conf" >"$F/check-$c.log" 2>&1 \
        || { cat "$F/check-$c.log" >&2; bench_die "facteurd -t $c.conf failed"; }
done

bench_start "facteurd (plain)" "$F/plain.log" "$FACTEURD" -f -c "$F/plain.conf"
pid="$BENCH_PID"
bench_wait_greeting "$FACTEUR_PORT" "OK " || bench_die "facteurd did not start"
measure "facteur plain" "$FACTEUR_PORT" "$pid" "OK " "$CONNS"
bench_stop "$pid"

bench_start "facteurd (TLS)" "$F/tls.log" "$FACTEURD" -f -c "$F/tls.conf"
pid="$BENCH_PID"
bench_wait_greeting "$FACTEUR_TLS_PORT" "OK " tls || bench_die "facteurd did not start"
measure "facteur TLS" "$FACTEUR_TLS_PORT" "$pid" "OK " "$TLS_CONNS" --tls
bench_stop "$pid"

# ------------------------------------------------------------------
# Dovecot, pre-login

dovecot_case() {
    local label="$1" name="$2" n="$3" extra="$4" d pid
    d="$BENCH_TMP/$name"
    bench_dovecot_conf "$d" "$DOVECOT_PORT" "$extra"
    bench_start "dovecot ($name)" "$d/log/dovecot.stderr" \
        dovecot -F -c "$d/etc/dovecot.conf"
    pid="$BENCH_PID"
    bench_wait_greeting "$DOVECOT_PORT" "* OK" \
        || { tail -5 "$d/log/dovecot.stderr" "$d/log/dovecot.log" >&2;
             bench_die "dovecot did not start"; }
    measure "$label" "$DOVECOT_PORT" "$pid" "* OK" "$n"
    bench_stop "$pid"
    # limits Dovecot ran into, if any
    grep -hE "reached|Warning|Error|Fatal" "$d/log/dovecot.log" \
        "$d/log/dovecot.stderr" 2>/dev/null | grep -v "Killed with signal" \
        | sed "s/^/  dovecot ($name): /" | sort | uniq -c | head -5 >&2 || true
}

if [ "$SKIP_DOVECOT" != 1 ]; then
    # stock: one imap-login process per connection. Its stock
    # process_limit (100) would queue every connection past the 100th,
    # and every login process is a client of the stats, anvil and auth
    # services, whose stock client_limit (1000) would drop some.
    dovecot_case "Dovecot pre-login, stock" dovecot-stock "$DOVECOT_CONNS" \
"default_client_limit = $((DOVECOT_CONNS + 1000))
service imap-login {
  process_limit = $((DOVECOT_CONNS + 100))
}"
    dovecot_case "Dovecot pre-login, high-performance" dovecot-perf \
        "$DOVECOT_PERF_CONNS" \
"service imap-login {
  service_count = 0
  process_min_avail = 2
}"
fi

# ------------------------------------------------------------------
# Summary

fversion="$("$FACTEURD" -V 2>&1 | head -1)"
dversion="$( [ "$SKIP_DOVECOT" = 1 ] || dovecot --version)"
"$BENCH_PY" - "$RESULTS" "$fversion" "$dversion" "$(nproc)" \
    "$F/plain.log" "$F/tls.log" <<'PYEOF'
import collections, json, re, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
fversion, dversion, ncpu = sys.argv[2], sys.argv[3], sys.argv[4]
logs = {"facteur plain": sys.argv[5], "facteur TLS": sys.argv[6]}


def split(label):
    """Connections accepted by each worker (warm-up included), from the log."""
    count = collections.Counter()
    try:
        for line in open(logs[label], errors="replace"):
            m = re.search(r"facteurd\[(\d+)\]: \w+: \S+ session=\S+ event=connect ",
                          line)
            if m:
                count[m.group(1)] += 1
    except (KeyError, OSError):
        pass
    return ", ".join("%s: %d" % kv for kv in sorted(count.items()))

print()
print("Idle connections, PSS of the whole server per connection (%s, %s CPUs)"
      % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ncpu))
print("  %s%s" % (fversion, ("; Dovecot " + dversion) if dversion else ""))
print()
print("  %-38s %7s %7s %11s %11s %10s %9s" % (
    "case", "conns", "alive", "KiB/conn", "PSS MiB", "procs", "conn/s"))
by = {}
for r in rows:
    by[r["label"]] = r
    extra = " (%s)" % r["tls_version"] if r.get("tls_version") else ""
    print("  %-38s %7d %7d %11.2f %11.1f %4d->%-5d %9.0f%s" % (
        r["label"], r["conns_wanted"], r["conns_alive"],
        r["pss_per_conn_kib"], r["pss_after_kib"] / 1024.0,
        r["procs_before"], r["procs_after"], r["conns_per_sec"] or 0, extra))
    if r["errors"] or r["conns_alive"] != r["conns_wanted"]:
        print("    ! %d errors, %d of %d alive; first: %s" % (
            r["errors"], r["conns_alive"], r["conns_wanted"],
            r["first_errors"][:1]))
    if r.get("per_proc_after") and r["label"].startswith("facteur"):
        print("    PSS after, per process (KiB): %s" % ", ".join(
            "%d: %d" % (p["pid"], p["pss_kib"]) for p in r["per_proc_after"]))
        if split(r["label"]):
            print("    connections accepted, per worker: %s" % split(r["label"]))
print()
fp = by.get("facteur plain")
if fp:
    ok = fp["pss_per_conn_kib"] < 16
    print("  target, facteur plain under 16 KiB per idle connection: %s"
          % ("met" if ok else "NOT MET"))
for key in ("Dovecot pre-login, stock", "Dovecot pre-login, high-performance"):
    d = by.get(key)
    if not d or not fp:
        continue
    print("  %s / facteur plain: %.1fx (pre-login connections)" % (
        key, d["pss_per_conn_kib"] / max(fp["pss_per_conn_kib"], 0.01)))
PYEOF
