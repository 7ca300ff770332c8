/*
 * newminor.c - a test module that needs a newer minor ABI than the core
 * has. The loader must refuse it ("needs facteurd ABI N.m+1 or later").
 */
#include <stddef.h>

#include <facteur/module.h>

const struct fc_module fc_module_newminor = {
	.magic = FC_MODULE_MAGIC,
	.abi_major = FC_ABI_MAJOR,
	.abi_minor = FC_ABI_MINOR + 1,
	.struct_size = sizeof(struct fc_module),
	.name = "newminor",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
};
