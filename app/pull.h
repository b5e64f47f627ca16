/*
 * pull.h - the parts of `chord pull` (app/pull*.c), shared among them.
 *
 *   pull.c           the command: arguments, token, the order of steps
 *   pull_repo.c      the Hub's answers: commit, file tree, which files
 *   pull_blob.c      one file into the hub cache: resume, verify, link
 *   pull_progress.c  the progress line, quiet lines or JSON events
 */
#ifndef CHORD_APP_PULL_H
#define CHORD_APP_PULL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "hub_http.h"

/* ---- progress ----------------------------------------------------------- */

typedef enum {
    PROG_TTY,   /* one line redrawn on stderr */
    PROG_LINES, /* a line when a file starts and ends (stderr is a log) */
    PROG_JSON,  /* one JSON event per line on stdout */
} prog_mode;

typedef struct {
    prog_mode mode;
    const char *file;     /* the repo path being downloaded */
    int64_t total;        /* its size */
    int64_t offset;       /* where this run started (resumed bytes) */
    int64_t bytes;        /* bytes in the file so far */
    double t0, last;      /* start and last report, seconds */
    bool drawn;           /* a TTY line is on screen */
} pull_progress;

void prog_init(pull_progress *p, bool json);
void prog_start(pull_progress *p, const char *file, int64_t total, int64_t offset);
void prog_update(pull_progress *p, int64_t bytes);
/* The file is complete and verified at path (cached: nothing downloaded). */
void prog_file_done(pull_progress *p, const char *file, const char *path, bool cached);
/* A retry after a transfer failure, or any other remark on the way. */
void prog_note(pull_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every failure goes through here: one line on stderr, and an "error"
 * event with --json. */
void prog_error(pull_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The end of a pull: the model's path (first part) and its name. */
void prog_done(pull_progress *p, const char *path, const char *model);

/* ---- one pull ----------------------------------------------------------- */

typedef struct {
    hub_http *http;
    const char *repo;               /* OWNER/NAME, for messages */
    char endpoint[1024];            /* HF_ENDPOINT or https://huggingface.co */
    bool have_token;                /* a token is sent */
    volatile sig_atomic_t *stop;    /* set by SIGINT */
    pull_progress prog;
} pull_ctx;

/* A file of the repo's tree at one commit. */
typedef struct {
    char *path;      /* in the repo, '/'-separated */
    int64_t size;
    char oid[72];    /* LFS: the content's sha256; else the git blob sha1 */
    bool lfs;
} hub_file;

typedef struct {
    char commit[72];
    hub_file *files;
    size_t n;
} hub_tree;

/* The commit rev (a branch or a commit) names and its recursive tree.
 * 0, or 1 after saying why (the 401/403/404 lines). *offline is set when
 * the Hub could not be reached at all. */
int pull_fetch_tree(pull_ctx *c, const char *repo, const char *rev, hub_tree *t, bool *offline);
void pull_tree_free(hub_tree *t);

/* The files to download for QUANT (a type tag, or a file name ending in
 * .gguf): one GGUF, or every part of a split one, first part first.
 * Returns the count (idx malloc'd), or 0 after listing the repo's GGUF
 * files with their sizes on stderr and saying how to choose. */
size_t pull_choose(pull_ctx *c, const hub_tree *t, const char *repo, const char *quant,
                   size_t **idx);

/* Says what a failed Hub request means, on one line: 401 (a token is
 * needed or refused), 403 (gated: accept the licence on the model page),
 * 404 (repo or file not found), others with their status. file may be
 * NULL (a repo-level request). */
void pull_report_http(pull_ctx *c, const char *repo, const char *file, const hub_resp *r);

/* Brings one file of the tree into the cache under repodir: the blob
 * (resumed from its .incomplete, verified) and the snapshot link
 * snapshots/COMMIT/PATH, whose path goes to link_out. url is where to GET
 * it. 0, or 1 after saying why. */
int pull_blob(pull_ctx *c, const char *repodir, const char *commit, const hub_file *f,
              const char *url, char *link_out, size_t link_n);

/* Bytes still to download for f (its size less a .incomplete's), 0 when
 * the blob is already complete. */
int64_t pull_blob_missing(const char *repodir, const hub_file *f);

/* A plain URL (not the Hub's): into dir/NAME, resumed from NAME.incomplete,
 * without a checksum to verify. 0 or 1. */
int pull_plain_url(pull_ctx *c, const char *url, const char *dir, char *path_out, size_t n);

/* mkdir -p; false with errno set. */
bool pull_mkdirs(const char *path, int mode);

#endif
