#!/usr/bin/env bash
# smtp.sh [BUILDDIR] - SMTP mail accepted and stored in maildir, end to end.
#
# Postfix's smtp-source (SESSIONS=20 parallel sessions, MESSAGES=5000
# messages of SIZE=4096 bytes, one recipient, one connection per message)
# against, side by side in one run:
#
#   1. smtp-sink (Postfix's test server, which keeps nothing): the load
#      generator's ceiling on this machine;
#   2. Postfix -> Dovecot LMTP -> maildir: a private Postfix (Debian's
#      postfix) whose only domain is delivered by its lmtp client to a
#      private Dovecot (dovecot-lmtpd), which writes the maildir;
#   3. facteurd -> maildir: the smtp module delivers to local users
#      through the maildir module before its 250, every message fsync'd
#      (the defaults), once per worker count in FACTEUR_WORKERS_LIST.
#
# The end-to-end time runs from the first connection until every message
# is a file in the recipient's maildir (new/ or cur/): for Postfix the
# queue has drained into Dovecot; for facteur it is when the last 250
# was read. Users test1..testUSERS@example.test on every server; the mail
# goes to test1 (RCPT_USERS=K: spread over test1..testK, K smtp-source
# processes). Each round runs every case once, in the order above; RUNS
# rounds, medians printed with the ratios facteur / (Postfix+Dovecot)
# and facteur / ceiling. Target: facteur at least 2x Postfix+Dovecot.
#
# Before the rounds, smtp_fsync.py measures what the disk allows: the
# same tmp/ write + fsync + rename + fsync of new/ as a maildir delivery,
# from 1, 2 and 20 threads at once, and the time to create a file.
# Nothing is deleted until the end (see set_aside): on ext4 without a
# journal, files deleted in the last minutes slow every file creation.
#
# BUILDDIR: the facteur build tree (default $FACTEUR_BUILDDIR, else
# ../build from this folder). Run as root on Debian 12; installs python3,
# procps, postfix (preselected "No configuration": no system instance is
# set up), dovecot-core and dovecot-lmtpd if they are missing.
#
# Environment:
#   SESSIONS=20 MESSAGES=5000 SIZE=4096 RUNS=3
#   WARMUP=200            untimed messages sent to each server first
#   USERS=1000            test users on each server
#   RCPT_USERS=1          recipients test1..testK (K smtp-source processes)
#   REUSE=1               smtp-source -d: many messages per connection
#   FACTEUR_WORKERS_LIST="1 2 auto"
#   FACTEUR_SMTP_EXTRA="directive value; ..."  added to facteurd's smtp
#                         block (its cases are then labelled "facteur*")
#   SKIP_PEERS=1          facteur only (no ratios)
#   SKIP_DISK=1           skip the fsync measurement
#   PROFILE="fsync strace perf" (any of them) after the rounds, one more
#                         load per tool against facteurd (workers
#                         PROFILE_WORKERS, default auto):
#                         fsync: sync calls per message, by command name,
#                           from perf's syscall tracepoints (machine-wide;
#                           also against Postfix+Dovecot);
#                         strace: strace -c -w on facteurd's processes
#                           (calls and wall time per message);
#                         perf: perf record -g on them (on-CPU time)
#   E2E_TIMEOUT=300       seconds to wait for delivery after acceptance
#   SINK_PORT=17026 POSTFIX_PORT=17025 LMTP_PORT=17024 FACTEUR_SMTP_PORT=17525
#   BENCH_JSON=FILE       append the raw JSON result lines to FILE
#   BENCH_KEEP=1          keep the scratch folder (configs, logs, results)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SESSIONS="${SESSIONS:-20}"
MESSAGES="${MESSAGES:-5000}"
SIZE="${SIZE:-4096}"
RUNS="${RUNS:-3}"
WARMUP="${WARMUP:-200}"
USERS="${USERS:-1000}"
RCPT_USERS="${RCPT_USERS:-1}"
REUSE="${REUSE:-0}"
FACTEUR_WORKERS_LIST="${FACTEUR_WORKERS_LIST:-1 2 auto}"
FACTEUR_SMTP_EXTRA="${FACTEUR_SMTP_EXTRA:-}"
FLABEL=facteur
[ -z "$FACTEUR_SMTP_EXTRA" ] || FLABEL="facteur*"
SKIP_PEERS="${SKIP_PEERS:-0}"
SKIP_DISK="${SKIP_DISK:-0}"
PROFILE="${PROFILE:-}"
PROFILE_WORKERS="${PROFILE_WORKERS:-auto}"
E2E_TIMEOUT="${E2E_TIMEOUT:-300}"
SINK_PORT="${SINK_PORT:-17026}"
POSTFIX_PORT="${POSTFIX_PORT:-17025}"
LMTP_PORT="${LMTP_PORT:-17024}"
FACTEUR_SMTP_PORT="${FACTEUR_SMTP_PORT:-17525}"
DOMAIN=example.test

