#!/usr/bin/env bash
# pgsql.sh [BUILDDIR] - SMTP delivery into PostgreSQL versus maildir, two
# facteur nodes on one database versus one, and where the time goes.
#
# Postfix's smtp-source (SESSIONS parallel sessions, MESSAGES messages of
# SIZE bytes, one recipient each, a new connection per message, as
# bench/smtp.sh) against, in each round:
#
#   maildir      one facteurd, storage maildir (fsync'd, the default)
#   pgsql        one facteurd, storage pgsql (each message committed,
#                synchronous_commit on, before its 250)
#   pgsql-2x1    two facteurd nodes (one worker each) on one database,
#                the load split between them
#   pgsql-2x2    two nodes with two workers each
#
# Users come from a passwd file in every case, so only the storage
# differs; the mail goes to test1..testRCPT_USERS@example.test. The
# database is a private PostgreSQL (scripts/tools/pg-test-cluster.sh,
# fsync on) with pg_stat_statements tracking the statements inside the
# schema's functions too, and track_wal_io_timing on. After the rounds
# the script prints the statements that took the most time, the WAL
# flushes per message and their time, and EXPLAIN ANALYZE of a view's
# catch-up query on the loaded mailbox.
#
# Then IMAP on pgsql versus maildir (one node each, FACTEUR_WORKERS
# workers, the same messages imported into both with facteurctl):
#
#   fetch-all    FETCH 1:* (ENVELOPE BODYSTRUCTURE) on a mailbox of
#                IMAP_MESSAGES messages, the first time (pgsql reads and
#                parses every body and fills its message cache) and the
#                second (pgsql answers from the cache); the cache is
#                emptied before each round
#   mix          bench/imap_load.py's mixed workload (as bench/imap.sh:
#                SELECT, FETCH (FLAGS ENVELOPE), FETCH BODY.PEEK[], STORE,
#                SEARCH, APPEND), CLIENTS clients over as many users with
#                IMAP_SEED messages each, for SECS seconds
#
# IMAP_RUNS rounds of both, then what schema 3 adds to a delivery: the
# time of facteur_header_len() over the stored bodies.
#
# RUNS rounds; medians printed. Run as root on Debian 12 (installs
# postfix for smtp-source, postgresql).
#
# Environment:
#   SESSIONS=20 MESSAGES=3000 SIZE=4096 RUNS=3 WARMUP=100 RCPT_USERS=1
#   FACTEUR_WORKERS=2      workers of the single-node cases
#   PORT_BASE=17600        ports PORT_BASE..PORT_BASE+5
#   IMAP_MESSAGES=5000 IMAP_SEED=300 CLIENTS=20 SECS=10 IMAP_RUNS=3
#   SKIP_SMTP=1 SKIP_IMAP=1  leave one half out
#   BENCH_KEEP=1           keep the scratch folder
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SESSIONS="${SESSIONS:-20}"
MESSAGES="${MESSAGES:-3000}"
SIZE="${SIZE:-4096}"
RUNS="${RUNS:-3}"
WARMUP="${WARMUP:-100}"
RCPT_USERS="${RCPT_USERS:-1}"
FACTEUR_WORKERS="${FACTEUR_WORKERS:-2}"
PORT_BASE="${PORT_BASE:-17600}"
IMAP_MESSAGES="${IMAP_MESSAGES:-5000}"
IMAP_SEED="${IMAP_SEED:-300}"
CLIENTS="${CLIENTS:-20}"
SECS="${SECS:-10}"
IMAP_RUNS="${IMAP_RUNS:-3}"
SKIP_SMTP="${SKIP_SMTP:-0}"
SKIP_IMAP="${SKIP_IMAP:-0}"
DOMAIN=example.test

bench_init pgsql "${1:-}"
FACTEURCTL="$FACTEUR_BUILDDIR/facteurctl"
bench_need_pkgs python3 procps postfix postgresql
bench_ensure_user facteur
bench_raise_nofile 4096
for m in smtp imap maildir passwd-file pgsql; do
    [ -e "$FACTEUR_BUILDDIR/modules/$m/.libs/$m.so" ] \
        || [ -e "$FACTEUR_BUILDDIR/modules/$m/$m.so" ] \
        || bench_die "the $m module is not built in $FACTEUR_BUILDDIR/modules"
