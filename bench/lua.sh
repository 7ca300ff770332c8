#!/usr/bin/env bash
# lua.sh [BUILDDIR] - what the Lua rules cost, in one run:
#
#   1. the rule-set cost per message: the shipped rules (scripts/spam,
#      no DNS zones: no lookups) on a mixed corpus, every stage and the
#      MIME parsing included, CORPUS_RUNS times over, with
#      `facteurctl filter bench`; median and 99th percentile in µs.
#      Target: median under 200 µs.
#   2. SMTP throughput with the shipped rules against none: Postfix's
#      smtp-source (SESSIONS parallel sessions, MESSAGES messages of SIZE
#      bytes, one connection per message) into facteurd delivering to
#      maildir, once without the lua plugin and once with it, RUNS rounds
#      alternating; medians and the ratio. Target: at least 90% of the
#      unfiltered throughput.
#
# The corpus is tests/rules/*.eml plus generated messages: short plain
# text, HTML newsletters with links, multipart with a plain and an HTML
# part, mail with a ZIP or PDF attachment of ~100 KB, and GTUBE.
#
# Run as root on Debian 12 (installs python3, procps and postfix, for
# smtp-source, if missing). Greylisting skips loopback clients by
# default; the rate limits are raised out of the way for the load.
#
# Environment:
#   CORPUS_RUNS=200 SESSIONS=20 MESSAGES=3000 SIZE=4096 RUNS=3
#   WORKERS=1 FACTEUR_SMTP_PORT=17525 BENCH_KEEP=1 (keep the folder)
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init lua "${1:-}"

CORPUS_RUNS="${CORPUS_RUNS:-200}"
SESSIONS="${SESSIONS:-20}"
MESSAGES="${MESSAGES:-3000}"
SIZE="${SIZE:-4096}"
RUNS="${RUNS:-3}"
WORKERS="${WORKERS:-1}"
FACTEUR_SMTP_PORT="${FACTEUR_SMTP_PORT:-17525}"
DOMAIN=example.test
FACTEURCTL="$FACTEUR_BUILDDIR/facteurctl"
SPAM="$BENCH_REPO/scripts/spam"

bench_need_pkgs python3 procps postfix
bench_ensure_user facteur
bench_raise_nofile 4096
bench_port_free "$FACTEUR_SMTP_PORT"
[ -e "$FACTEUR_BUILDDIR/modules/lua/.libs/lua.so" ] \
    || [ -e "$FACTEUR_BUILDDIR/modules/lua/lua.so" ] \
    || bench_die "the lua plugin is not built in $FACTEUR_BUILDDIR/modules"
export FACTEUR_MODULE_PATH="$FACTEUR_BUILDDIR/modules"