for tool in $PROFILE; do
    case "$tool" in
        fsync | strace | perf) ;;
        *) echo "smtp.sh: PROFILE takes fsync, strace, perf" >&2; exit 2 ;;
    esac
done
if [ "$RCPT_USERS" -lt 1 ] || [ "$RCPT_USERS" -gt "$USERS" ]; then
    echo "smtp.sh: RCPT_USERS must be 1..USERS" >&2
    exit 2
fi

bench_init smtp "${1:-}"

# Postfix asks how to configure the system's mail on install: say
# "No configuration", so no system instance is set up or started.
pkgs=(python3 procps)
if [ "$SKIP_PEERS" != 1 ]; then
    if ! dpkg-query -W -f='${Status}' postfix 2>/dev/null \
        | grep -q "install ok installed"; then
        echo "postfix postfix/main_mailer_type select No configuration" \
            | debconf-set-selections
    fi
    pkgs+=(postfix dovecot-core dovecot-lmtpd)
else
    pkgs+=(postfix)     # smtp-source
fi
case " $PROFILE " in *" strace "*) pkgs+=(strace) ;; esac
case " $PROFILE " in *" perf "* | *" fsync "*) pkgs+=(linux-perf) ;; esac
bench_need_pkgs "${pkgs[@]}"
bench_ensure_user facteur
[ "$SKIP_PEERS" = 1 ] || bench_ensure_user "$BENCH_MAIL_USER"
bench_raise_nofile 4096

bench_port_free "$FACTEUR_SMTP_PORT"
if [ "$SKIP_PEERS" != 1 ]; then
    for p in "$SINK_PORT" "$POSTFIX_PORT" "$LMTP_PORT"; do
        bench_port_free "$p"
    done
fi
for m in smtp maildir passwd-file; do
    [ -e "$FACTEUR_BUILDDIR/modules/$m/.libs/$m.so" ] \
        || [ -e "$FACTEUR_BUILDDIR/modules/$m/$m.so" ] \
        || bench_die "the $m module is not built in $FACTEUR_BUILDDIR/modules"
done
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

# Postfix's master daemonizes: stop it too if we leave between its start
# and the moment its pid joins the list bench_cleanup stops.
POSTFIX_DIR=""
smtp_cleanup() {
    local rc=$? pid
    set +e
    if [ -n "$POSTFIX_DIR" ] && [ -s "$POSTFIX_DIR/queue/pid/master.pid" ]; then
        pid="$(tr -dc 0-9 <"$POSTFIX_DIR/queue/pid/master.pid")"
        [ -z "$pid" ] || BENCH_PIDS+=("$pid")
    fi
    (exit "$rc")
    bench_cleanup
}
trap smtp_cleanup EXIT

