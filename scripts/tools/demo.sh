#!/bin/sh
# demo.sh - from a fresh checkout on Debian 12, as root: installs what is
# missing, builds and installs facteur under /usr/local (config in
# /etc/facteur), adds a demo account, and runs facteurd in the foreground
# on its embedded defaults (loopback, unprivileged ports). Ctrl-C stops it.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

"$top/scripts/tools/setup-debian.sh"
./autogen.sh >/dev/null 2>&1
mkdir -p build-demo
(cd build-demo &&
    "$top/configure" -q --prefix=/usr/local --sysconfdir=/etc \
    --localstatedir=/var --runstatedir=/run &&
    make -s -j"$(nproc)" && make -s install)

passwd=/etc/facteur/passwd
if [ ! -f "$passwd" ] || ! grep -q '^demo@example.org:' "$passwd"; then
	hash=$(/usr/local/sbin/facteurctl pw -p demo)
	echo "demo@example.org:$hash" >>"$passwd"
fi
# the workers run as facteur and read the file again when it changes
chown root:facteur "$passwd"
chmod 640 "$passwd"

if [ -f /etc/facteur/facteurd.conf ]; then
	echo "demo.sh: /etc/facteur/facteurd.conf exists and will be used" \
	    "instead of the embedded defaults"
fi
cat <<'MSG'

facteurd starts now, in the foreground, on its embedded defaults
(facteurd --default-config shows them). Demo account:
    demo@example.org, password demo
Try, from another terminal:
    swaks --server 127.0.0.1:2525 --to demo@example.org
    curl -u demo@example.org:demo pop3://127.0.0.1:1110/1
    nc 127.0.0.1 7007
    ECHO hello
    LOGIN demo@example.org demo
    QUIT
and the demo account's mail (a maildir under /var/lib/facteur/mail):
    echo "Subject: hello" | facteurctl deliver demo@example.org
    facteurctl mailbox list demo@example.org
    facteurctl mailbox messages demo@example.org INBOX
Ctrl-C stops facteurd.

MSG
exec /usr/local/sbin/facteurd -f