done
for i in 0 1 2 3 4 5; do
    bench_port_free $((PORT_BASE + i))
done
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

CLUSTER="$BENCH_REPO/scripts/tools/pg-test-cluster.sh"
PGDIR="$BENCH_TMP/pg"
pgsql_cleanup() {
    local rc=$?
    set +e
    [ ! -d "$PGDIR" ] || sh "$CLUSTER" stop "$PGDIR"
    (exit "$rc")
    bench_cleanup
}
trap pgsql_cleanup EXIT

bench_log "starting a private PostgreSQL"
sh "$CLUSTER" start "$PGDIR" >"$BENCH_TMP/pg.env"
# shellcheck disable=SC1091
. "$BENCH_TMP/pg.env"
psql_su() { psql -X -q -A -t -U postgres -d facteur -v ON_ERROR_STOP=1 "$@"; }
psql_su -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" \
    -c "ALTER SYSTEM SET track_wal_io_timing = on" \
    -c "SELECT pg_reload_conf()" >/dev/null

# the users, in a passwd file every server reads
USERS_FILE="$BENCH_TMP/passwd"
for ((i = 1; i <= 100; i++)); do
    echo "test$i@$DOMAIN:{PLAIN}x::::::"
done >"$USERS_FILE"
# IMAP: bench1..benchCLIENTS for the mixed workload, big for FETCH 1:*
for ((i = 1; i <= CLIENTS; i++)); do
    echo "bench$i:{PLAIN}benchpass::::::"
done >>"$USERS_FILE"
echo "big:{PLAIN}benchpass::::::" >>"$USERS_FILE"
chmod 644 "$USERS_FILE"

# conf NAME PORT STORAGE WORKERS: a facteurd folder with its config
conf() {
    local name="$1" port="$2" storage="$3" workers="$4" dir
    dir="$BENCH_TMP/$name"
    mkdir -p "$dir/mail" "$dir/state"
    chown facteur "$dir/mail" "$dir/state"
    cat >"$dir/facteurd.conf" <<EOF
user facteur;
workers $workers;
pid_file $dir/facteurd.pid;
state_dir $dir/state;
log stderr;
max_connections 20000;
auth passwd-file;
storage $storage;
load passwd-file maildir pgsql smtp;
passwd-file { path $USERS_FILE; allow_plaintext_passwords yes; }
maildir { location $dir/mail/%d/%n; }
pgsql {
    connect "host=$PGHOST port=$PGPORT dbname=facteur user=facteur";
    schema auto;
}
smtp {
    hostname mx.$DOMAIN;
    local_domains $DOMAIN;
    listen 127.0.0.1:$port;
    max_connections_per_ip 20000;
}
EOF
    echo "$dir"
}

# start DIR PORT: facteurd in the foreground, its pid in STARTED
start() {
    bench_start "facteurd $(basename "$1")" "$1/facteurd.log" \
        "$FACTEURD" -f -c "$1/facteurd.conf"
    STARTED=$BENCH_PID
    bench_wait_greeting "$2" 220 || bench_die "facteurd $(basename "$1")" \
        "did not start: $(tail -3 "$1/facteurd.log")"
}

# load LABEL PORT SESSIONS MESSAGES [MAILDIR_TEMPLATE]: one JSON line
load() {
    local args=(--port "$2" --label "$1" --sessions "$3" --messages "$4"
        --size "$SIZE" --rcpt-users "$RCPT_USERS" --domain "$DOMAIN")
    [ -z "${5:-}" ] || args+=(--maildir "$5")
    "$BENCH_PY" "$BENCH_DIR/smtp_load.py" "${args[@]}"
}

rate_of() {
    "$BENCH_PY" -c 'import json,sys; r=json.loads(sys.argv[1])
if not r["complete"]: sys.exit("incomplete: %s" % r["errors"][:2])
print("%.1f" % r["e2e_per_s"])' "$1"
}