# load CASE PORT NMSG MAILDIR_TEMPLATE|- [smtp_load.py options...]: one
# load, its JSON line on stdout.
load() {
    local label="$1" port="$2" n="$3" tmpl="$4"
    shift 4
    local args=(--port "$port" --label "$label" --sessions "$SESSIONS"
        --messages "$n" --size "$SIZE" --rcpt-users "$RCPT_USERS"
        --domain "$DOMAIN" --e2e-timeout "$E2E_TIMEOUT")
    [ "$tmpl" = - ] || args+=(--maildir "$tmpl")
    [ "$REUSE" != 1 ] || args+=(--reuse)
    "$BENCH_PY" "$BENCH_DIR/smtp_load.py" "${args[@]}" "$@"
}

# measure CASE PORT TEMPLATE|- [smtp_load.py options...]: the timed load
measure() {
    local label="$1" port="$2" tmpl="$3" out
    shift 3
    out="$(load "$label" "$port" "$MESSAGES" "$tmpl" "$@")" || {
        echo "$out" >&2
        bench_die "$label: the load did not complete (see above)"
    }
    echo "$out" >>"$RESULTS"
    [ -z "${BENCH_JSON:-}" ] || echo "$out" >>"$BENCH_JSON"
    show_load "$out" >&2
}

# show_load JSON: one line for a load's result
show_load() {
    "$BENCH_PY" -c 'import json,sys; r=json.loads(sys.argv[1]); print(
        "  %-26s %7.1f msg/s end to end (accepted %.1f/s)%s%s%s" % (r["label"],
        r["e2e_per_s"], r["accept_per_s"], "" if r["cpu_ms_per_msg"] is None
        else ", CPU %.2f ms/msg" % r["cpu_ms_per_msg"],
        "" if r.get("other_cores") is None
        else ", other CPUs %.2f" % r["other_cores"],
        "" if r["complete"] else " INCOMPLETE: %d of %d delivered, %s" % (
        r["delivered"], r["messages"], r["errors"][:2])))' "$1" 2>/dev/null \
        || echo "  (no result: ${1:-nothing})"
}

warmup() {
    local label="$1" port="$2" tmpl="$3" out
    [ "$WARMUP" -gt 0 ] || return 0
    out="$(load "$label warm-up" "$port" "$WARMUP" "$tmpl")" || {
        echo "$out" >&2
        bench_die "$label: the warm-up did not complete (see above)"
    }
}

# ------------------------------------------------------------------
# The disk: durable maildir deliveries per second

if [ "$SKIP_DISK" != 1 ]; then
    bench_log "disk: tmp/ + fsync + rename + fsync new/, $SIZE bytes, 1/2/20 threads"
    for t in 1 2 20; do
        "$BENCH_PY" "$BENCH_DIR/smtp_fsync.py" --dir "$BENCH_TMP/fsync-$t" \
            --threads "$t" --shared --size "$SIZE" --seconds 2 --keep \
            | sed 's/^{/{"label": "disk", /' >>"$RESULTS"
    done
fi

# ------------------------------------------------------------------
# smtp-sink

sink_start() {
    bench_start smtp-sink "$BENCH_TMP/smtp-sink.log" \
        smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1024
    SINK_PID="$BENCH_PID"
    bench_wait_greeting "$SINK_PORT" "220" || bench_die "smtp-sink did not start"
}

# ------------------------------------------------------------------
# Dovecot: LMTP only, users test1..testUSERS, maildir

DOVECOT_DIR="$BENCH_TMP/dovecot"
DOVECOT_MAIL="$DOVECOT_DIR/mail"

dovecot_start() {
    local d="$DOVECOT_DIR" uid gid
    uid="$(id -u "$BENCH_MAIL_USER")"
    gid="$(id -g "$BENCH_MAIL_USER")"
    mkdir -p "$d"/{etc,run,state,log,mail}
    chmod 755 "$d" "$d/etc" "$d/run" "$d/state" "$d/log" "$d/mail"
    chown "$uid:$gid" "$d/mail"
    awk -v n="$USERS" -v uid="$uid" -v gid="$gid" -v base="$d/mail" \
        'BEGIN { for (i = 1; i <= n; i++)
                   printf "test%d:{PLAIN}benchpass:%d:%d::%s/test%d::\n",
                          i, uid, gid, base, i }' >"$d/etc/users"
    chmod 644 "$d/etc/users"
    # Dovecot's built-in defaults (not Debian's conf.d), LMTP only;
    # mail_fsync stays "optimized": a saved message is fsync'd.
    cat >"$d/etc/dovecot.conf" <<EOF
