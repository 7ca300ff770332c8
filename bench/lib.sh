# shellcheck shell=bash
# lib.sh - shared helpers of the benchmark scripts (sourced, not executed).
#
# What a script gets from here:
#   bench_init NAME [BUILDDIR]   checks root, finds the build tree
#                                (FACTEUR_BUILDDIR, else ../build), makes a
#                                scratch folder $BENCH_TMP and sets the trap
#                                that stops every server we started and
#                                removes the folder, on success or failure
#   bench_need_pkgs PKG...       installs missing Debian packages with apt-get
#   bench_ensure_user NAME       creates an unprivileged system user
#   bench_raise_nofile N         raises the soft open-files limit of this
#                                shell (and so of what it starts) to >= N
#   bench_port_free PORT         dies if something listens on 127.0.0.1:PORT
#   bench_start NAME LOG CMD...  starts a server in the background, records
#                                its pid for the trap; sets BENCH_PID
#   bench_stop PID               SIGTERM, wait, then SIGKILL what is left of
#                                its session (only processes we started)
#   bench_wait_greeting PORT PREFIX [tls]  waits until the server greets
#   bench_facteur_conf FILE ...  writes a facteurd config for the echo module
#   bench_dovecot_conf DIR PORT [EXTRA]  writes a private Dovecot config
#   bench_median N...            prints the median
#
# Every server runs from $BENCH_TMP, on 127.0.0.1 only.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_REPO="$(cd "$BENCH_DIR/.." && pwd)"
BENCH_PY=/usr/bin/python3
BENCH_PIDS=()
BENCH_TMP=""

bench_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
bench_die() { echo "$BENCH_NAME: error: $*" >&2; exit 1; }

# ------------------------------------------------------------------
# Set-up and clean-up

bench_cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM HUP
    # servers started by this shell, and the one first_greeting.py runs
    # (its pid is in $BENCH_TMP/server.pid while it runs)
    if [ -n "$BENCH_TMP" ] && [ -s "$BENCH_TMP/server.pid" ]; then
        BENCH_PIDS+=("$(tr -dc 0-9 <"$BENCH_TMP/server.pid")")
    fi
    for pid in "${BENCH_PIDS[@]}"; do
        bench_stop "$pid" >/dev/null 2>&1 || true
    done
    if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then
            bench_log "kept $BENCH_TMP (BENCH_KEEP=1)"
        else
            rm -rf "$BENCH_TMP"
        fi
    fi
    exit "$rc"
}

bench_init() {
    BENCH_NAME="$1"
    local arg="${2:-}"

    [ "$(id -u)" = 0 ] || bench_die "run me as root: I install Debian" \
        "packages, and the servers start as root and drop privileges"
    if [ -n "$arg" ]; then
        FACTEUR_BUILDDIR="$arg"
    elif [ -z "${FACTEUR_BUILDDIR:-}" ]; then
        FACTEUR_BUILDDIR="$BENCH_REPO/build"
    fi
    [ -d "$FACTEUR_BUILDDIR" ] || bench_die "no build tree at" \
        "$FACTEUR_BUILDDIR (give it as the first argument, or set" \
        "FACTEUR_BUILDDIR)"
    FACTEUR_BUILDDIR="$(cd "$FACTEUR_BUILDDIR" && pwd)"
    FACTEURD="$FACTEUR_BUILDDIR/facteurd"
    [ -x "$FACTEURD" ] || bench_die "$FACTEURD is missing: build first" \
        "(./autogen.sh && mkdir build && cd build && ../configure && make)"
    [ -e "$FACTEUR_BUILDDIR/modules/echo/.libs/echo.so" ] \
        || [ -e "$FACTEUR_BUILDDIR/modules/echo/echo.so" ] \
        || bench_die "the echo module is not built in $FACTEUR_BUILDDIR/modules"

    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    BENCH_TMP="$(mktemp -d "/tmp/facteur-bench-$BENCH_NAME.XXXXXX")"
    # the servers' unprivileged users must reach their files
    chmod 755 "$BENCH_TMP"
}

# apt-get install what is missing (Debian 12). A machine whose package
# lists were never fetched gets one apt-get update.
bench_need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    bench_log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}" \
        >"$BENCH_TMP/apt.log" 2>&1; then
        apt-get update >>"$BENCH_TMP/apt.log" 2>&1 || true
        apt-get install -y --no-install-recommends "${missing[@]}" \
            >>"$BENCH_TMP/apt.log" 2>&1 \
            || { tail -20 "$BENCH_TMP/apt.log" >&2;
                 bench_die "apt-get install ${missing[*]} failed"; }
    fi
}

bench_ensure_user() {
    local u="$1"
    getent passwd "$u" >/dev/null && return 0
    useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$u" || bench_die "useradd $u failed"
}

# Soft limit of open files >= $1: 65536 if the hard limit allows (root
# may raise it too), else as high as the hard limit goes.
bench_raise_nofile() {
    local want="$1" hard
    ulimit -n 65536 2>/dev/null || true
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
        hard="$(ulimit -Hn)"
        ulimit -n "$hard" 2>/dev/null || true
    fi
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
        bench_die "open files limited to $(ulimit -n) (hard limit" \
            "$(ulimit -Hn), and this machine will not raise it); $want" \
            "are needed: ask for fewer connections"
    fi
}

