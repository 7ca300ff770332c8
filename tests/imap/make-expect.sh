#!/bin/sh
# make-expect.sh - writes the .expect files of this folder from what our
# code gives now, with the sections each one checks.
#
#   tests/imap/make-expect.sh BUILDDIR
#
# Not run by make check. After running it, read `git diff tests/imap`
# line by line: every change must be checked against the RFCs and
# Dovecot (dovecot-compare.py, see README) before it is committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
T=$(cd "$1" && pwd)/tests/unit/test_imap_render
cd "$here"
gen() {
	name=$1 src=$2
	shift 2
	{
		[ "$src" != "imap/$name.eml" ] && echo "message $src"
		"$T" "../$src" "$@"
	} >"$name.expect"
}
gen addresses imap/addresses.eml "" "HEADER" "TEXT" "1" "2" "1.1" "1.MIME" \
	"HEADER.FIELDS (to CC bcc X-EMPTY)" \
	"HEADER.FIELDS.NOT (received Return-Path to cc subject in-reply-to)" \
	"|0.10" "|690.40" "|1000.20" "|100000.5" "HEADER|600.100" \
	"TEXT|5.1000"
gen addresses-broken imap/addresses-broken.eml "HEADER.FIELDS (sender bcc)"
gen no-content-type imap/no-content-type.eml "1" "1.MIME" "TEXT|0.0" \
	"B:1" "B:"
gen unknown-cte imap/unknown-cte.eml "1" "1.MIME" "2" "3" "4" "5" "B:1" "B:3" \
	"B:2" "B:4" "TEXT" "1.TEXT" "HEADER.FIELDS (content-language)"
gen forwarded imap/forwarded.eml "1" "1.1" "1.2" "2" "2.HEADER" "2.TEXT" \
	"2.MIME" "2.1" "2.2" "2.2.MIME" "2.1.MIME" \
	"2.HEADER.FIELDS (Subject)" "2.3" "3" "1.TEXT" "2.1.TEXT" \
	"2.TEXT|10.30" "2.HEADER|100.1000"
gen lf-crlf imap/lf-crlf.eml "" "HEADER" "TEXT" "1" "2" "2.MIME" \
	"|60.30" "TEXT|0.7"
gen 8bit-headers mime/8bit-headers.eml "HEADER.FIELDS (from to subject)" \
	"1" "B:1"
gen rfc2231-filenames mime/rfc2231-filenames.eml "1.MIME" "2" "B:1" "B:2"
gen message-in-message mime/message-in-message.eml "2" "2.HEADER" \
	"2.TEXT" "2.1" "2.1.HEADER" "2.1.TEXT" "2.1.1" "2.MIME"
gen related-nested mime/related-nested.eml "1" "1.2" "1.2.1" "1.2.2" \
	"1.2.2.MIME" "2" "1.2.2.1" "1.2.2.2"
gen no-boundary mime/no-boundary.eml "1" "TEXT" "1.1" "1.MIME"
gen header-only mime/header-only.eml "" "HEADER" "TEXT" "1" \
	"HEADER.FIELDS (DATE)" "HEADER.FIELDS.NOT (DATE)"
gen digest mime/digest.eml "2.1" "2.1.HEADER" "2.2.TEXT" "2.1.1"
gen base64-body mime/base64-body.eml "1" "B:1" "|50.10"
gen qp-body mime/qp-body.eml "1" "B:1"
gen mixed-line-ends mime/mixed-line-ends.eml "" "1" "2"
gen no-header mime/no-header.eml "" "HEADER" "TEXT"
gen rfc822-two-deep mime/rfc822-two-deep.eml "1" "1.1" "1.1.1" "1.HEADER" \
	"1.1.HEADER" "2" "2.1" "2.2" "2.2.TEXT"
gen empty-parts mime/empty-parts.eml "1" "2" "3" "1.MIME"
gen header-no-eol mime/header-no-eol.eml "" "HEADER" \
	"HEADER.FIELDS (subject)" "TEXT"
gen message-encoded mime/message-encoded.eml "1" "2" "2.1" "2.HEADER" "B:2"