# one_node LABEL STORAGE: a round with one server
one_node() {
    local label="$1" storage="$2" dir out tmpl=""
    dir="$(conf "$label" "$PORT_BASE" "$storage" "$FACTEUR_WORKERS")"
    [ "$storage" != maildir ] || tmpl="$dir/mail/$DOMAIN/test{i}"
    start "$dir" "$PORT_BASE"
    [ "$WARMUP" -le 0 ] || load warm "$PORT_BASE" "$SESSIONS" "$WARMUP" \
        "$tmpl" >/dev/null
    out="$(load "$label" "$PORT_BASE" "$SESSIONS" "$MESSAGES" "$tmpl")"
    bench_stop "$STARTED"
    rate_of "$out"
}

# two_nodes LABEL WORKERS: two servers, half the load each, at once
two_nodes() {
    local label="$1" workers="$2" d1 d2 p1 p2 o1 o2 half=$((MESSAGES / 2))
    d1="$(conf "$label-a" $((PORT_BASE + 1)) pgsql "$workers")"
    d2="$(conf "$label-b" $((PORT_BASE + 2)) pgsql "$workers")"
    start "$d1" $((PORT_BASE + 1))
    p1=$STARTED
    start "$d2" $((PORT_BASE + 2))
    p2=$STARTED
    [ "$WARMUP" -le 0 ] || load warm $((PORT_BASE + 1)) "$SESSIONS" \
        "$WARMUP" >/dev/null
    load "$label-a" $((PORT_BASE + 1)) $((SESSIONS / 2)) "$half" \
        >"$BENCH_TMP/o1" &
    local l1=$!
    load "$label-b" $((PORT_BASE + 2)) $((SESSIONS / 2)) "$half" \
        >"$BENCH_TMP/o2"
    wait "$l1"
    o1="$(cat "$BENCH_TMP/o1")"
    o2="$(cat "$BENCH_TMP/o2")"
    bench_stop "$p1"
    bench_stop "$p2"
    # both ran at once: the total over the longer of the two
    "$BENCH_PY" -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if not (a["complete"] and b["complete"]): sys.exit("incomplete")
t = max(a["messages"] / a["e2e_per_s"], b["messages"] / b["e2e_per_s"])
print("%.1f" % ((a["messages"] + b["messages"]) / t))' "$o1" "$o2"
}

declare -A rates
cases="maildir pgsql pgsql-2x1 pgsql-2x2"
[ "$SKIP_SMTP" != 1 ] || RUNS=0
for ((run = 1; run <= RUNS; run++)); do
    bench_log "round $run of $RUNS"
    for c in $cases; do
        case $c in
            maildir) r="$(one_node "maildir-$run" maildir)" ;;
            pgsql) r="$(one_node "pgsql-$run" pgsql)" ;;
            pgsql-2x1) r="$(two_nodes "2x1-$run" 1)" ;;
            pgsql-2x2) r="$(two_nodes "2x2-$run" 2)" ;;
        esac
        bench_log "  $c: $r msg/s"
        rates[$c]="${rates[$c]:-} $r"
        echo "{\"case\": \"$c\", \"run\": $run, \"msg_per_s\": $r}" \
            >>"$RESULTS"
    done
done

if [ "$SKIP_SMTP" != 1 ]; then
echo
echo "SMTP deliveries per second (median of $RUNS; $SESSIONS sessions," \
    "$MESSAGES x $SIZE bytes; single nodes: $FACTEUR_WORKERS workers):"
for c in $cases; do
    # shellcheck disable=SC2086
    printf "  %-10s %8s msg/s   (%s )\n" "$c" \
        "$(bench_median ${rates[$c]})" "${rates[$c]}"
done

total=$(psql_su -c "SELECT count(*) FROM messages")
echo
echo "Where the time goes (pg_stat_statements over every pgsql run," \
    "$total messages stored):"
psql_su -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 0)
        AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
        regexp_replace(left(query, 90), '\s+', ' ', 'g')
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12" \
    | sed 's/^/  /'