# private Dovecot for facteur's SMTP benchmark: LMTP into maildir
instance_name = facteur-bench-smtp-$(basename "$BENCH_TMP")
base_dir = $d/run
state_dir = $d/state
protocols = lmtp
listen = 127.0.0.1
log_path = $d/log/dovecot.log
ssl = no
hostname = lmtp.$DOMAIN
postmaster_address = postmaster@$DOMAIN
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:$d/mail/%n/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $d/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $d/etc/users
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
EOF
    doveconf -c "$d/etc/dovecot.conf" -n >"$d/etc/doveconf-n.txt" \
        2>"$d/log/doveconf.err" \
        || { cat "$d/log/doveconf.err" >&2; bench_die "Dovecot config check failed"; }
    bench_start dovecot "$d/log/dovecot.stderr" dovecot -F -c "$d/etc/dovecot.conf"
    DOVECOT_PID="$BENCH_PID"
    bench_wait_greeting "$LMTP_PORT" "220" \
        || { tail -5 "$d/log/dovecot.stderr" "$d/log/dovecot.log" >&2;
             bench_die "Dovecot's LMTP did not start"; }
}

# ------------------------------------------------------------------
# Postfix: smtpd on loopback; its one domain goes to Dovecot's LMTP

postfix_start() {
    local p="$BENCH_TMP/postfix" i out
    mkdir -p "$p"/{etc,queue,data,log}
    chown root:root "$p" "$p/etc" "$p/queue"
    chmod 755 "$p" "$p/etc" "$p/queue" "$p/log"
    chown postfix:postfix "$p/data"
    chmod 700 "$p/data"
    awk -v n="$USERS" -v dom="$DOMAIN" \
        'BEGIN { for (i = 1; i <= n; i++) printf "test%d@%s ok\n", i, dom }' \
        >"$p/etc/recipients"
    # Stock settings except what a private instance on loopback needs:
    # its own folders, no port 25, no local(8) delivery, no DNS, one
    # virtual domain whose mail goes to Dovecot's LMTP.
    cat >"$p/etc/main.cf" <<EOF
# private Postfix for facteur's SMTP benchmark
compatibility_level = 3.6
config_directory = $p/etc
queue_directory = $p/queue
data_directory = $p/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $p/log/postfix.log
maillog_file_prefixes = $p/log
myhostname = mx.$DOMAIN
mydomain = $DOMAIN
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =
biff = no
smtputf8_enable = no
smtpd_banner = \$myhostname ESMTP
smtp_dns_support_level = disabled
smtpd_tls_security_level = none
smtp_tls_security_level = none
lmtp_tls_security_level = none
local_transport = error:local delivery is disabled
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$p/etc/recipients
virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
EOF
    # No chroot (it would need a populated queue/etc), smtpd on our port.
    cat >"$p/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    # Postfix prints its fatal errors to a terminal only (else to its
    # log service, not running yet): script(1) gives it one.
    for i in check start; do
        out="$p/log/postfix-$i.out"
        POSTFIX_DIR="$p"
        script -qec "postfix -c '$p/etc' $i" /dev/null >"$out" 2>&1 \
            || { cat "$out" >&2; bench_die "postfix $i failed"; }
    done
    for ((i = 0; i < 100; i++)); do
        [ -s "$p/queue/pid/master.pid" ] && break
        sleep 0.1
    done
    POSTFIX_PID="$(tr -dc 0-9 <"$p/queue/pid/master.pid")"
    if [ -z "$POSTFIX_PID" ] || ! kill -0 "$POSTFIX_PID"; then
        bench_die "Postfix's master is not running"
    fi
    BENCH_PIDS+=("$POSTFIX_PID")
    bench_log "started postfix (master pid $POSTFIX_PID)"
    bench_wait_greeting "$POSTFIX_PORT" "220" \
        || { tail -5 "$p/log/postfix.log" >&2; bench_die "Postfix's smtpd did not start"; }
}

