/*
 * hub_http.h - the HTTP side of `chord pull`: small GETs of the Hub's JSON
 * API and streamed, resumable file downloads, through libcurl.
 *
 * Only the transfer lives here; what the answers mean (which files, which
 * blob, what to tell the user) is app/pull*.c's business.
 */
#ifndef CHORD_APP_HUB_HTTP_H
#define CHORD_APP_HUB_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_http hub_http;

/* How a request ended. HUB_NET covers what a retry may cure: a refused or
 * dropped connection, a stall, a 5xx or 429 answer. */
typedef enum {
    HUB_OK,       /* a 2xx answer, body delivered in full */
    HUB_HTTP,     /* a 4xx answer (resp.status, resp.error_code) */
    HUB_NET,      /* transport failure or server error: resp.message */
    HUB_STOPPED,  /* *stop was set (Ctrl-C) */
    HUB_SINK,     /* the sink refused the data (disk full, I/O error) */
} hub_result;

typedef struct {
    long status;             /* the final answer's HTTP status, 0 if none */
    char error_code[64];     /* the Hub's X-Error-Code (GatedRepo, RepoNotFound...) */
    char error_message[256]; /* the Hub's X-Error-Message, or curl's error */
    char link_next[2048];    /* Link: <URL>; rel="next" (tree pagination) */
    int64_t range_start;     /* Content-Range's first byte; -1 when absent */
    int64_t content_length;  /* -1 when absent */
    char *body;              /* hub_get only: malloc'd, NUL-terminated */
    size_t len;
} hub_resp;

/* The data callback of hub_fetch: false stops the transfer (HUB_SINK). */
typedef bool (*hub_sink)(void *ud, const void *data, size_t n);

/* One client for a whole pull. token (may be NULL) goes out as
 * "Authorization: Bearer"; libcurl drops that header when a redirect leaves
 * the host, so a CDN never sees it. stop (may be NULL) is polled during
 * transfers: set it from a signal handler to end the current request. */
hub_http *hub_open(const char *token, volatile sig_atomic_t *stop);
void hub_close(hub_http *h);

/* GET url into resp->body (capped at a few MiB: JSON only). */
hub_result hub_get(hub_http *h, const char *url, hub_resp *resp);

/* GET url from byte offset (a Range request when offset > 0), redirects
 * followed, the 2xx body handed to sink as it arrives. The caller checks
 * resp->status: 206 with range_start == offset continues the file, 200
 * means the server sent it all from the start. */
hub_result hub_fetch(hub_http *h, const char *url, int64_t offset, hub_sink sink, void *ud,
                     hub_resp *resp);

void hub_resp_free(hub_resp *resp);

#endif
