#!/usr/bin/env bash
# startup.sh [BUILDDIR] - start-up time to the first accepted connection.
#
# For facteurd (the echo module, from the build tree) and for Dovecot's
# IMAP (Debian's dovecot-imapd, a private instance), side by side in the
# same run: the time from exec of the server to the first greeting line
# read on its port, median of RUNS runs each (alternating, after one
# untimed warm-up run of each so that both start from a warm page cache).
# Both run in the foreground as root and drop privileges as they would in
# production: facteurd forks its workers (user facteur), Dovecot its
# helper and login processes. A third column times facteurd without the
# passwd-file module (auth none), to show what the auth back end's
# start-up costs.
#
# BUILDDIR: the facteur build tree (default $FACTEUR_BUILDDIR, else
# ../build from this folder). Run as root on Debian 12; installs
# python3, procps and dovecot-imapd if they are missing.
#
# Environment:
#   RUNS=10              timed runs of each server
#   FACTEUR_PORT=17007   DOVECOT_PORT=17143   (127.0.0.1 only)
#   FACTEUR_WORKERS=2    workers of facteurd
#   BENCH_KEEP=1         keep the scratch folder (configs and logs)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RUNS="${RUNS:-10}"
FACTEUR_PORT="${FACTEUR_PORT:-17007}"
DOVECOT_PORT="${DOVECOT_PORT:-17143}"

bench_init startup "${1:-}"
bench_need_pkgs python3 procps dovecot-imapd
bench_ensure_user facteur
bench_ensure_user "$BENCH_MAIL_USER"
bench_raise_nofile 4096
bench_port_free "$FACTEUR_PORT"
bench_port_free "$DOVECOT_PORT"

F="$BENCH_TMP/facteur"
D="$BENCH_TMP/dovecot"
mkdir -p "$F"
chmod 755 "$F"
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"
bench_facteur_conf "$F/facteurd.conf" "$F" "127.0.0.1:$FACTEUR_PORT"
# the same without passwd-file: what the auth back end adds to start-up
sed -e 's/^load passwd-file echo;/load echo;\nauth none;/' \
    -e '/^passwd-file {/d' "$F/facteurd.conf" >"$F/noauth.conf"
for c in facteurd noauth; do
    "$FACTEURD" -t -c "$F/$c.conf" >"$F/check-$c.log" 2>&1 \
        || { cat "$F/check-$c.log" >&2; bench_die "facteurd -t $c.conf failed"; }
done
bench_dovecot_conf "$D" "$DOVECOT_PORT"

# time_server facteur|noauth|dovecot : prints the milliseconds of one run
time_server() {
    local conf
    case "$1" in
    facteur|noauth)
        [ "$1" = facteur ] && conf="$F/facteurd.conf" || conf="$F/noauth.conf"
        "$BENCH_PY" "$BENCH_DIR/first_greeting.py" --port "$FACTEUR_PORT" \
            --expect "OK " --log "$F/facteurd.log" \
            --pid-file "$BENCH_TMP/server.pid" \
            -- "$FACTEURD" -f -c "$conf" ;;
    dovecot)
        "$BENCH_PY" "$BENCH_DIR/first_greeting.py" --port "$DOVECOT_PORT" \
            --expect "* OK" --log "$D/log/dovecot.stderr" \
            --pid-file "$BENCH_TMP/server.pid" \
            -- dovecot -F -c "$D/etc/dovecot.conf" ;;
    esac || {
        tail -5 "$F/facteurd.log" "$D/log/dovecot.stderr" \
            "$D/log/dovecot.log" 2>/dev/null >&2
        bench_die "$1 did not start"
    }
}

fversion="$("$FACTEURD" -V 2>&1 | head -1)"
dversion="$(dovecot --version)"
bench_log "warm-up run of each server"
time_server facteur >/dev/null
time_server noauth >/dev/null
time_server dovecot >/dev/null

ftimes=()
ntimes=()
dtimes=()
printf '%-5s %14s %20s %14s\n' run "facteurd ms" "(no passwd-file) ms" \
    "dovecot ms"
for ((i = 1; i <= RUNS; i++)); do
    f="$(time_server facteur)"
    d="$(time_server dovecot)"
    n="$(time_server noauth)"
    ftimes+=("$f")
    ntimes+=("$n")
    dtimes+=("$d")
    printf '%-5s %14s %20s %14s\n' "$i" "$f" "$n" "$d"
done

fmed="$(bench_median "${ftimes[@]}")"
nmed="$(bench_median "${ntimes[@]}")"
dmed="$(bench_median "${dtimes[@]}")"
fmin="$(printf '%s\n' "${ftimes[@]}" | sort -g | head -1)"
fmax="$(printf '%s\n' "${ftimes[@]}" | sort -g | tail -1)"
dmin="$(printf '%s\n' "${dtimes[@]}" | sort -g | head -1)"
dmax="$(printf '%s\n' "${dtimes[@]}" | sort -g | tail -1)"

cat <<EOF

Start-up to the first greeting ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, median of $RUNS runs)
  facteurd ($fversion; ${FACTEUR_WORKERS:-2} workers; echo + passwd-file): ${fmed} ms  (min $fmin, max $fmax)
    the same without passwd-file (auth none):  ${nmed} ms
  Dovecot $dversion (imap, stock process model):  ${dmed} ms  (min $dmin, max $dmax)
  ratio Dovecot / facteurd: $(awk -v a="$dmed" -v b="$fmed" 'BEGIN { printf "%.1fx", a / b }')
EOF