# Files are never deleted while the benchmark runs: on ext4 without a
# journal, every file created scans past the inodes freed in the last
# minutes (up to 6), so deleting the last run's mail would slow the next.
# A run's mail is moved aside instead.
set_aside() {
    local d="$1" n=1
    [ -e "$d" ] || return 0
    while [ -e "$d.old$n" ]; do n=$((n + 1)); done
    mv "$d" "$d.old$n"
}

# Postfix: empty maildirs, then warm-up delivered, then the timed load.
postfix_round() {
    local i
    for ((i = 1; i <= RCPT_USERS; i++)); do
        set_aside "$DOVECOT_MAIL/test$i"
    done
    warmup "Postfix+Dovecot" "$POSTFIX_PORT" "$DOVECOT_MAIL/test{i}/Maildir"
    measure "Postfix+Dovecot" "$POSTFIX_PORT" "$DOVECOT_MAIL/test{i}/Maildir" \
        --cpu-tree "$POSTFIX_PID" --cpu-tree "$DOVECOT_PID"
}

# ------------------------------------------------------------------
# facteurd: smtp + maildir + passwd-file, a fresh instance per run

FACTEUR_PASSWD="$BENCH_TMP/facteur-passwd"
# no password: the users exist for delivery, nobody logs in
awk -v n="$USERS" -v dom="$DOMAIN" \
    'BEGIN { for (i = 1; i <= n; i++) printf "test%d@%s::::::\n", i, dom }' \
    >"$FACTEUR_PASSWD"
chmod 644 "$FACTEUR_PASSWD"

# facteur_start WORKERS: a new instance in a new folder (the last one's
# is kept: see set_aside); sets FACTEUR_DIR and FACTEUR_PID
facteur_start() {
    local w="$1" f="$BENCH_TMP/facteur-$1-1" n=1
    while [ -e "$f" ]; do n=$((n + 1)); f="$BENCH_TMP/facteur-$w-$n"; done
    mkdir -p "$f/mail" "$f/state"
    chmod 755 "$f"
    chown facteur: "$f/mail" "$f/state"
    cat >"$f/facteurd.conf" <<EOF
# facteurd for the SMTP benchmark: local delivery into maildir, with the
# defaults (fsync before every 250)
user facteur;
workers $w;
pid_file $f/facteurd.pid;
state_dir $f/state;
log stderr;
load passwd-file maildir smtp;
passwd-file { path $FACTEUR_PASSWD; }
maildir { location $f/mail/%d/%n; }
smtp {
    hostname mx.$DOMAIN;
    local_domains $DOMAIN;
    listen 127.0.0.1:$FACTEUR_SMTP_PORT;
    $FACTEUR_SMTP_EXTRA
}
EOF
    "$FACTEURD" -t -c "$f/facteurd.conf" >"$f/check.log" 2>&1 \
        || { cat "$f/check.log" >&2; bench_die "facteurd -t failed"; }
    bench_start "facteurd ($w workers)" "$f/facteurd.log" \
        "$FACTEURD" -f -c "$f/facteurd.conf"
    FACTEUR_PID="$BENCH_PID"
    FACTEUR_DIR="$f"
    bench_wait_greeting "$FACTEUR_SMTP_PORT" "220" \
        || { tail -5 "$f/facteurd.log" >&2; bench_die "facteurd did not start"; }
}

facteur_round() {
    local w="$1" tmpl
    facteur_start "$w"
    tmpl="$FACTEUR_DIR/mail/$DOMAIN/test{i}"
    warmup "$FLABEL, workers $w" "$FACTEUR_SMTP_PORT" "$tmpl"
    measure "$FLABEL, workers $w" "$FACTEUR_SMTP_PORT" "$tmpl" \
        --cpu-tree "$FACTEUR_PID"
    bench_stop "$FACTEUR_PID"
    facteur_complaints "$FACTEUR_DIR/facteurd.log"
}

