#!/usr/bin/env bash
# storage.sh [BUILDDIR] - the maildir store through the storage API, beside
# Dovecot's maildir, in the same run:
#
#  1. appends per second with fsync into one folder, messages of SIZE
#     bytes, one process and two: facteur through the storage API
#     (tests/storage/storage_bench, each append asks for its UID as IMAP
#     APPEND does); Dovecot by IMAP APPEND on connections that stay open
#     (storage_imap_append.py) and by dovecot-lda, one process a message;
#  2. opening a folder of BIG messages (100,000) in a fresh process with
#     a warm page cache: time and memory. facteur's index was written by
#     the appends that filled the folder; Dovecot gets the same files and
#     builds its index on the first `doveadm mailbox status`, which is
#     timed too; then the warm one;
#  3. the first sync after NEW (1,000) messages arrive in new/ from
#     outside (files written there, as another MDA does).
#
# Settings: APPENDS (2000), LDA_APPENDS (500), SIZE (4096), BIG (100000),
# NEW (1000), RUNS (3: opens are the median of RUNS), DOVECOT_PORT
# (17143), BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

APPENDS="${APPENDS:-2000}"
LDA_APPENDS="${LDA_APPENDS:-500}"
SIZE="${SIZE:-4096}"
BIG="${BIG:-100000}"
NEW="${NEW:-1000}"
RUNS="${RUNS:-3}"
DOVECOT_PORT="${DOVECOT_PORT:-17143}"

bench_init storage "${1:-}"
SB="$FACTEUR_BUILDDIR/tests/storage/storage_bench"
[ -x "$SB" ] || bench_die "$SB is missing: build first (make)"
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
bench_need_pkgs python3 time dovecot-core dovecot-imapd
bench_ensure_user "$BENCH_MAIL_USER"
bench_port_free "$DOVECOT_PORT"
LDA=/usr/lib/dovecot/dovecot-lda
[ -x "$LDA" ] || bench_die "$LDA is missing (dovecot-core)"

