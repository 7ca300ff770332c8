/*
 * command.h - admin commands of modules, run by facteurctl.
 *
 *	facteurctl queue list
 *
 * runs the "queue" command the SMTP module registered. facteurctl reads
 * facteurd's config, loads its modules (whose init registers their
 * commands), drops to the configured user, and calls the command with
 * its arguments. The command prints to stdout and stderr and returns the
 * exit status: 0 done, 1 failed, 2 wrong arguments.
 */
#ifndef FACTEUR_COMMAND_H
#define FACTEUR_COMMAND_H

struct fc_core;

typedef int fc_command_fn(struct fc_core *core, void *arg, int argc,
    char **argv);

/* In init(). usage: one line, e.g. "queue list|flush [ID]|delete ID". */
int fc_command_add(struct fc_core *core, const char *name,
    const char *usage, fc_command_fn *fn, void *arg, const char **error_r);

#endif
