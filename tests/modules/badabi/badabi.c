/*
 * badabi.c - a test module built for the next major ABI. The loader must
 * refuse it ("built for ABI N+1.x, this facteurd has ABI N.x: rebuild the
 * module"). The header fields are spelled out instead of using
 * FC_MODULE_HEADER, so that abi_major can differ.
 */
#include <stddef.h>

#include <facteur/module.h>

const struct fc_module fc_module_badabi = {
	.magic = FC_MODULE_MAGIC,
	.abi_major = FC_ABI_MAJOR + 1,
	.abi_minor = FC_ABI_MINOR,
	.struct_size = sizeof(struct fc_module),
	.name = "badabi",
	.version = "1.0",
	.kind = FC_MODULE_FILTER,
};
