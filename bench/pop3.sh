#!/usr/bin/env bash
# pop3.sh [BUILDDIR] - POP3 downloads from facteurd beside Dovecot's pop3
# (Debian's dovecot-pop3d), on the same maildir content, in one run:
#
#  1. RETR throughput: CLIENTS clients, each its own user with MSGS
#     messages of SIZE bytes, log in, RETR everything, QUIT, again and
#     again for SECS seconds: MiB/s of message data;
#  2. logins per second: the same clients, USER, PASS, STAT, QUIT;
#  and for both, the CPU the server's processes used per MiB and per
#  login, a figure other work on the machine disturbs less.
#
# Dovecot runs twice: stock (a login process per connection, a pop3
# process per session) and with its documented high-performance
# settings (login processes reused: service pop3-login { service_count
# = 0 }, and pop3 processes reused for 100 sessions). Both servers check
# the same crypt(3) hashes (HASH: sha512 by default, or yescrypt,
# bcrypt), facteur from its passwd file and Dovecot with scheme CRYPT.
# The mail: facteurctl imports the messages, and Dovecot gets copies of
# the very files facteur wrote.
#
# Settings: CLIENTS (20), SECS (10), RUNS (3: the servers take turns,
# each figure is the median), MSGS (10), SIZE (524288), HASH
# (sha512), FACTEUR_WORKERS (the number of cores), FACTEUR_PORT (17110),
# DOVECOT_PORT (17111), BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

CLIENTS="${CLIENTS:-20}"
SECS="${SECS:-10}"
RUNS="${RUNS:-3}"
MSGS="${MSGS:-10}"
SIZE="${SIZE:-524288}"
HASH="${HASH:-sha512}"
FACTEUR_WORKERS="${FACTEUR_WORKERS:-$(nproc)}"
FACTEUR_PORT="${FACTEUR_PORT:-17110}"
DOVECOT_PORT="${DOVECOT_PORT:-17111}"
PASS=benchpass

bench_init pop3 "${1:-}"
FACTEURCTL="$FACTEUR_BUILDDIR/facteurctl"
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
[ -e "$FACTEUR_BUILDDIR/modules/pop3/.libs/pop3.so" ] \
    || bench_die "the pop3 module is not built in $FACTEUR_BUILDDIR"
bench_need_pkgs python3 dovecot-core dovecot-pop3d
bench_ensure_user facteur
bench_ensure_user "$BENCH_MAIL_USER"
bench_port_free "$FACTEUR_PORT"
bench_port_free "$DOVECOT_PORT"
bench_raise_nofile 4096

