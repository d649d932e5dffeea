/* Tiny test helpers shared by the C tests: checks that count, temp roots, file counting. */
#ifndef HURAH_TESTLIB_H
#define HURAH_TESTLIB_H

#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hurah.h"

static int tl_passed, tl_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            tl_passed++;                                                             \
        } else {                                                                     \
            tl_failed++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                            \
    } while (0)

/* CHECK that a call returned `want`, printing the error message if it did not. */
#define CHECK_STATUS(call, want)                                                     \
    do {                                                                             \
        hurah_status tl_s = (call);                                                  \
        if (tl_s == (want)) {                                                        \
            tl_passed++;                                                             \
        } else {                                                                     \
            tl_failed++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s returned %d (%s), want %d\n", __FILE__,  \
                    __LINE__, #call, (int)tl_s, hurah_status_message(tl_s), (int)(want)); \
        }                                                                            \
    } while (0)

#define OK(call) CHECK_STATUS(call, HURAH_OK)

static inline int tl_finish(void)
{
    printf("%d passed, %d failed\n", tl_passed, tl_failed);
    return tl_failed == 0 ? 0 : 1;
}

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *tl_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/hurah-ctest-XXXXXX", base && *base ? base : "/tmp") < 0)
        abort();
    if (!mkdtemp(path))
        abort();
    return path;
}

static inline int tl_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void tl_rmtree(const char *path)
{
    nftw(path, tl_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Number of regular entries (not . or ..) in root/rel; -1 if it cannot be opened. */
static inline int tl_count(const char *root, const char *rel)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", root, rel) < 0)
        abort();
    DIR *d = opendir(path);
    free(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

#endif
