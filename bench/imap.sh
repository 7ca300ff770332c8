#!/usr/bin/env bash
# imap.sh [BUILDDIR] - IMAP from facteurd beside Dovecot's imap (Debian's
# dovecot-imapd), on the same maildir content, in one run:
#
#  1. a mixed workload (imap_load.py --mode mix): CLIENTS clients logged
#     in at once, spread over USERS users, each running SELECT, FETCH of
#     a window of 20 (FLAGS ENVELOPE), FETCH BODY.PEEK[] of one message,
#     STORE +/-FLAGS, SEARCH and APPEND, one command after the other, for
#     SECS seconds: operations per second, and the CPU the server's
#     processes used per 1,000 operations (a figure other work on the
#     machine disturbs less);
#  2. memory per logged-in IDLE connection (imap_load.py --mode idle):
#     IDLE_CONNS connections (LOGIN, SELECT INBOX, IDLE), PSS summed over
#     all the server's processes, before and after; Dovecot with
#     DOVECOT_IDLE_CONNS (each is an imap process of its own there).
#
# Dovecot runs twice: stock (a login process per connection, an imap
# process per session) and with its documented high-performance
# settings (login processes reused and serving many clients each:
# service imap-login { service_count = 0; client_limit; process_min_avail
# = cores }, and imap processes reused: service imap { service_count =
# 100 }). Both servers check the same crypt(3) hashes (HASH: sha512 by
# default), facteur from its passwd file and Dovecot with scheme CRYPT.
# The mail: SEED messages of varied sizes (1 KB to 300 KB, some
# multipart) that facteurctl imports for each user; Dovecot gets copies
# of the very files facteur wrote, a fresh copy for each profile.
#
# Settings: CLIENTS (20), USERS (CLIENTS), SECS (10), RUNS (3: the servers
# take turns, each figure is the median), SEED (300), HASH (sha512),
# IDLE_CONNS (10000), DOVECOT_IDLE_CONNS (1000), SKIP_IDLE=1, SKIP_MIX=1,
# FACTEUR_WORKERS (the number of cores), FACTEUR_PORT (17145),
# DOVECOT_PORT (17146),
# BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

CLIENTS="${CLIENTS:-20}"
USERS="${USERS:-$CLIENTS}"
SECS="${SECS:-10}"
RUNS="${RUNS:-3}"
SEED="${SEED:-300}"
HASH="${HASH:-sha512}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
DOVECOT_IDLE_CONNS="${DOVECOT_IDLE_CONNS:-1000}"
SKIP_IDLE="${SKIP_IDLE:-0}"
SKIP_MIX="${SKIP_MIX:-0}"
FACTEUR_WORKERS="${FACTEUR_WORKERS:-$(nproc)}"
FACTEUR_PORT="${FACTEUR_PORT:-17145}"
DOVECOT_PORT="${DOVECOT_PORT:-17146}"
PASS=benchpass

bench_init imap "${1:-}"
FACTEURCTL="$FACTEUR_BUILDDIR/facteurctl"
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
[ -e "$FACTEUR_BUILDDIR/modules/imap/.libs/imap.so" ] \
    || bench_die "the imap module is not built in $FACTEUR_BUILDDIR"
bench_need_pkgs python3 dovecot-core dovecot-imapd
bench_ensure_user facteur
bench_ensure_user "$BENCH_MAIL_USER"
bench_port_free "$FACTEUR_PORT"
bench_port_free "$DOVECOT_PORT"
most="$IDLE_CONNS"
[ "$DOVECOT_IDLE_CONNS" -gt "$most" ] && most="$DOVECOT_IDLE_CONNS"
bench_raise_nofile $((most + 1024))