bench_port_free() {
    "$BENCH_PY" - "$1" <<'EOF' || bench_die "127.0.0.1:$1 is in use (set the port variables to free ones)"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# ------------------------------------------------------------------
# Servers

# bench_start NAME LOGFILE CMD... : runs CMD in its own session (so that
# every process it forks can be found again and stopped), output to LOG.
bench_start() {
    local name="$1" log="$2" sid
    shift 2
    setsid "$@" </dev/null >>"$log" 2>&1 &
    BENCH_PID=$!
    BENCH_PIDS+=("$BENCH_PID")
    sleep 0.05
    sid="$(ps -o sid= -p "$BENCH_PID" 2>/dev/null | tr -d ' ')" || true
    if [ -n "$sid" ] && [ "$sid" != "$BENCH_PID" ]; then
        bench_die "$name: setsid forked (pid $BENCH_PID is not the server)"
    fi
    bench_log "started $name (pid $BENCH_PID)"
}

# bench_wait_greeting PORT PREFIX [tls] : up to 30 s for a greeting line.
bench_wait_greeting() {
    "$BENCH_PY" - "$@" <<'EOF'
import socket, ssl, sys, time
port, prefix = int(sys.argv[1]), sys.argv[2].encode()
tls = len(sys.argv) > 3 and sys.argv[3] == "tls"
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname="localhost")
        line = s.makefile("rb").readline()
        s.close()
        if line.startswith(prefix):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("no greeting on 127.0.0.1:%d" % port)
EOF
}

# Pids of the processes in session $1 (setsid made the server the leader).
bench_session_pids() {
    local sid="$1" f rest
    for f in /proc/[0-9]*/stat; do
        rest="$(cat "$f" 2>/dev/null)" || continue
        rest="${rest##*) }"
        # fields after comm: state ppid pgrp session
        # shellcheck disable=SC2086
        set -- $rest
        if [ "${4:-}" = "$sid" ]; then
            echo "${f//[^0-9]/}"
        fi
    done
    return 0
}

bench_stop() {
    local pid="$1" i left
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            # a zombie child of ours: reap it
            if grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
                break
            fi
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    # whatever the server forked and left behind
    for ((i = 0; i < 50; i++)); do
        left="$(bench_session_pids "$pid")"
        [ -z "$left" ] && break
        if [ "$i" = 30 ]; then
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
        fi
        sleep 0.1
    done
    local keep=()
    for i in "${BENCH_PIDS[@]}"; do
        [ "$i" = "$pid" ] || keep+=("$i")
    done
    BENCH_PIDS=("${keep[@]}")
}

# bench_facteur_conf FILE DIR LISTEN [EXTRA_ECHO_SETTINGS]
bench_facteur_conf() {
    local file="$1" dir="$2" listen="$3" extra="${4:-}"
    : >"$dir/passwd"
    chmod 644 "$dir/passwd"
    cat >"$file" <<EOF
# facteurd for the benchmarks: the echo module on loopback
user facteur;
workers ${FACTEUR_WORKERS:-2};
pid_file $dir/facteurd.pid;
log stderr;
load passwd-file echo;
passwd-file { path $dir/passwd; }
max_connections 20000;
echo {
    listen $listen;
    max_connections_per_ip 20000;
$extra
}
EOF
}

# bench_dovecot_conf DIR PORT [EXTRA] : a private Dovecot (IMAP only,
# no TLS) with everything under DIR; EXTRA is appended to the config.
# Dovecot's built-in defaults otherwise (not Debian's conf.d).
bench_dovecot_conf() {
    local d="$1" port="$2" extra="${3:-}" uid gid
    uid="$(id -u "$BENCH_MAIL_USER")"
    gid="$(id -g "$BENCH_MAIL_USER")"
    mkdir -p "$d"/{etc,run,state,log,mail}
    chmod 755 "$d" "$d/etc" "$d/run" "$d/state" "$d/log"
    chown "$uid:$gid" "$d/mail"
    echo "bench:{PLAIN}benchpass:$uid:$gid::$d/mail/bench::" >"$d/etc/users"
    chmod 644 "$d/etc/users"
    cat >"$d/etc/dovecot.conf" <<EOF
# private Dovecot for facteur's benchmarks
instance_name = facteur-bench-$(basename "$d")
base_dir = $d/run
state_dir = $d/state
protocols = imap
listen = 127.0.0.1
log_path = $d/log/dovecot.log
ssl = no
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:$d/mail/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $d/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $d/etc/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
$extra
EOF
    doveconf -c "$d/etc/dovecot.conf" -n >"$d/etc/doveconf-n.txt" \
        2>"$d/log/doveconf.err" \
        || { cat "$d/log/doveconf.err" >&2; bench_die "Dovecot config check failed"; }
}

# Unprivileged owner of the Dovecot mail folder (Dovecot refuses uid 0).
BENCH_MAIL_USER="${BENCH_MAIL_USER:-facteurbench}"

bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR == 0) exit 1
              if (NR % 2) print a[(NR + 1) / 2]
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
