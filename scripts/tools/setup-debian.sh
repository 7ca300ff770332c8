#!/bin/sh
# setup-debian.sh - installs what facteur needs to build and test on
# Debian 12, and creates the unprivileged `facteur` user. Run as root.
# Safe to run again: it installs only what is missing.
set -eu

packages="build-essential autoconf automake libtool libltdl-dev pkg-config
libevent-dev libssl-dev liblua5.4-dev libpq-dev libcrypt-dev zlib1g-dev openssl
python3 python3-pytest python3-pytest-xdist clang libclang-rt-14-dev curl
iproute2 swaks libnet-ssleay-perl libio-socket-ssl-perl dnsmasq-base postfix
fetchmail postgresql isync"

if [ "$(id -u)" != 0 ]; then
	echo "setup-debian.sh: run me as root (apt-get, useradd)" >&2
	exit 1
fi

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "setup-debian.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	case " $missing " in
	*" postfix "*)
		# only for its smtp-sink: no mail system is set up or started
		echo "postfix postfix/main_mailer_type select No configuration" |
		    debconf-set-selections
		;;
	esac
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

if ! getent passwd facteur >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin facteur
fi
echo "setup-debian.sh: ready"