LUA_BLOCK="lua {
    scripts $SPAM/*.lua;
    set ratelimit_sender 100000000;
    set ratelimit_ip 100000000;
}"

# ------------------------------------------------------------------
# 1. The rule set on a mixed corpus

CORPUS="$BENCH_TMP/corpus"
mkdir -p "$CORPUS"
cp "$BENCH_REPO"/tests/rules/*.eml "$CORPUS/"
"$BENCH_PY" - "$CORPUS" <<'EOF'
import base64, os, random, sys
d = sys.argv[1]
rnd = random.Random(1)
words = ("offer account invoice meeting report news update price free "
         "click here tomorrow please order shipping team project").split()
def text(n):
    return " ".join(rnd.choice(words) for _ in range(n))
def head(i, subject, ctype=None, extra=""):
    h = ("From: Sender %d <s%d@sender%d.example>\nTo: user@example.org\n"
         "Subject: %s\nDate: Thu, 03 Dec 2026 10:00:00 +0000\n"
         "Message-ID: <%d@sender.example>\nMIME-Version: 1.0\n"
         % (i, i, i % 7, subject, i))
    if ctype:
        h += "Content-Type: %s\n" % ctype
    return h + extra + "\n"
def links(n):
    return "".join('<p>%s <a href="https://www.site%d.example/p/%d">'
                   'read more</a></p>\n' % (text(12), k % 9, k)
                   for k in range(n))
for i in range(10):
    open(os.path.join(d, "plain%d.eml" % i), "w").write(
        head(i, text(5)) + "\n".join(text(12) for _ in range(20)) + "\n")
for i in range(10):
    open(os.path.join(d, "news%d.eml" % i), "w").write(
        head(100 + i, "Newsletter " + text(3),
             "text/html; charset=utf-8") + links(40))
for i in range(10):
    open(os.path.join(d, "alt%d.eml" % i), "w").write(
        head(200 + i, text(4), 'multipart/alternative; boundary="a"') +
        "--a\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
        "--a\nContent-Type: text/html; charset=utf-8\n\n%s\n--a--\n"
        % (text(200), links(10)))
for i in range(6):
    name, ctype = (("report.pdf", "application/pdf") if i % 2 else
                   ("files.zip", "application/zip"))
    blob = bytes(rnd.getrandbits(8) for _ in range(100 * 1024))
    if ctype == "application/zip":
        blob = b"PK\x03\x04" + blob + b"PK\x01\x02" + b"\0" * 24 + \
            b"\x08\0" + b"\0" * 16 + b"a.txt.pdf"
    open(os.path.join(d, "attach%d.eml" % i), "w").write(
        head(300 + i, "Attached " + text(2), 'multipart/mixed; boundary="m"')
        + "--m\nContent-Type: text/plain\n\n%s\n--m\nContent-Type: %s; "
        'name="%s"\nContent-Disposition: attachment; filename="%s"\n'
        "Content-Transfer-Encoding: base64\n\n%s--m--\n"
        % (text(50), ctype, name, name,
           base64.encodebytes(blob).decode()))
EOF
CTL_CONF="$BENCH_TMP/rules.conf"
cat >"$CTL_CONF" <<EOF
auth none;
state_dir $BENCH_TMP/ctl-state;
load lua;
$LUA_BLOCK
EOF
mkdir -p "$BENCH_TMP/ctl-state"
chmod 755 "$BENCH_TMP/ctl-state" "$CORPUS"
chmod 644 "$CTL_CONF" "$CORPUS"/*.eml
chown facteur: "$BENCH_TMP/ctl-state"
bench_log "rule set: $(ls "$CORPUS" | wc -l) messages x $CORPUS_RUNS runs"
COST="$("$FACTEURCTL" -c "$CTL_CONF" filter bench --runs "$CORPUS_RUNS" \
    "$CORPUS"/*.eml 2>"$BENCH_TMP/ctl.log")" \
    || { cat "$BENCH_TMP/ctl.log" >&2; bench_die "filter bench failed"; }
echo "  rule set: $COST" >&2

# ------------------------------------------------------------------
# 2. SMTP throughput, with the rules and without

PASSWD="$BENCH_TMP/passwd"
echo "test1@$DOMAIN::::::" >"$PASSWD"
chmod 644 "$PASSWD"

# facteur_start LABEL "lua"|"" : a fresh instance; sets F_DIR and F_PID
facteur_start() {
    local label="$1" lua="$2" f="$BENCH_TMP/facteur-$1-$3"
    mkdir -p "$f/mail" "$f/state"
    chmod 755 "$f"
    chown facteur: "$f/mail" "$f/state"
    cat >"$f/facteurd.conf" <<EOF
user facteur;
workers $WORKERS;
pid_file $f/facteurd.pid;
state_dir $f/state;
log stderr;
load passwd-file maildir smtp${lua:+ lua};
passwd-file { path $PASSWD; }
maildir { location $f/mail/%d/%n; }
smtp {
    hostname mx.$DOMAIN;
    local_domains $DOMAIN;
    listen 127.0.0.1:$FACTEUR_SMTP_PORT;
}
${lua:+$LUA_BLOCK}
EOF
    bench_start "facteurd ($label)" "$f/facteurd.log" \
        "$FACTEURD" -f -c "$f/facteurd.conf"
    F_PID="$BENCH_PID"
    F_DIR="$f"
    bench_wait_greeting "$FACTEUR_SMTP_PORT" "220" \
        || { tail -5 "$f/facteurd.log" >&2; bench_die "facteurd did not start"; }
}

declare -A RATES CPUS
for round in $(seq 1 "$RUNS"); do
    for case in none rules; do
        facteur_start "$case" "$([ "$case" = rules ] && echo lua)" "$round"
        out="$("$BENCH_PY" "$BENCH_DIR/smtp_load.py" --port "$FACTEUR_SMTP_PORT" \
            --label "$case" --sessions "$SESSIONS" --messages "$MESSAGES" \
            --size "$SIZE" --domain "$DOMAIN" \
            --maildir "$F_DIR/mail/$DOMAIN/test{i}" --cpu-tree "$F_PID")" \
            || { echo "$out" >&2; bench_die "$case: the load failed"; }
        read -r rate cpu < <("$BENCH_PY" -c 'import json,sys
r = json.loads(sys.argv[1])
print("%.1f %.3f" % (r["e2e_per_s"] if r["complete"] else 0,
                     r["cpu_ms_per_msg"] or 0))' "$out")
        RATES[$case]="${RATES[$case]:-} $rate"
        CPUS[$case]="${CPUS[$case]:-} $cpu"
        echo "  round $round, $case: $rate msg/s, facteurd CPU $cpu ms/msg" >&2
        bench_stop "$F_PID"
        if [ "$case" = rules ]; then
            n="$(grep -c 'event=filter' "$F_DIR/facteurd.log" || true)"
            [ "$n" -ge "$MESSAGES" ] \
                || bench_die "rules: only $n filter log lines for $MESSAGES messages"
        fi
    done
done
# shellcheck disable=SC2086
none="$(bench_median ${RATES[none]})"
# shellcheck disable=SC2086
rules="$(bench_median ${RATES[rules]})"
# shellcheck disable=SC2086
cpu_none="$(bench_median ${CPUS[none]})"
# shellcheck disable=SC2086
cpu_rules="$(bench_median ${CPUS[rules]})"

median="$(echo "$COST" | sed -n 's/.*median_us \([0-9]*\).*/\1/p')"
p99="$(echo "$COST" | sed -n 's/.*p99_us \([0-9]*\).*/\1/p')"
echo
echo "Lua rules (scripts/spam, no DNS), per message on the mixed corpus:"
echo "  median $median µs, p99 $p99 µs (target: median < 200 µs)"
echo "SMTP end to end, $SESSIONS sessions, $MESSAGES messages of $SIZE bytes,"
echo "workers $WORKERS, median of $RUNS rounds:"
echo "  without rules $none msg/s, with the shipped rules $rules msg/s:" \
    "$(awk -v a="$rules" -v b="$none" 'BEGIN { printf "%.1f%%", 100 * a / b }')" \
    "(target: >= 90%)"
echo "  facteurd CPU per message: $cpu_none ms without, $cpu_rules ms with"
