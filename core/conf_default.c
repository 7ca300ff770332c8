/*
 * conf_default.c - the configuration facteurd runs when it is given none
 * and FC_CONF_DIR/facteurd.conf does not exist: users from a passwd file
 * beside it, mail in maildirs under the state folder, every service on
 * loopback and unprivileged ports.
 * `facteurd --default-config` prints it, as a starting point.
 */
#include "config.h"

#include "core.h"

const char fc_default_config[] =
	"# facteurd's embedded default configuration.\n"
	"# Users come from " FC_CONF_DIR "/passwd (facteurctl pw makes "
	"hashes).\n"
	"load passwd-file maildir smtp pop3 imap echo;\n"
	"\n"
	"passwd-file {\n"
	"    path passwd;\n"
	"}\n"
	"\n"
	"# users with a home get ~/Maildir, the others " FC_STATE_DIR
	"/mail/DOMAIN/NAME\n"
	"maildir {\n"
	"}\n"
	"\n"
	"# mail for example.org, the demo account's domain\n"
	"smtp {\n"
	"    local_domains example.org localhost;\n"
	"    listen 127.0.0.1:2525;\n"
	"    listen 127.0.0.1:2587 submission;\n"
	"    listen 127.0.0.1:2424 lmtp;\n"
	"}\n"
	"\n"
	"# POP3 on loopback; add `listen 127.0.0.1:1995 tls;` and tls_certificate\n"
	"# and tls_key for POP3S and STLS\n"
	"pop3 {\n"
	"    listen 127.0.0.1:1110;\n"
	"}\n"
	"\n"
	"# IMAP on loopback; add `listen 127.0.0.1:1993 tls;` and tls_certificate\n"
	"# and tls_key for IMAPS and STARTTLS\n"
	"imap {\n"
	"    listen 127.0.0.1:1143;\n"
	"}\n"
	"\n"
	"# the example protocol module: try `nc 127.0.0.1 7007`\n"
	"echo {\n"
	"    listen 127.0.0.1:7007;\n"
	"}\n";
