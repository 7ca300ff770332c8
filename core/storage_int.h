/*
 * storage_int.h - the core's side of stores and views, shared by
 * storage.c and storage_view.c only.
 */
#ifndef FACTEUR_CORE_STORAGE_INT_H
#define FACTEUR_CORE_STORAGE_INT_H

#include <facteur/storage.h>

struct fc_storage_backend {
	const char *name;
	const struct fc_storage_ops *ops;
	void *ctx;
	struct fc_storage_backend *next;
};

struct fc_store {
	struct fc_core *core;
	const struct fc_user *user;
	const struct fc_storage_backend *be;
	void *bstore;			/* the back end's object */
	enum fc_error error;
	char error_text[512];
};

void fc_store_reset_error(struct fc_store *st);
int fc_store_check_name(struct fc_store *st, const char *name);

#endif
