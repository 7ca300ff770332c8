/*
 * abi.h - the module ABI policy and its history.
 *
 * Every module carries the ABI it was built for (FC_ABI_MAJOR and
 * FC_ABI_MINOR from version.h, filled in by FC_MODULE_HEADER). The loader
 * refuses a module whose major differs from the core's, or whose minor is
 * greater than the core's.
 *
 * Major bump: any change to the layout of a public struct, to a function
 * signature, or to the meaning of a return value. Every module must be
 * rebuilt.
 *
 * Minor bump: new functions; new members appended at the end of an ops
 * table (every ops table starts with its own size, so the core can tell an
 * old module from a new one); use of a reserved slot. Old modules keep
 * working.
 *
 * Public structs stay opaque wherever possible; modules use accessors.
 * No public header includes config.h or depends on a configure option.
 *
 * History
 *   1.0  2026-11-22  first ABI: module descriptor, directives, sessions,
 *                    arenas, logging, auth back ends and SASL.
 *   1.1  2026-12-04  storage: fc_msg_open_header(), the message cache
 *                    (fc_msg_cache_get/put) and the three ops behind
 *                    them at the end of fc_storage_ops; sessions:
 *                    fc_session_compress(), fc_session_compress_active();
 *                    the shared key/value registry (kv.h).
 */
#ifndef FACTEUR_ABI_H
#define FACTEUR_ABI_H

#include <facteur/version.h>

#endif
