/*
 * replay.c - runs a fuzz target's LLVMFuzzerTestOneInput() over saved
 * inputs, without libFuzzer, so `make check` replays every corpus with
 * any compiler.
 *
 *	fuzz_line_replay DIR|FILE ...
 *	FUZZ_CORPUS=DIR fuzz_line_replay
 *
 * Each argument is a corpus folder (every regular file in it is run, in
 * name order, so a failure is reproducible) or a single input file. A
 * crash or an abort in a target ends the program, which fails the test;
 * a folder or file that cannot be read is an error too, so a corpus
 * that went missing is not mistaken for a passing one.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file into a buffer of its exact size (for ASan). */
static int
replay_file(const char *path)
{
	FILE *f;
	uint8_t *data;
	long size;

	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "replay: %s: cannot size\n", path);
		fclose(f);
		return -1;
	}
	data = malloc(size == 0 ? 1 : (size_t)size);
	if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* named first: if the target aborts, the log says on what */
	printf("replay: %s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	free(data);
	return 0;
}

static int
replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir; returns how many, or -1. */
static int
replay_dir(const char *dir)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	int count = 0;
	DIR *d;

	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL) {
				closedir(d);
				return -1;
			}
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), replay_name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

static int
replay_path(const char *path)
{
	struct stat st;
	int n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	n = replay_dir(path);
	if (n == 0) {
		fprintf(stderr, "replay: %s: no inputs\n", path);
		return -1;
	}
	if (n > 0)
		printf("replay: %s: %d inputs\n", path, n);
	return n < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("FUZZ_CORPUS");
	int i, failed = 0;

	if (argc < 2 && (env == NULL || *env == '\0')) {
		fprintf(stderr, "usage: %s DIR|FILE ... (or FUZZ_CORPUS=DIR)\n",
		    argv[0]);
		return 2;
	}
	if (argc < 2)
		return replay_path(env) < 0 ? 1 : 0;
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i]) < 0)
			failed = 1;
	return failed;
}