jget() {
    "$BENCH_PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
ratio() {
    "$BENCH_PY" -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.2f" % (a / b) if b else "-")' "$1" "$2"
}
# tree_cpu SID: CPU ticks of a server's processes (setsid made it the
# session leader): user + system of the live ones, plus what their
# reaped children used (Dovecot's per-session processes)
tree_cpu() {
    local pid total=0 f
    for pid in $(bench_session_pids "$1"); do
        f="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
        f="${f##*) }"
        # shellcheck disable=SC2086
        set -- $f
        total=$((total + ${12} + ${13} + ${14} + ${15}))
    done
    echo "$total"
}
# mix SID PORT NAME: one mixed-workload run; its JSON line gets the
# server's CPU ms per 1,000 operations as "cpu_ms_per_kop"
mix() {
    local c0 c1 j
    # warm-up, not counted: Dovecot builds its indexes, processes start
    "$BENCH_PY" "$BENCH_DIR/imap_load.py" --mode mix --port "$2" \
        --clients "$CLIENTS" --users "$USERS" --secs 2 --password "$PASS" \
        --seed "$((run + 100))" >/dev/null || bench_die "$3: warm-up failed"
    c0="$(tree_cpu "$1")"
    j="$("$BENCH_PY" "$BENCH_DIR/imap_load.py" --mode mix --port "$2" \
        --clients "$CLIENTS" --users "$USERS" --secs "$SECS" \
        --password "$PASS" --seed "$run")" || bench_die "$3: imap_load.py failed"
    c1="$(tree_cpu "$1")"
    echo "$j" >>"$BENCH_TMP/results.jsonl"
    [ "$(jget "$j" errors)" = 0 ] \
        || bench_die "$3: $(jget "$j" errors) errors: $(jget "$j" first_errors)"
    "$BENCH_PY" -c '
import json, os, sys
j = json.loads(sys.argv[1])
ms = int(sys.argv[2]) * 1000.0 / os.sysconf("SC_CLK_TCK")
j["cpu_ms_per_kop"] = round(1000 * ms / j["ops"], 1) if j["ops"] else None
print(json.dumps(j))' "$j" "$((c1 - c0))"
}
# idle PID PORT LABEL CONNS: memory per logged-in IDLE connection
idle() {
    local j
    bench_log "$3: $4 connections logged in and in IDLE"
    j="$("$BENCH_PY" "$BENCH_DIR/imap_load.py" --mode idle --port "$2" \
        --pid "$1" --conns "$4" --users "$USERS" --password "$PASS" \
        --label "$3")" || bench_die "$3: imap_load.py failed"
    echo "$j" >>"$BENCH_TMP/results.jsonl"
    echo "$j" >>"$BENCH_TMP/idle.jsonl"
}

hash="$("$FACTEURCTL" pw -s "$HASH" -p "$PASS")"
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
: >"$BENCH_TMP/results.jsonl"
: >"$BENCH_TMP/idle.jsonl"

# ------------------------------------------------------------------
bench_log "facteur: $USERS users, $SEED messages each"
F="$BENCH_TMP/facteur"
mkdir -p "$F/mail" "$F/state" "$BENCH_TMP/msgs"
chown facteur: "$F/mail" "$F/state"
for ((i = 1; i <= USERS; i++)); do
    echo "bench$i:$hash"
done >"$F/passwd"
chmod 644 "$F/passwd"
cat >"$F/facteurd.conf" <<CONF
# facteurd for bench/imap.sh
user facteur;
workers $FACTEUR_WORKERS;
pid_file $F/facteurd.pid;
state_dir $F/state;
log stderr;
log_level notice;
max_connections $((most + 1000));
load passwd-file maildir imap;
passwd-file { path $F/passwd; }
maildir { location $F/mail/%n; }
imap {
    listen 127.0.0.1:$FACTEUR_PORT;
    max_connections_per_ip $((most + 1000));
}
CONF
# the seed: sizes spread from 1 KB to 300 KB (most small, as in a real
# mailbox), a tenth multipart with an attachment, varied senders and
# subjects for SEARCH
"$BENCH_PY" "$BENCH_DIR/imap_seed.py" "$BENCH_TMP/msgs" "$SEED"
for ((i = 1; i <= USERS; i++)); do
    "$FACTEURCTL" -c "$F/facteurd.conf" mailbox import "bench$i" INBOX \
        "$BENCH_TMP"/msgs/*.eml >/dev/null
done
"$FACTEURD" -t -c "$F/facteurd.conf" >"$F/check.log" 2>&1 \
    || { cat "$F/check.log" >&2; bench_die "facteurd -t failed"; }
seed_kib="$(du -sk "$BENCH_TMP/msgs" | cut -f1)"

# ------------------------------------------------------------------
D="$BENCH_TMP/dovecot"
uid="$(id -u "$BENCH_MAIL_USER")"
gid="$(id -g "$BENCH_MAIL_USER")"
mkdir -p "$D"/{etc,run,state,log}
chmod 755 "$D" "$D/etc" "$D/run" "$D/state" "$D/log"
# dovecot_mail PROFILE: a fresh copy of facteur's message files
dovecot_mail() {
    local m="$D/mail-$1" i
    rm -rf "$m"
    for ((i = 1; i <= USERS; i++)); do
        mkdir -p "$m/bench$i"/{cur,new,tmp}
        cp "$BENCH_TMP/pristine/bench$i/cur/"* "$m/bench$i/cur/"
    done
    chown -R "$uid:$gid" "$m"
}
mkdir -p "$BENCH_TMP/pristine"
for ((i = 1; i <= USERS; i++)); do
    mkdir -p "$BENCH_TMP/pristine/bench$i/cur"
    cp "$F/mail/bench$i/cur/"* "$BENCH_TMP/pristine/bench$i/cur/"
done
dovecot_conf() {  # dovecot_conf stock|perf
    local login="" mail=""
    if [ "$1" = perf ]; then
        login="  service_count = 0
  client_limit = $((most + 1000))
  process_min_avail = $(nproc)
  vsz_limit = 1G"
        mail="  service_count = 100
  process_min_avail = $(nproc)"
    fi
    cat >"$D/etc/dovecot.conf" <<CONF
# private Dovecot for bench/imap.sh, profile $1
instance_name = facteur-bench-imap
base_dir = $D/run
state_dir = $D/state
protocols = imap
listen = 127.0.0.1
log_path = $D/log/dovecot.log
ssl = no
disable_plaintext_auth = no
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:$D/mail-$1/%n
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%n $D/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $D/etc/users
}
default_process_limit = $((most + 1000))
default_client_limit = $((4 * most + 4000))
service imap-login {
$login
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = $((most + 1000))
$mail
}
protocol imap {
  mail_max_userip_connections = $((most + 1000))
}
CONF
    for ((i = 1; i <= USERS; i++)); do
        echo "bench$i:{CRYPT}$hash:$uid:$gid::$D/mail-$1/bench$i::"
    done >"$D/etc/users"
    chmod 644 "$D/etc/users"
    doveconf -c "$D/etc/dovecot.conf" -n >"$D/etc/doveconf-n-$1.txt" \
        2>"$D/log/doveconf.err" \
        || { cat "$D/log/doveconf.err" >&2; bench_die "Dovecot config check failed"; }
}
dovecot_start() {  # dovecot_start PROFILE: sets DPID
    dovecot_conf "$1"
    bench_start "dovecot-$1" "$D/log/stderr.log" dovecot -F -c "$D/etc/dovecot.conf"
    DPID=$BENCH_PID
    bench_wait_greeting "$DOVECOT_PORT" "* OK" \
        || { tail -5 "$D/log/stderr.log" "$D/log/dovecot.log" >&2;
             bench_die "Dovecot did not start"; }
}
facteur_start() {  # sets FPID
    bench_start facteurd "$F/facteurd.log" "$FACTEURD" -f -c "$F/facteurd.conf"
    FPID=$BENCH_PID
    bench_wait_greeting "$FACTEUR_PORT" "* OK" || bench_die "facteurd did not start"
}
dovecot_mail stock
dovecot_mail perf

# ------------------------------------------------------------------
# 1. the mixed workload. The servers take turns, RUNS times, and each
# figure is the median: on a shared machine a burst of someone else's
# work then spoils one turn, not one server's figure.
f_ops=(); s_ops=(); p_ops=(); f_cpu=(); s_cpu=(); p_cpu=()
if [ "$SKIP_MIX" != 1 ]; then
    for ((run = 1; run <= RUNS; run++)); do
        bench_log "turn $run of $RUNS: facteur, $CLIENTS clients for ${SECS}s"
        facteur_start
        j="$(mix "$FPID" "$FACTEUR_PORT" facteur)"
        f_ops+=("$(jget "$j" ops_per_s)"); f_cpu+=("$(jget "$j" cpu_ms_per_kop)")
        f_last="$j"
        bench_stop "$FPID"
        for profile in stock perf; do
            bench_log "turn $run of $RUNS: Dovecot $profile"
            dovecot_start "$profile"
            j="$(mix "$DPID" "$DOVECOT_PORT" "Dovecot $profile")"
            if [ "$profile" = stock ]; then
                s_ops+=("$(jget "$j" ops_per_s)"); s_cpu+=("$(jget "$j" cpu_ms_per_kop)")
                s_last="$j"
            else
                p_ops+=("$(jget "$j" ops_per_s)"); p_cpu+=("$(jget "$j" cpu_ms_per_kop)")
                p_last="$j"
            fi
            bench_stop "$DPID"
        done
    done
fi

# ------------------------------------------------------------------
# 2. memory per logged-in IDLE connection, each case on a fresh server
if [ "$SKIP_IDLE" != 1 ]; then
    facteur_start
    idle "$FPID" "$FACTEUR_PORT" "facteur" "$IDLE_CONNS"
    bench_stop "$FPID"
    for profile in stock perf; do
        dovecot_start "$profile"
        idle "$DPID" "$DOVECOT_PORT" "Dovecot $profile" "$DOVECOT_IDLE_CONNS"
        bench_stop "$DPID"
    done
fi

# ------------------------------------------------------------------
cat <<OUT

IMAP benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average before: $LOAD0
facteur $(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo '?') ($FACTEUR_WORKERS workers), Dovecot $(dovecot --version | cut -d' ' -f1) from Debian; $HASH-crypt passwords for both
$USERS users with $SEED messages each ($(awk "BEGIN { printf \"%.1f\", $seed_kib / 1024 }") MiB); the same files for both servers
OUT
if [ "$SKIP_MIX" != 1 ]; then
    fo="$(bench_median "${f_ops[@]}")"; so="$(bench_median "${s_ops[@]}")"
    po="$(bench_median "${p_ops[@]}")"
    best="$so"; bestname=stock
    if "$BENCH_PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$po" "$so"; then
        best="$po"; bestname=high-performance
    fi
    cat <<OUT

1. Mixed workload: $CLIENTS clients logged in, ${SECS}s per turn, median of $RUNS turns
   (SELECT 1 : FETCH 20 x (FLAGS ENVELOPE) 3 : FETCH BODY.PEEK[] 3 : STORE 2 : SEARCH 1 : APPEND 1)

                                  ops/s   server CPU ms per 1000 ops   (ops/s of each turn)
  facteur                    $(printf '%10s %16s' "$fo" "$(bench_median "${f_cpu[@]}")")               (${f_ops[*]})
  Dovecot stock              $(printf '%10s %16s' "$so" "$(bench_median "${s_cpu[@]}")")               (${s_ops[*]})
  Dovecot high-performance   $(printf '%10s %16s' "$po" "$(bench_median "${p_cpu[@]}")")               (${p_ops[*]})

  ratio facteur / faster Dovecot ($bestname): $(ratio "$fo" "$best")x   (target: at least 1)
OUT
    "$BENCH_PY" - "$f_last" "$s_last" "$p_last" <<'PY'
import json, sys
rows = [("facteur", json.loads(sys.argv[1])), ("Dovecot stock", json.loads(sys.argv[2])),
        ("Dovecot high-perf", json.loads(sys.argv[3]))]
kinds = list(rows[0][1]["per_kind"])
print("\n  last turn, per command: ops/s (mean latency ms)")
print("  %-18s" % "" + "".join("%20s" % k for k in kinds))
for name, j in rows:
    print("  %-18s" % name + "".join(
        "%20s" % ("%.0f (%.1f)" % (j["per_kind"][k]["per_s"], j["per_kind"][k]["ms"] or 0))
        for k in kinds))
print("  load generator CPU in the last turn: %s" % ", ".join(
    "%s %s%%" % (n, j["client_cpu_pct"]) for n, j in rows))
PY
fi
if [ "$SKIP_IDLE" != 1 ]; then
    "$BENCH_PY" - "$BENCH_TMP/idle.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\n2. Logged-in IDLE connections (LOGIN, SELECT INBOX, IDLE), PSS of all the server's processes\n")
print("  %-20s %7s %7s %12s %12s %12s %9s" % (
    "server", "conns", "alive", "KiB/conn", "PSS MiB", "processes", "logins/s"))
for r in rows:
    print("  %-20s %7d %7d %12.1f %12.1f %5d->%-6d %9.0f" % (
        r["label"], r["conns_wanted"], r["conns_alive"], r["pss_per_conn_kib"],
        r["pss_after_kib"] / 1024.0, r["procs_before"], r["procs_after"],
        r["logins_per_s"] or 0))
    if r["errors"] or r["conns_alive"] != r["conns_wanted"]:
        print("    ! %d errors, %d of %d alive; first: %s" % (
            r["errors"], r["conns_alive"], r["conns_wanted"], r["first_errors"][:2]))
f = [r for r in rows if r["label"] == "facteur"]
if f:
    print("\n  target, facteur at most 32 KiB per logged-in IDLE connection: %s"
          % ("met" if f[0]["pss_per_conn_kib"] <= 32 else "NOT MET"))
PY
fi