echo
echo "WAL (commits wait for its flush):"
psql_su -F ' | ' -c "SELECT wal_records, wal_sync AS flushes,
        round(wal_sync_time::numeric, 0) AS flush_ms,
        round((wal_sync_time / nullif(wal_sync, 0))::numeric, 3)
            AS ms_per_flush,
        round((wal_sync::numeric / $total), 3) AS flushes_per_message,
        pg_size_pretty(wal_bytes) AS wal
    FROM pg_stat_wal" | sed 's/^/  /'
echo
echo "EXPLAIN ANALYZE of a view's catch-up on the busiest mailbox:"
mb=$(psql_su -c "SELECT mailbox_id FROM messages GROUP BY 1
    ORDER BY count(*) DESC LIMIT 1")
ms=$(psql_su -c "SELECT max(modseq) - 10 FROM messages
    WHERE mailbox_id = $mb")
psql_su -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON)
    SELECT 2, uid, flags, keywords, modseq, internal_date, size, size_crlf,
        guid FROM messages WHERE mailbox_id = $mb AND modseq > $ms
    UNION ALL SELECT 3, uid, 0, 0, modseq, 0, 0, 0, NULL FROM expunged
        WHERE mailbox_id = $mb AND modseq > $ms ORDER BY 1, 2" \
    | sed 's/^/  /'
fi

[ "$SKIP_IMAP" != 1 ] || exit 0

# ------------------------------------------------------------------
# IMAP

# imap_conf NAME PORT STORAGE: a facteurd folder serving IMAP
imap_conf() {
    local name="$1" port="$2" storage="$3" dir
    dir="$BENCH_TMP/$name"
    mkdir -p "$dir/mail" "$dir/state"
    chown facteur "$dir/mail" "$dir/state"
    cat >"$dir/facteurd.conf" <<EOF
user facteur;
workers $FACTEUR_WORKERS;
pid_file $dir/facteurd.pid;
state_dir $dir/state;
log stderr;
max_connections 20000;
auth passwd-file;
storage $storage;
load passwd-file maildir pgsql imap;
passwd-file { path $USERS_FILE; allow_plaintext_passwords yes; }
maildir { location $dir/mail/%n; }
pgsql {
    connect "host=$PGHOST port=$PGPORT dbname=facteur user=facteur";
    schema auto;
}
imap {
    listen 127.0.0.1:$port;
    max_connections_per_ip 20000;
}
EOF
    echo "$dir"
}

# seed DIR N: the messages, sizes from 1 KB to 300 KB (most small), a
# tenth multipart with an attachment: imap_seed.py, as imap.sh uses
seed() {
    mkdir -p "$1"
    "$BENCH_PY" "$BENCH_DIR/imap_seed.py" "$1" "$2"
}

# fetch_all PORT: FETCH 1:* (ENVELOPE BODYSTRUCTURE) of user big's
# INBOX twice in one session: "first-seconds second-seconds"
fetch_all() {
    "$BENCH_PY" - "$1" <<'PY'
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=600)
m.login("big", "benchpass")
typ, data = m.select("INBOX", readonly=True)
assert typ == "OK", data
out = []
for _ in range(2):
    t = time.monotonic()
    typ, data = m.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
    out.append(time.monotonic() - t)
    assert typ == "OK", data
m.logout()
print("%.3f %.3f" % (out[0], out[1]))
PY
}

bench_log "IMAP: $IMAP_MESSAGES messages for FETCH 1:*, $IMAP_SEED for" \
    "each of $CLIENTS users"
