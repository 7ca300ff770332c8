/*
 * conf_parse.c - reads the config file into a tree of directives.
 *
 * Syntax, nginx-like:
 *	name arg arg ...;
 *	name arg ... { name arg; ... }
 *	# a comment to the end of the line
 *	include conf.d/NAME.conf;   (a glob pattern)
 * Arguments are words, "double-quoted strings" (with \" \\ \n \t) or
 * 'single-quoted strings' (taken as they are). Included files are read
 * in name order and take the place of the include line.
 *
 * This file knows nothing about what directives mean (conf.c does). It
 * bounds everything a broken or hostile file could make grow: token
 * length, arguments per directive, nesting and include depth, file size.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <facteur/arena.h>

#include "conf_parse.h"

#define CONF_TOKEN_MAX		65536
#define CONF_ARGS_MAX		256
#define CONF_DEPTH_MAX		16
#define CONF_INCLUDE_MAX	8
#define CONF_FILE_MAX		(16 * 1024 * 1024)

enum conf_tok {
	TOK_WORD,
	TOK_SEMI,
	TOK_OPEN,
	TOK_CLOSE,
	TOK_EOF,
	TOK_ERROR,
};

struct conf_reader {
	struct fc_arena *a;
	const char *file;	/* for messages */
	const char *dir;	/* includes are relative to it */
	const char *p, *end;
	unsigned int line;
	unsigned int include_depth;
	char *tok;		/* scratch for the current word */
	size_t toklen;
	const char **error_r;
};

static int conf_read_block(struct conf_reader *r, unsigned int depth,
    struct fc_conf_node ***tail, unsigned int open_line);

static enum conf_tok
conf_error(struct conf_reader *r, const char *msg)
{
	*r->error_r = fc_arena_printf(r->a, "%s:%u: %s", r->file, r->line,
	    msg);
	return TOK_ERROR;
}

static void
conf_skip_space(struct conf_reader *r)
{
	while (r->p < r->end) {
		char c = *r->p;

		if (c == '\n') {
			r->line++;
			r->p++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f'
		    || c == '\v') {
			r->p++;
		} else if (c == '#') {
			while (r->p < r->end && *r->p != '\n')
				r->p++;
		} else
			break;
	}
}

static int
conf_tok_add(struct conf_reader *r, char c)
{
	if (r->toklen >= CONF_TOKEN_MAX)
		return -1;
	r->tok[r->toklen++] = c;
	return 0;
}

static enum conf_tok
conf_quoted(struct conf_reader *r)
{
	char quote = *r->p++;
	unsigned int start_line = r->line;

	for (;;) {
		char c;

		if (r->p >= r->end) {
			r->line = start_line;
			return conf_error(r, "unterminated quoted string");
		}
		c = *r->p++;
		if (c == quote)
			break;
		if (c == '\n')
			r->line++;
		if (c == '\\' && quote == '"') {
			if (r->p >= r->end)
				continue;	/* reported as unterminated */
			c = *r->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case '"':
			case '\\':
				break;
			case '\n':
				r->line++;
				/* FALLTHROUGH */
			default:
				if (conf_tok_add(r, '\\') < 0)
					return conf_error(r, "token too long");
				break;
			}
		}
		if (c == '\0')
			return conf_error(r, "NUL byte in quoted string");
		if (conf_tok_add(r, c) < 0)
			return conf_error(r, "token too long");
	}
	return TOK_WORD;
}

static enum conf_tok
conf_next(struct conf_reader *r)
{
	r->toklen = 0;
	conf_skip_space(r);
	if (r->p >= r->end)
		return TOK_EOF;
	switch (*r->p) {
	case ';':
		r->p++;
		return TOK_SEMI;
	case '{':
		r->p++;
		return TOK_OPEN;
	case '}':
		r->p++;
		return TOK_CLOSE;
	case '"':
	case '\'':
		return conf_quoted(r);
	default:
		break;
	}
	while (r->p < r->end) {
		char c = *r->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n'
		    || c == '\f' || c == '\v' || c == ';' || c == '{'
		    || c == '}' || c == '#' || c == '"' || c == '\'')
			break;
		if (c == '\0')
			return conf_error(r, "NUL byte in the file");
		if (conf_tok_add(r, c) < 0)
			return conf_error(r, "token too long");
		r->p++;
	}
	return TOK_WORD;
}

static int conf_read_file(struct fc_arena *a, const char *path,
    unsigned int include_depth, struct fc_conf_node ***tail,
    const char **error_r);

static int
conf_include(struct conf_reader *r, struct fc_conf_node *n,
    struct fc_conf_node ***tail)
{
	const char *pattern;
	glob_t g;
	size_t i;
	int ret;

	if (n->nargs != 1) {
		*r->error_r = fc_arena_printf(r->a,
		    "%s:%u: include takes one file name or pattern",
		    n->file, n->line);
		return -1;
	}
	if (r->include_depth >= CONF_INCLUDE_MAX) {
		*r->error_r = fc_arena_printf(r->a,
		    "%s:%u: includes nested too deeply (a loop?)",
		    n->file, n->line);
		return -1;
	}
	pattern = n->args[0];
	if (pattern[0] != '/')
		pattern = fc_arena_printf(r->a, "%s/%s", r->dir, pattern);
	ret = glob(pattern, GLOB_ERR, NULL, &g);
	if (ret == GLOB_NOMATCH) {
		/* a pattern that matches nothing is fine (empty conf.d),
		 * a plain file name that is missing is not */
		if (strpbrk(n->args[0], "*?[") != NULL)
			return 0;
		*r->error_r = fc_arena_printf(r->a,
		    "%s:%u: include %s: no such file", n->file, n->line,
		    pattern);
		return -1;
	}
	if (ret != 0) {
		*r->error_r = fc_arena_printf(r->a,
		    "%s:%u: include %s: cannot read", n->file, n->line,
		    pattern);
		return -1;
	}
	for (i = 0; i < g.gl_pathc; i++) {
		if (conf_read_file(r->a, g.gl_pathv[i], r->include_depth + 1,
		    tail, r->error_r) < 0) {
			globfree(&g);
			return -1;
		}
	}
	globfree(&g);
	return 0;
}