# jget JSON KEY: one field of a JSON line
jget() {
    "$BENCH_PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
ratio() {
    "$BENCH_PY" -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.1f" % (a / b) if b else "-")' "$1" "$2"
}
# timed CMD...: runs CMD, prints "<seconds> <max RSS KiB>" on fd 3
timed() {
    /usr/bin/time -f "%e %M" -o "$BENCH_TMP/time.out" "$@" >"$BENCH_TMP/timed.out" 2>&1 \
        || { cat "$BENCH_TMP/timed.out" >&2; bench_die "failed: $*"; }
    cat "$BENCH_TMP/time.out"
}
# a message of SIZE bytes, CRLF line ends
make_message() {
    "$BENCH_PY" - "$1" "$2" <<'EOF'
import sys
size, n = int(sys.argv[1]), sys.argv[2]
head = "From: bench@example.org\r\nSubject: lda %s\r\n\r\n" % n
line = ("abcdefghijklmnopqrstuvwxyz" * 3)[:70] + "\r\n"
body, left = [], size - len(head)
while left >= len(line):
    body.append(line)
    left -= len(line)
body.append("x" * max(left - 2, 0) + "\r\n")
sys.stdout.write(head + "".join(body))
EOF
}

bench_log "facteur: $APPENDS appends of $SIZE bytes, with fsync"
F1="$(TMPDIR="$BENCH_TMP" "$SB" init fsync 2>/dev/null)"
F2="$(TMPDIR="$BENCH_TMP" "$SB" init fsync 2>/dev/null)"
fa1="$("$SB" append "$F1" "$APPENDS" "$SIZE" 1)"
fa2="$("$SB" append "$F2" "$APPENDS" "$SIZE" 2)"

bench_log "Dovecot: a private instance on 127.0.0.1:$DOVECOT_PORT"
DD="$BENCH_TMP/dovecot"
bench_dovecot_conf "$DD" "$DOVECOT_PORT" "mail_fsync = optimized"
DCONF="$DD/etc/dovecot.conf"
bench_start dovecot "$DD/log/stderr.log" dovecot -F -c "$DCONF"
bench_wait_greeting "$DOVECOT_PORT" "* OK" || bench_die "Dovecot did not start"

bench_log "Dovecot: $APPENDS IMAP APPENDs, one connection, then two"
da1="$("$BENCH_PY" "$BENCH_DIR/storage_imap_append.py" "$DOVECOT_PORT" bench benchpass "$APPENDS" "$SIZE" 1)"
doveadm -c "$DCONF" expunge -u bench mailbox INBOX all
da2="$("$BENCH_PY" "$BENCH_DIR/storage_imap_append.py" "$DOVECOT_PORT" bench benchpass "$APPENDS" "$SIZE" 2)"
doveadm -c "$DCONF" expunge -u bench mailbox INBOX all

bench_log "Dovecot: $LDA_APPENDS deliveries by dovecot-lda, one stream, then two"
make_message "$SIZE" 1 >"$BENCH_TMP/lda.eml"
lda_loop() {
    local i
    for ((i = 0; i < $1; i++)); do
        "$LDA" -c "$DCONF" -d bench <"$BENCH_TMP/lda.eml" || return 1
    done
}
t0="$(date +%s.%N)"
lda_loop "$LDA_APPENDS"
t1="$(date +%s.%N)"
dl1="$("$BENCH_PY" -c 'import sys; print("%.1f" % (int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2]))))' "$LDA_APPENDS" "$t0" "$t1")"
t0="$(date +%s.%N)"
lda_loop $((LDA_APPENDS / 2)) & p1=$!
lda_loop $((LDA_APPENDS - LDA_APPENDS / 2)) & p2=$!
wait "$p1" && wait "$p2" || bench_die "dovecot-lda failed"
t1="$(date +%s.%N)"
dl2="$("$BENCH_PY" -c 'import sys; print("%.1f" % (int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2]))))' "$LDA_APPENDS" "$t0" "$t1")"
doveadm -c "$DCONF" expunge -u bench mailbox INBOX all

bench_log "facteur: filling a folder with $BIG messages (no fsync: not timed)"
FB="$(TMPDIR="$BENCH_TMP" "$SB" init nofsync 2>/dev/null)"
fill="$("$SB" append "$FB" "$BIG" "$SIZE" 2)"
bench_log "filled: $(jget "$fill" per_second) appends/s without fsync"
FROOT="$FB/mail/example.org/bench"

bench_log "facteur: opening $BIG messages, $RUNS times"
"$SB" open "$FB" >/dev/null     # the page cache is warm from here on
fo_t=(); fo_rss=(); fo_pss=(); fo_max=(); fo_whole=()
for ((i = 0; i < RUNS; i++)); do
    read -r whole maxrss <<<"$(timed "$SB" open "$FB")"
    j="$(cat "$BENCH_TMP/timed.out")"
    fo_t+=("$(jget "$j" seconds)"); fo_rss+=("$(jget "$j" rss_kib)")
    fo_pss+=("$(jget "$j" pss_kib)"); fo_max+=("$maxrss")
    fo_whole+=("$whole")
done
fo_growth="$(jget "$j" rss_growth_kib)"

bench_log "Dovecot: the same $BIG files"
DM="$DD/mail/bench"
# Dovecot made the Maildir at the first APPEND; it takes the same files
# (their S= and W= mean what Dovecot's do)
rm -f "$DM"/cur/* "$DM"/new/* "$DM"/dovecot-uidlist "$DM"/dovecot.index*
find "$FROOT/cur" -maxdepth 1 -type f -exec cp -l -t "$DM/cur" {} +
chown -R "$BENCH_MAIL_USER:" "$DM"
read -r do_first_t do_first_rss <<<"$(timed doveadm -c "$DCONF" mailbox status -u bench all INBOX)"
dcount="$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' "$BENCH_TMP/timed.out")"
do_t=(); do_rss=()
for ((i = 0; i < RUNS; i++)); do
    read -r t m <<<"$(timed doveadm -c "$DCONF" mailbox status -u bench all INBOX)"
    do_t+=("$t"); do_rss+=("$m")
done

bench_log "facteur: the index rebuilt from the files (index removed)"
"$SB" rmindex "$FB"
read -r _ fr_max <<<"$(timed "$SB" open "$FB")"
fr="$(cat "$BENCH_TMP/timed.out")"

bench_log "both: $NEW messages arrive in new/ from outside, then the first sync"
fn="$("$SB" newsync "$FB" "$NEW")"
"$BENCH_PY" - "$DM/new" "$NEW" "$SIZE" <<'EOF'
import os, sys, time
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = ("Subject: outside\n\n" + "y" * (size - 20) + "\n").encode()
for i in range(n):
    with open(os.path.join(d, "%d.M%dP1.othermda" % (time.time(), i)), "wb") as f:
        f.write(body)
EOF
chown -R "$BENCH_MAIL_USER:" "$DM/new"
read -r dn_t dn_rss <<<"$(timed doveadm -c "$DCONF" mailbox status -u bench all INBOX)"
dn_count="$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' "$BENCH_TMP/timed.out")"

# ------------------------------------------------------------------
fo_tm="$(bench_median "${fo_t[@]}")"
do_tm="$(bench_median "${do_t[@]}")"
fo_maxm="$(bench_median "${fo_max[@]}")"
fo_wholem="$(bench_median "${fo_whole[@]}")"
fo_rssm="$(bench_median "${fo_rss[@]}")"
do_rssm="$(bench_median "${do_rss[@]}")"
cat <<EOF

storage benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)
facteur $(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), $(dovecot --version | cut -d' ' -f1) from Debian

Appends per second, $SIZE-byte messages, fsync, one folder:
  facteur, storage API, 1 process      $(jget "$fa1" per_second)   ($APPENDS in $(jget "$fa1" seconds) s)
  facteur, storage API, 2 processes    $(jget "$fa2" per_second)   ($APPENDS in $(jget "$fa2" seconds) s)
  Dovecot, IMAP APPEND, 1 connection   $(jget "$da1" per_second)   ($APPENDS in $(jget "$da1" seconds) s)
  Dovecot, IMAP APPEND, 2 connections  $(jget "$da2" per_second)   ($APPENDS in $(jget "$da2" seconds) s)
  Dovecot, dovecot-lda, 1 stream       $dl1   ($LDA_APPENDS)
  Dovecot, dovecot-lda, 2 streams      $dl2   ($LDA_APPENDS)
  ratio facteur / Dovecot APPEND: 1 process $(ratio "$(jget "$fa1" per_second)" "$(jget "$da1" per_second)")x, 2 processes $(ratio "$(jget "$fa2" per_second)" "$(jget "$da2" per_second)")x

Opening a folder of $BIG messages, fresh process, warm cache (median of $RUNS):
  facteur open              $fo_tm s inside the process ($fo_wholem s for the whole process, start-up included)
                            RSS $fo_rssm KiB / PSS $(bench_median "${fo_pss[@]}") KiB after the open, which grew RSS by $fo_growth KiB; max RSS $fo_maxm KiB
  Dovecot doveadm status    $do_tm s for the whole process, max RSS $do_rssm KiB ($dcount messages)
  Dovecot first status      $do_first_t s, max RSS $do_first_rss KiB (builds its index)
  facteur, index removed    $(jget "$fr" seconds) s inside the process, max RSS $fr_max KiB (rebuilds it from the file names)
  ratio Dovecot / facteur: time (whole processes) $(ratio "$do_tm" "$fo_wholem")x, RSS (Dovecot's max / facteur's after the open) $(ratio "$do_rssm" "$fo_rssm")x

First sync after $NEW messages arrive in new/ from outside:
  facteur sync              $(jget "$fn" seconds) s inside the process ($(jget "$fn" before) -> $(jget "$fn" after) messages)
  Dovecot doveadm status    $dn_t s for the whole process, max RSS $dn_rss KiB ($dn_count messages)
EOF