seed "$BENCH_TMP/big" "$IMAP_MESSAGES"
seed "$BENCH_TMP/mix" "$IMAP_SEED"
IMD="$(imap_conf imap-maildir $((PORT_BASE + 4)) maildir)"
IPG="$(imap_conf imap-pgsql $((PORT_BASE + 5)) pgsql)"
"$FACTEURCTL" -c "$IPG/facteurd.conf" db migrate >/dev/null
for d in "$IMD" "$IPG"; do
    t0=$(date +%s%N)
    "$FACTEURCTL" -c "$d/facteurd.conf" mailbox import big INBOX \
        "$BENCH_TMP"/big/*.eml >/dev/null
    t1=$(date +%s%N)
    bench_log "  $(basename "$d"): $IMAP_MESSAGES imported in" \
        "$(( (t1 - t0) / 1000000 )) ms"
    for ((i = 1; i <= CLIENTS; i++)); do
        "$FACTEURCTL" -c "$d/facteurd.conf" mailbox import "bench$i" \
            INBOX "$BENCH_TMP"/mix/*.eml >/dev/null
    done
    chown -R facteur "$d/mail" "$d/state"
done

declare -A ifirst isecond imix
for ((run = 1; run <= IMAP_RUNS; run++)); do
    bench_log "IMAP round $run of $IMAP_RUNS"
    # pgsql starts cold, as with bodies stored before schema 3
    psql_su -c "UPDATE bodies SET cache = NULL" >/dev/null
    for c in maildir pgsql; do
        if [ $c = maildir ]; then
            d="$IMD" p=$((PORT_BASE + 4))
        else
            d="$IPG" p=$((PORT_BASE + 5))
        fi
        bench_start "facteurd imap-$c" "$d/facteurd-$run.log" \
            "$FACTEURD" -f -c "$d/facteurd.conf"
        pid=$BENCH_PID
        bench_wait_greeting "$p" '* OK' || bench_die "imap-$c did not" \
            "start: $(tail -3 "$d/facteurd-$run.log")"
        read -r f1 f2 <<<"$(fetch_all "$p")"
        bench_log "  $c: FETCH 1:* first ${f1}s, second ${f2}s"
        ifirst[$c]="${ifirst[$c]:-} $f1"
        isecond[$c]="${isecond[$c]:-} $f2"
        j="$("$BENCH_PY" "$BENCH_DIR/imap_load.py" --mode mix --port "$p" \
            --clients "$CLIENTS" --users "$CLIENTS" --secs "$SECS" \
            --password benchpass --seed "$run" --label "$c")" \
            || bench_die "imap-$c: imap_load.py failed"
        echo "$j" >>"$RESULTS"
        r="$("$BENCH_PY" -c 'import json, sys; r = json.loads(sys.argv[1])
if r["errors"]: sys.exit("errors: %s" % r["first_errors"][:2])
print("%.1f" % r["ops_per_s"])' "$j")"
        bench_log "  $c: mixed workload $r ops/s"
        imix[$c]="${imix[$c]:-} $r"
        bench_stop "$pid"
    done
done

echo
echo "IMAP, one node of $FACTEUR_WORKERS workers, median of $IMAP_RUNS:"
echo "  FETCH 1:* (ENVELOPE BODYSTRUCTURE), $IMAP_MESSAGES messages (s):"
for c in maildir pgsql; do
    # shellcheck disable=SC2086
    printf "    %-8s first %7s (%s )   second %7s (%s )\n" "$c" \
        "$(bench_median ${ifirst[$c]})" "${ifirst[$c]}" \
        "$(bench_median ${isecond[$c]})" "${isecond[$c]}"
done
echo "  mixed workload, $CLIENTS clients, ${SECS}s (ops/s):"
for c in maildir pgsql; do
    # shellcheck disable=SC2086
    printf "    %-8s %8s   (%s )\n" "$c" "$(bench_median ${imix[$c]})" \
        "${imix[$c]}"
done
echo
echo "What schema 3 adds to a delivery: facteur_header_len() over the" \
    "stored bodies, and the cache's size:"
psql_su -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON)
    SELECT facteur_header_len(data) FROM bodies" | sed 's/^/  /'
psql_su -c "SELECT count(*) || ' bodies, ' ||
        pg_size_pretty(sum(length(data))::bigint) || ', cache ' ||
        pg_size_pretty(coalesce(sum(length(cache)), 0)::bigint) || ' (' ||
        round(coalesce(avg(length(cache)), 0)) || ' bytes a body)'
    FROM bodies" | sed 's/^/  /'