# What went wrong in a facteurd log: errors, and local deliveries that
# failed (such a message goes to the outbound queue, which delivers it
# again a moment later: it still arrives, late).
facteur_complaints() {
    local log="$1" n
    grep -hE " (error|warning|crit|alert|emerg): " "$log" \
        | sed 's/^/  facteurd: /' | head -5 >&2 || true
    n="$(grep -c "event=deliver .*result=fail" "$log" || true)"
    if [ "${n:-0}" -gt 0 ]; then
        echo "  facteurd: $n local deliveries failed and were queued; first:" \
            "$(grep -m1 -o 'result=fail.*' "$log")" >&2
    fi
}

# ------------------------------------------------------------------
# The rounds

if [ "$SKIP_PEERS" != 1 ]; then
    sink_start
    dovecot_start
    postfix_start
fi
for ((round = 1; round <= RUNS; round++)); do
    bench_log "round $round of $RUNS"
    if [ "$SKIP_PEERS" != 1 ]; then
        measure "smtp-sink (ceiling)" "$SINK_PORT" - --cpu-tree "$SINK_PID"
        postfix_round
    fi
    for w in $FACTEUR_WORKERS_LIST; do
        facteur_round "$w"
    done
done
if [ "$SKIP_PEERS" != 1 ]; then
    # anything the peers complained about
    grep -hiE "warning|error|fatal|panic" "$BENCH_TMP/postfix/log/postfix.log" \
        "$DOVECOT_DIR/log/dovecot.log" 2>/dev/null | sed 's/^/  peers: /' \
        | sort | uniq -c | sort -rn | head -5 >&2 || true
fi

# ------------------------------------------------------------------
# Summary

fversion="$("$FACTEURD" -V 2>&1 | head -1)"
pversion="$( [ "$SKIP_PEERS" = 1 ] || postconf -d -h mail_version 2>/dev/null || true)"
dversion="$( [ "$SKIP_PEERS" = 1 ] || dovecot --version 2>/dev/null || true)"
fstype="$(findmnt -n -o FSTYPE,SOURCE,OPTIONS --target "$BENCH_TMP" \
    | awk '{ print $1, $2 }')"
case "$fstype" in
    ext4\ *)
        dev="$(echo "$fstype" | awk '{ print $2 }')"
        if compgen -G "/proc/fs/jbd2/$(basename "$dev")-*" >/dev/null; then
            fstype="$fstype, with a journal"
        else
            fstype="$fstype, no journal"
        fi ;;
esac
"$BENCH_PY" - "$RESULTS" "$fversion" "$pversion" "$dversion" "$(nproc)" \
    "$fstype" "$BENCH_TMP" "$FACTEUR_SMTP_EXTRA" <<'PYEOF'
import collections, json, statistics, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
fversion, pversion, dversion, ncpu, fstype, tmp, extra = sys.argv[2:9]
disk = [r for r in rows if r["label"] == "disk"]
by = collections.OrderedDict()
for r in rows:
    if r["label"] != "disk":
        by.setdefault(r["label"], []).append(r)
if not by:
    sys.exit(0)
first = next(iter(by.values()))[0]

print()
print("SMTP, accepted and stored in maildir, end to end (%s, %s CPUs)"
      % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ncpu))
print("  %s%s%s" % (fversion, "; Postfix " + pversion if pversion else "",
                    "; Dovecot " + dversion if dversion else ""))
print("  smtp-source: %d sessions, %d messages of %d bytes, %d recipient "
      "user(s), %s; %d run(s) per case, median [min - max]" % (
          first["sessions"], first["messages"], first["size"],
          first["rcpt_users"], "connections reused" if first["reuse"]
          else "one connection per message", len(next(iter(by.values())))))
print("  mail on %s (%s)" % (fstype, tmp))
if extra:
    print("  facteur*: facteurd's smtp block also has: %s" % extra)
