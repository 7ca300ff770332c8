/*
 * ctl.h - facteurctl's parts (facteurctl.c, ctl_mailbox.c).
 */
#ifndef FACTEUR_CORE_CTL_H
#define FACTEUR_CORE_CTL_H

struct fc_core;

struct fc_core *ctl_load(const char *path);
void ctl_unload(struct fc_core **core);
int ctl_mailbox(const char *conf, int argc, char **argv);
int ctl_deliver(const char *conf, int argc, char **argv);

#endif