/*
 * Reads directives up to the closing brace (depth > 0) or the end of the
 * input (depth 0), appending them at *tail.
 */
static int
conf_read_block(struct conf_reader *r, unsigned int depth,
    struct fc_conf_node ***tail, unsigned int open_line)
{
	for (;;) {
		struct fc_conf_node *n;
		char *args[CONF_ARGS_MAX];
		enum conf_tok t;
		size_t nargs = 0;

		t = conf_next(r);
		if (t == TOK_ERROR)
			return -1;
		if (t == TOK_EOF) {
			if (depth == 0)
				return 0;
			r->line = open_line;
			conf_error(r, "block opened here is never closed "
			    "(missing '}')");
			return -1;
		}
		if (t == TOK_CLOSE) {
			if (depth > 0)
				return 0;
			conf_error(r, "unexpected '}'");
			return -1;
		}
		if (t != TOK_WORD) {
			conf_error(r, t == TOK_SEMI ? "unexpected ';'" :
			    "unexpected '{' (a block needs a name)");
			return -1;
		}

		n = fc_arena_alloc(r->a, sizeof(*n));
		n->file = r->file;
		n->line = r->line;
		n->name = fc_arena_strndup(r->a, r->tok, r->toklen);
		for (;;) {
			t = conf_next(r);
			if (t == TOK_ERROR)
				return -1;
			if (t != TOK_WORD)
				break;
			if (nargs == CONF_ARGS_MAX) {
				conf_error(r, "too many arguments");
				return -1;
			}
			args[nargs++] = fc_arena_strndup(r->a, r->tok,
			    r->toklen);
		}
		n->nargs = nargs;
		n->args = fc_arena_alloc(r->a, (nargs + 1) * sizeof(char *));
		memcpy(n->args, args, nargs * sizeof(char *));

		if (t == TOK_SEMI) {
			if (strcmp(n->name, "include") == 0) {
				if (conf_include(r, n, tail) < 0)
					return -1;
				continue;
			}
		} else if (t == TOK_OPEN) {
			struct fc_conf_node **child_tail = &n->children;

			if (depth + 1 >= CONF_DEPTH_MAX) {
				conf_error(r, "blocks nested too deeply");
				return -1;
			}
			n->block = true;
			if (conf_read_block(r, depth + 1, &child_tail,
			    n->line) < 0)
				return -1;
		} else {
			r->line = n->line;
			conf_error(r, fc_arena_printf(r->a,
			    "directive \"%s\" is not ended by ';'", n->name));
			return -1;
		}
		**tail = n;
		*tail = &n->next;
	}
}

static int
conf_read_text(struct fc_arena *a, const char *file, const char *dir,
    const char *text, size_t len, unsigned int include_depth,
    struct fc_conf_node ***tail, const char **error_r)
{
	struct conf_reader r;

	memset(&r, 0, sizeof(r));
	r.a = a;
	r.file = file;
	r.dir = dir;
	r.p = text;
	r.end = text + len;
	r.line = 1;
	r.include_depth = include_depth;
	r.tok = fc_malloc(CONF_TOKEN_MAX);
	r.error_r = error_r;
	if (conf_read_block(&r, 0, tail, 1) < 0) {
		free(r.tok);
		return -1;
	}
	free(r.tok);
	return 0;
}

static char *
conf_dirname(struct fc_arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return fc_arena_strdup(a, ".");
	if (slash == path)
		return fc_arena_strdup(a, "/");
	return fc_arena_strndup(a, path, (size_t)(slash - path));
}

static int
conf_read_file(struct fc_arena *a, const char *path,
    unsigned int include_depth, struct fc_conf_node ***tail,
    const char **error_r)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = fc_arena_printf(a, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*error_r = fc_arena_printf(a, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_size > CONF_FILE_MAX) {
		close(fd);
		*error_r = fc_arena_printf(a, "%s: larger than %d bytes",
		    path, CONF_FILE_MAX);
		return -1;
	}
	text = fc_malloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	ret = conf_read_text(a, fc_arena_strdup(a, path), conf_dirname(a, path),
	    text, got, include_depth, tail, error_r);
	free(text);
	return ret;
}

int
fc_conf_parse_file(struct fc_arena *a, const char *path,
    struct fc_conf_node **root_r, const char **error_r)
{
	struct fc_conf_node **tail = root_r;

	*root_r = NULL;
	return conf_read_file(a, path, 0, &tail, error_r);
}

int
fc_conf_parse_text(struct fc_arena *a, const char *name, const char *dir,
    const char *text, size_t len, struct fc_conf_node **root_r,
    const char **error_r)
{
	struct fc_conf_node **tail = root_r;

	*root_r = NULL;
	return conf_read_text(a, name, dir, text, len, 0, &tail, error_r);
}
