/*
 * sasl.c - SASL PLAIN (RFC 4616) and LOGIN, decoded in one place for
 * every protocol.
 *
 * PLAIN: one response, authzid NUL authcid NUL password. We do not act
 * for others: an authzid other than empty or the authcid is refused.
 * LOGIN: "Username:" then "Password:" challenges; a client may send the
 * user name as an initial response.
 *
 * Decoded credentials live on the stack and are wiped after use; they are
 * never logged.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <facteur/arena.h>
#include <facteur/sasl.h>

#include "core.h"

#define SASL_RESPONSE_MAX	4096	/* base64 bytes in one response */

enum sasl_mech {
	SASL_PLAIN,
	SASL_LOGIN,
};

struct fc_sasl {
	struct fc_session *s;
	enum sasl_mech mech;
	unsigned int step;
	char *login_user;
	fc_auth_done_fn *done;
	void *arg;
};

const char *
fc_sasl_mechanisms(struct fc_session *s)
{
	return fc_session_plaintext_ok(s) ? "PLAIN LOGIN" : "";
}

struct fc_sasl *
fc_sasl_begin(struct fc_session *s, const char *mech, fc_auth_done_fn *done,
    void *arg, const char **error_r)
{
	struct fc_sasl *x;
	enum sasl_mech m;

	if (strcasecmp(mech, "PLAIN") == 0)
		m = SASL_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		m = SASL_LOGIN;
	else {
		*error_r = "unsupported authentication mechanism";
		return NULL;
	}
	if (!fc_session_plaintext_ok(s)) {
		*error_r = "authentication needs an encrypted connection";
		return NULL;
	}
	x = fc_arena_alloc(fc_session_arena(s), sizeof(*x));
	x->s = s;
	x->mech = m;
	x->done = done;
	x->arg = arg;
	return x;
}

/* Decodes a response into out (NUL-terminated); "=" is empty. */
static int
sasl_decode(const char *response, size_t len, unsigned char *out,
    size_t *outlen_r)
{
	if (len == 1 && response[0] == '=') {
		*outlen_r = 0;
		out[0] = '\0';
		return 0;
	}
	if (len == 0 || len > SASL_RESPONSE_MAX)
		return -1;
	if (fc_base64_decode(response, len, out, outlen_r) < 0)
		return -1;
	out[*outlen_r] = '\0';
	return 0;
}

static enum fc_sasl_step
sasl_plain(struct fc_sasl *x, const unsigned char *buf, size_t n,
    const char **error_r)
{
	const char *authzid, *authcid, *password;
	const unsigned char *nul1, *nul2;

	nul1 = memchr(buf, '\0', n);
	nul2 = nul1 == NULL ? NULL : memchr(nul1 + 1, '\0',
	    n - (size_t)(nul1 + 1 - buf));
	if (nul1 == NULL || nul2 == NULL
	    || memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - buf)) != NULL) {
		*error_r = "malformed PLAIN response";
		return FC_SASL_BAD;
	}
	authzid = (const char *)buf;
	authcid = (const char *)nul1 + 1;
	password = (const char *)nul2 + 1;
	if (*authzid != '\0' && strcmp(authzid, authcid) != 0) {
		/* acting for another user is not offered: a plain failure */
		fc_auth_login(x->s, authcid, "", x->done, x->arg);
		return FC_SASL_PENDING;
	}
	fc_auth_login(x->s, authcid, password, x->done, x->arg);
	return FC_SASL_PENDING;
}

enum fc_sasl_step
fc_sasl_step(struct fc_sasl *x, const char *response, size_t len,
    const char **challenge_r, const char **error_r)
{
	unsigned char buf[SASL_RESPONSE_MAX];
	enum fc_sasl_step r;
	size_t n;

	*challenge_r = NULL;
	if (response != NULL && len == 1 && response[0] == '*')
		return FC_SASL_ABORTED;
	if (response == NULL) {
		if (x->step != 0) {
			*error_r = "missing response";
			return FC_SASL_BAD;
		}
		x->step = 1;
		*challenge_r = x->mech == SASL_PLAIN ? "" : "VXNlcm5hbWU6";
		return FC_SASL_CHALLENGE;
	}
	if (sasl_decode(response, len, buf, &n) < 0) {
		*error_r = "invalid base64 in the response";
		return FC_SASL_BAD;
	}
	if (x->mech == SASL_PLAIN) {
		r = sasl_plain(x, buf, n, error_r);
		explicit_bzero(buf, sizeof(buf));
		return r;
	}
	/* LOGIN: the user name (step 0 as initial response, or 1), then
	 * the password */
	if (x->step <= 1) {
		if (memchr(buf, '\0', n) != NULL) {
			*error_r = "NUL in the user name";
			return FC_SASL_BAD;
		}
		x->login_user = fc_arena_strndup(fc_session_arena(x->s),
		    (const char *)buf, n);
		x->step = 2;
		*challenge_r = "UGFzc3dvcmQ6";
		return FC_SASL_CHALLENGE;
	}
	if (memchr(buf, '\0', n) != NULL) {
		explicit_bzero(buf, sizeof(buf));
		*error_r = "NUL in the password";
		return FC_SASL_BAD;
	}
	fc_auth_login(x->s, x->login_user, (const char *)buf, x->done, x->arg);
	explicit_bzero(buf, sizeof(buf));
	return FC_SASL_PENDING;
}