if disk:
    print("  disk, durable maildir deliveries/s (tmp/ write, fsync, rename, "
          "fsync new/): %s" % ", ".join("%d thread%s %.0f" % (
              d["threads"], "s" if d["threads"] > 1 else "", d["per_s"])
              for d in disk))
    c = disk[0].get("create_us")
    if c is not None:
        print("  creating a file took %.0f us (1 thread)%s" % (c, "" if c < 100
              else ": SLOW; on ext4 without a journal, files deleted in the "
              "last minutes (up to 6) slow every creation; figures of this "
              "run are low"))
print()
print("  %-26s %20s %10s %10s %11s" % ("case", "end to end msg/s",
                                      "accepted/s", "CPU ms/msg", "other CPUs"))
med = {}
for label, rs in by.items():
    e2e = [r["e2e_per_s"] for r in rs]
    acc = [r["accept_per_s"] for r in rs]
    cpu = [r["cpu_ms_per_msg"] for r in rs if r["cpu_ms_per_msg"] is not None]
    med[label] = statistics.median(e2e)
    other = [r["other_cores"] for r in rs if r.get("other_cores") is not None]
    print("  %-26s %7.0f [%4.0f - %4.0f] %10.0f %10s %11s" % (
        label, med[label], min(e2e), max(e2e), statistics.median(acc),
        "%.2f" % statistics.median(cpu) if cpu else "-",
        "%.2f" % statistics.median(other) if other else "-"))
print("  (CPU ms/msg: the server's processes, user + system; other CPUs:")
print("  the rest of the machine's busy time during the runs, in CPUs, median:")
print("  other work, plus interrupt work for the load that no process is")
print("  charged for)")
print()
ceil = med.get("smtp-sink (ceiling)")
peer = med.get("Postfix+Dovecot")
fac = [l for l in med if l.startswith("facteur")]
auto = [l for l in fac if l.endswith("workers auto")]
for l in fac:
    parts = []
    if peer:
        parts.append("/ (Postfix+Dovecot) %.2fx" % (med[l] / peer))
    if ceil:
        parts.append("/ ceiling %.2f" % (med[l] / ceil))
    if parts:
        print("  %-26s %s" % (l, ", ".join(parts)))
if peer and ceil:
    print("  %-26s / ceiling %.2f" % ("Postfix+Dovecot", peer / ceil))
if peer and fac:
    head = auto[0] if auto else fac[-1]
    ratio = med[head] / peer
    print()
    print("  target, facteur at least 2x Postfix+Dovecot (%s): %.2fx, %s" % (
        head, ratio, "met" if ratio >= 2 else "NOT MET"))
PYEOF

# ------------------------------------------------------------------
# Profiles: one more load per tool, after the rounds

# The sync calls of every process on the machine during one load, per
# command name, per message (perf's syscall tracepoints: cheap enough
# that the load runs at its usual speed).
profile_fsync() {
    local label="$1" port="$2" tmpl="$3" out="$BENCH_TMP/profile.fsync.$4" \
        tracer pout
    perf record -a -o "$out" -e syscalls:sys_enter_fsync \
        -e syscalls:sys_enter_fdatasync -e syscalls:sys_enter_sync_file_range \
        -e syscalls:sys_enter_msync >"$out.log" 2>&1 &
    tracer=$!
    sleep 1
    pout="$(load "$label" "$port" "$MESSAGES" "$tmpl")" || true
    kill -INT "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
    echo
    echo "Sync calls during one load, $label ($MESSAGES messages; every" \
        "process on the machine, by command name):"
    show_load "$pout"
    perf script -i "$out" -F comm,event 2>/dev/null \
        | "$BENCH_PY" -c '
import collections, sys
n = int(sys.argv[1])
c = collections.Counter()
for line in sys.stdin:
    f = line.split()
    if len(f) >= 2:
        c[(" ".join(f[:-1]), f[-1].rstrip(":").split("sys_enter_")[-1])] += 1
tot = collections.Counter()
for (comm, call), k in sorted(c.items(), key=lambda kv: -kv[1]):
    print("  %-16s %-16s %8d  %6.2f per message" % (comm, call, k, k / n))
    tot[call] += k
print("  %-16s %-16s %8d  %6.2f per message" % ("all", "all",
      sum(tot.values()), sum(tot.values()) / n))' "$MESSAGES"
}