jget() {
    "$BENCH_PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
ratio() {
    "$BENCH_PY" -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.2f" % (a / b) if b else "-")' "$1" "$2"
}
load() {  # load PORT MODE [OPTION]
    "$BENCH_PY" "$BENCH_DIR/pop3_load.py" --port "$1" --mode "$2" \
        --clients "$CLIENTS" --secs "$SECS" --password "$PASS" "${@:3}"
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
# measured SID PORT MODE: a load run, then the server's CPU for it as a
# "cpu_ticks" member of the JSON line
measured() {
    local c0 c1 j
    load "$2" "$3" --warmup-only >/dev/null
    c0="$(tree_cpu "$1")"
    j="$(load "$2" "$3" --no-warmup)"
    c1="$(tree_cpu "$1")"
    "$BENCH_PY" -c 'import json, sys; j = json.loads(sys.argv[1]); j["cpu_ticks"] = int(sys.argv[2]); print(json.dumps(j))' "$j" "$((c1 - c0))"
}
# per_unit JSON MODE: server CPU ms per MiB sent (retr) or per login
per_unit() {
    "$BENCH_PY" -c '
import json, os, sys
j = json.loads(sys.argv[1]); ms = j["cpu_ticks"] * 1000.0 / os.sysconf("SC_CLK_TCK")
units = j["mib_per_s"] * j["secs"] if sys.argv[2] == "retr" else j["sessions"]
print("%.2f" % (ms / units) if units else "-")' "$1" "$2"
}
check_errors() {  # check_errors NAME JSON
    [ "$(jget "$2" errors)" = 0 ] \
        || bench_die "$1: $(jget "$2" errors) sessions failed: $(jget "$2" first_errors)"
}

hash="$("$FACTEURCTL" pw -s "$HASH" -p "$PASS")"
LOAD0="$(cut -d' ' -f1 /proc/loadavg)"

# ------------------------------------------------------------------
bench_log "facteur: $CLIENTS users, $MSGS messages of $SIZE bytes each"
F="$BENCH_TMP/facteur"
mkdir -p "$F/mail" "$F/state" "$BENCH_TMP/msgs"
chown facteur: "$F/mail" "$F/state"
for ((i = 1; i <= CLIENTS; i++)); do
    echo "bench$i:$hash"
done >"$F/passwd"
chmod 644 "$F/passwd"
cat >"$F/facteurd.conf" <<CONF
# facteurd for bench/pop3.sh
user facteur;
workers $FACTEUR_WORKERS;
pid_file $F/facteurd.pid;
state_dir $F/state;
log stderr;
log_level notice;
max_connections 20000;
load passwd-file maildir pop3;
passwd-file { path $F/passwd; }
maildir { location $F/mail/%n; }
pop3 {
    listen 127.0.0.1:$FACTEUR_PORT;
    max_connections_per_ip 20000;
}
CONF
"$BENCH_PY" - "$BENCH_TMP/msgs" "$MSGS" "$SIZE" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghij\n"
for k in range(n):
    head = (b"From: <sender@example.net>\nTo: <bench@example.org>\n"
            b"Subject: bench %d\nMessage-ID: <%d@bench.example>\n\n" % (k, k))
    body, left, i = [], size - len(head), 0
    while left > len(line):
        # a line starting with "." now and then: it is stuffed on the wire
        l = b"." + line[1:] if i % 200 == 0 else line
        body.append(l)
        left -= len(l)
        i += 1
    with open(os.path.join(d, "m%02d.eml" % k), "wb") as f:
        f.write(head + b"".join(body))
PY
for ((i = 1; i <= CLIENTS; i++)); do
    "$FACTEURCTL" -c "$F/facteurd.conf" mailbox import "bench$i" INBOX \
        "$BENCH_TMP"/msgs/*.eml >/dev/null
done
bench_start facteurd "$F/facteurd.log" "$FACTEURD" -f -c "$F/facteurd.conf"
FPID=$BENCH_PID
bench_wait_greeting "$FACTEUR_PORT" "+OK" || bench_die "facteurd did not start"

# ------------------------------------------------------------------
bench_log "Dovecot: the same files, a private instance on 127.0.0.1:$DOVECOT_PORT"
D="$BENCH_TMP/dovecot"
uid="$(id -u "$BENCH_MAIL_USER")"
gid="$(id -g "$BENCH_MAIL_USER")"
mkdir -p "$D"/{etc,run,state,log,mail}
chmod 755 "$D" "$D/etc" "$D/run" "$D/state" "$D/log"
for ((i = 1; i <= CLIENTS; i++)); do
    echo "bench$i:{CRYPT}$hash:$uid:$gid::$D/mail/bench$i::"
    mkdir -p "$D/mail/bench$i"/{cur,new,tmp}
    cp "$F/mail/bench$i/cur/"* "$D/mail/bench$i/cur/"
done >"$D/etc/users"
chmod 644 "$D/etc/users"
chown -R "$uid:$gid" "$D/mail"
dovecot_conf() {  # dovecot_conf stock|perf
    local login="" mail=""
    if [ "$1" = perf ]; then
        login="  service_count = 0
  process_min_avail = $(nproc)
  vsz_limit = 1G"
        mail="  service_count = 100
  process_min_avail = $(nproc)"
    fi
    cat >"$D/etc/dovecot.conf" <<CONF
# private Dovecot for bench/pop3.sh, profile $1
instance_name = facteur-bench-pop3
base_dir = $D/run
state_dir = $D/state
protocols = pop3
listen = 127.0.0.1
log_path = $D/log/dovecot.log
ssl = no
disable_plaintext_auth = no
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:$D/mail/%n
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%n $D/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $D/etc/users
}
default_process_limit = 5000
default_client_limit = 20000
service pop3-login {
$login
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DOVECOT_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service pop3 {
  process_limit = 5000
$mail
}
protocol pop3 {
  mail_max_userip_connections = 10000
}
CONF
    doveconf -c "$D/etc/dovecot.conf" -n >"$D/etc/doveconf-n.txt" \
        2>"$D/log/doveconf.err" \
        || { cat "$D/log/doveconf.err" >&2; bench_die "Dovecot config check failed"; }
}

# ------------------------------------------------------------------
# The servers take turns, RUNS times, and each figure is the median:
# on a shared machine a burst of someone else's work then spoils one
# turn, not one server's figure.
f_retr=(); f_login=(); s_retr=(); s_login=(); p_retr=(); p_login=()
f_cr=(); f_cl=(); s_cr=(); s_cl=(); p_cr=(); p_cl=()
fig() {  # fig JSON KEY: one figure of a load run, after its error check
    check_errors "$3" "$1"
    jget "$1" "$2"
}
for ((run = 1; run <= RUNS; run++)); do
    bench_log "turn $run of $RUNS: facteur, RETR for ${SECS}s, then logins"
    j="$(measured "$FPID" "$FACTEUR_PORT" retr)"
    f_retr+=("$(fig "$j" mib_per_s facteur)"); f_cr+=("$(per_unit "$j" retr)")
    f_cpu="$(jget "$j" client_cpu_pct)"
    j="$(measured "$FPID" "$FACTEUR_PORT" login)"
    f_login+=("$(fig "$j" sessions_per_s facteur)"); f_cl+=("$(per_unit "$j" login)")
    for profile in stock perf; do
        bench_log "turn $run of $RUNS: Dovecot $profile"
        dovecot_conf "$profile"
        bench_start "dovecot-$profile" "$D/log/stderr.log" dovecot -F -c "$D/etc/dovecot.conf"
        DPID=$BENCH_PID
        bench_wait_greeting "$DOVECOT_PORT" "+OK" || bench_die "Dovecot did not start"
        jr="$(measured "$DPID" "$DOVECOT_PORT" retr)"
        jl="$(measured "$DPID" "$DOVECOT_PORT" login)"
        if [ "$profile" = stock ]; then
            s_retr+=("$(fig "$jr" mib_per_s "Dovecot $profile")")
            s_login+=("$(fig "$jl" sessions_per_s "Dovecot $profile")")
            s_cr+=("$(per_unit "$jr" retr)"); s_cl+=("$(per_unit "$jl" login)")
        else
            p_retr+=("$(fig "$jr" mib_per_s "Dovecot $profile")")
            p_login+=("$(fig "$jl" sessions_per_s "Dovecot $profile")")
            p_cr+=("$(per_unit "$jr" retr)"); p_cl+=("$(per_unit "$jl" login)")
            p_cpu="$(jget "$jr" client_cpu_pct)"
        fi
        bench_stop "$DPID"
    done
done
bench_stop "$FPID"

# ------------------------------------------------------------------
fr="$(bench_median "${f_retr[@]}")"; fl="$(bench_median "${f_login[@]}")"
sr="$(bench_median "${s_retr[@]}")"; sl="$(bench_median "${s_login[@]}")"
pr="$(bench_median "${p_retr[@]}")"; pl="$(bench_median "${p_login[@]}")"
cat <<OUT

POP3 benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), load average before: $LOAD0
facteur $(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo '?') ($FACTEUR_WORKERS workers), $(dovecot --version | cut -d' ' -f1) from Debian
$CLIENTS clients, each its own user with $MSGS messages of $SIZE bytes; median of $RUNS turns of ${SECS}s; $HASH-crypt passwords

                                  RETR MiB/s   logins/s    (each turn)
  facteur                         $(printf '%10s %10s' "$fr" "$fl")    (${f_retr[*]} / ${f_login[*]})
  Dovecot stock                   $(printf '%10s %10s' "$sr" "$sl")    (${s_retr[*]} / ${s_login[*]})
  Dovecot high-performance        $(printf '%10s %10s' "$pr" "$pl")    (${p_retr[*]} / ${p_login[*]})

  server CPU (all its processes)  ms per MiB RETR'd   ms per login
  facteur                         $(printf '%10s %16s' "$(bench_median "${f_cr[@]}")" "$(bench_median "${f_cl[@]}")")
  Dovecot stock                   $(printf '%10s %16s' "$(bench_median "${s_cr[@]}")" "$(bench_median "${s_cl[@]}")")
  Dovecot high-performance        $(printf '%10s %16s' "$(bench_median "${p_cr[@]}")" "$(bench_median "${p_cl[@]}")")

  ratio facteur / Dovecot stock:             RETR $(ratio "$fr" "$sr")x, logins $(ratio "$fl" "$sl")x
  ratio facteur / Dovecot high-performance:  RETR $(ratio "$fr" "$pr")x, logins $(ratio "$fl" "$pl")x
  (the load generator's CPU in the last RETR turn: $f_cpu% of a core against facteur, $p_cpu% against tuned Dovecot)
OUT
