/*
 * tls.c - one OpenSSL server context per protocol block.
 *
 * Contexts are built in the master from the certificate and key files
 * (which may be readable by root only) and inherited by the workers.
 * Defaults follow current practice: TLS 1.2 and 1.3 only, forward-secret
 * AEAD ciphers, no compression, no renegotiation, buffers released when
 * a connection is idle (they are most of a TLS session's memory).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <facteur/arena.h>

#include "core.h"

const char *const fc_tls_versions[] = { "TLSv1.2", "TLSv1.3", NULL };
static const int tls_version_values[] = { TLS1_2_VERSION, TLS1_3_VERSION };

static const char *
tls_error(struct fc_core *core, const char *what, const char *file)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	if (file != NULL)
		return fc_arena_printf(core->arena, "%s %s: %s", what, file,
		    e != 0 ? buf : "unknown error");
	return fc_arena_printf(core->arena, "%s: %s", what,
	    e != 0 ? buf : "unknown error");
}

int
fc_tls_setup(struct fc_service *svc, const char **error_r)
{
	const struct fc_service_conf *sc = &svc->sc;
	SSL_CTX *ctx;

	if (sc->tls_certificate == NULL)
		return 0;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_error(svc->core, "SSL_CTX_new", NULL);
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx,
	    tls_version_values[sc->tls_min_version]);
	/* a client that closes without close_notify has just left: the
	 * protocol's own end (QUIT, LOGOUT) tells whether it was done */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, sc->tls_ciphers) != 1) {
		*error_r = tls_error(svc->core, "tls_ciphers", sc->tls_ciphers);
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, sc->tls_ciphersuites) != 1) {
		*error_r = tls_error(svc->core, "tls_ciphersuites",
		    sc->tls_ciphersuites);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, sc->tls_certificate)
	    != 1) {
		*error_r = tls_error(svc->core, "tls_certificate",
		    sc->tls_certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, sc->tls_key, SSL_FILETYPE_PEM)
	    != 1) {
		*error_r = tls_error(svc->core, "tls_key", sc->tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = fc_arena_printf(svc->core->arena, "tls_key %s does "
		    "not match tls_certificate %s", sc->tls_key,
		    sc->tls_certificate);
		ERR_clear_error();
		goto fail;
	}
	SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)svc->module->name,
	    (unsigned int)strlen(svc->module->name));
	svc->tls = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}