# facteurd under strace -c -w (system calls: count and wall time) or
# perf record -g (where its CPU time goes), attached to its workers.
profile_facteur() {
    local tool="$1" kids out="$BENCH_TMP/profile.$1" tracer pout tmpl k
    facteur_start "$PROFILE_WORKERS"
    tmpl="$FACTEUR_DIR/mail/$DOMAIN/test{i}"
    warmup "facteur profile" "$FACTEUR_SMTP_PORT" "$tmpl"
    if [ "$tool" = fsync ]; then
        profile_fsync "facteur, workers $PROFILE_WORKERS" \
            "$FACTEUR_SMTP_PORT" "$tmpl" facteur
        bench_stop "$FACTEUR_PID"
        return 0
    fi
    kids="$(pgrep -P "$FACTEUR_PID" | tr '\n' ' ')"
    if [ "$tool" = strace ]; then
        local popts=()
        for k in $kids; do popts+=(-p "$k"); done
        strace -f -c -w -o "$out" "${popts[@]}" 2>"$out.log" &
    else
        # shellcheck disable=SC2086
        perf record -g -o "$out" -p "$(echo $kids | tr ' ' ',')" \
            >"$out.log" 2>&1 &
    fi
    tracer=$!
    sleep 1
    pout="$(load "facteur under $tool" "$FACTEUR_SMTP_PORT" "$MESSAGES" \
        "$tmpl")" || true
    kill -INT "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
    bench_stop "$FACTEUR_PID"
    echo
    echo "facteurd (workers $PROFILE_WORKERS) under $tool, $MESSAGES messages" \
        "(the rate is the tool's, not facteur's):"
    show_load "$pout"
    if [ "$tool" = strace ]; then
        "$BENCH_PY" - "$out" "$MESSAGES" <<'PYEOF'
import sys
rows, n = [], int(sys.argv[2])
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        rows.append((float(f[1]), int(f[3]), f[-1]))
rows.sort(key=lambda r: -r[1])
tot = sum(r[0] for r in rows)
print("  %-16s %10s %12s %8s" % ("system call", "calls/msg", "wall us/msg",
                                 "share"))
for secs, calls, name in rows[:20]:
    print("  %-16s %10.2f %12.1f %7.1f%%" % (name, calls / n, secs * 1e6 / n,
                                          100 * secs / tot if tot else 0))
print("  %-16s %10.2f" % ("all", sum(r[1] for r in rows) / n))
print("  (wall time inside each call, summed over facteurd's processes;"
      " strace adds tens of us to every call)")
PYEOF
    else
        echo "  on-CPU samples by function (self):"
        perf report -i "$out" --stdio --no-children --sort dso,sym \
            --percent-limit 1.5 -g none 2>/dev/null \
            | grep -vE '^(#|$)' | head -25 | sed 's/^/  /'
        echo "  on-CPU samples by system call (with what it calls):"
        perf report -i "$out" --stdio --children --sort sym -g none \
            2>/dev/null | grep -E '\] __x64_sys_' | head -12 | sed 's/^/  /'
    fi
}

for tool in $PROFILE; do
    profile_facteur "$tool"
    if [ "$tool" = fsync ] && [ "$SKIP_PEERS" != 1 ]; then
        for ((i = 1; i <= RCPT_USERS; i++)); do
            set_aside "$DOVECOT_MAIL/test$i"
        done
        warmup "Postfix+Dovecot" "$POSTFIX_PORT" "$DOVECOT_MAIL/test{i}/Maildir"
        profile_fsync "Postfix+Dovecot" "$POSTFIX_PORT" \
            "$DOVECOT_MAIL/test{i}/Maildir" peers
    fi
done
