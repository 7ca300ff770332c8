#!/bin/sh
# Regenerates configure and the Makefile.in files from a git checkout.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf -fi
