/*
 * hub_http.c - libcurl requests for `chord pull` (see hub_http.h).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "hub_http.h"

/* JSON answers are small (a tree page is ~100 KiB); anything far larger
 * is not what we asked for. */
#define HUB_MAX_JSON (16u << 20)

struct hub_http {
    CURL *curl;
    struct curl_slist *auth;
    volatile sig_atomic_t *stop;
};

/* One request's state, shared by the header, body and progress callbacks. */
typedef struct {
    hub_http *h;
    hub_resp *resp;
    hub_sink sink;       /* NULL: collect the body into resp->body */
    void *ud;
    size_t cap;
    bool sink_failed;
    char errbody[256];   /* the start of a 4xx/5xx body, for messages */
    size_t errlen;
} req;

hub_http *hub_open(const char *token, volatile sig_atomic_t *stop)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        global_done = true;
    }
    hub_http *h = calloc(1, sizeof *h);
    if (!h || !(h->curl = curl_easy_init())) {
        free(h);
        return NULL;
    }
    h->stop = stop;
    if (token && *token) {
        char line[4096];
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        h->auth = curl_slist_append(NULL, line);
    }
    return h;
}

void hub_close(hub_http *h)
{
    if (!h)
        return;
    curl_slist_free_all(h->auth);
    curl_easy_cleanup(h->curl);
    free(h);
}

void hub_resp_free(hub_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

/* Copies a header value without its trailing CR/LF and surrounding blanks. */
static void header_value(char *dst, size_t n, const char *v, size_t len)
{
    while (len && isspace((unsigned char)*v))
        v++, len--;
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    if (len >= n)
        len = n - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* Link: <https://...&cursor=X>; rel="next" -> the URL. */
static void parse_link(char *dst, size_t n, const char *v)
{
    for (const char *p = v; (p = strchr(p, '<'));) {
        const char *e = strchr(p, '>');
        if (!e)
            return;
        const char *rel = strstr(e, "rel=");
        const char *comma = strchr(e, ',');
        if (rel && (!comma || rel < comma) && strstr(rel, "next") &&
            (!comma || strstr(rel, "next") < comma)) {
            header_value(dst, n, p + 1, (size_t)(e - p - 1));
            return;
        }
        p = e;
    }
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userp)
{
    req *r = userp;
    size_t len = size * nitems;
    hub_resp *resp = r->resp;
    /* A new status line starts the headers of the next answer in a
     * redirect chain: only the last answer's headers count. */
    if (len > 5 && !strncmp(buf, "HTTP/", 5)) {
        resp->error_code[0] = resp->error_message[0] = resp->link_next[0] = '\0';
        resp->range_start = resp->content_length = -1;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t kl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = len - kl - 1;
    char tmp[2048];
    if (kl == 12 && !strncasecmp(buf, "X-Error-Code", kl)) {
        header_value(resp->error_code, sizeof resp->error_code, v, vl);
    } else if (kl == 15 && !strncasecmp(buf, "X-Error-Message", kl)) {
        header_value(resp->error_message, sizeof resp->error_message, v, vl);
    } else if (kl == 4 && !strncasecmp(buf, "Link", kl)) {
        header_value(tmp, sizeof tmp, v, vl);
        parse_link(resp->link_next, sizeof resp->link_next, tmp);
    } else if (kl == 13 && !strncasecmp(buf, "Content-Range", kl)) {
        /* "bytes 1000-4999/5000" */
        header_value(tmp, sizeof tmp, v, vl);
        long long s;
        if (sscanf(tmp, "bytes %lld-", &s) == 1)
            resp->range_start = s;
    } else if (kl == 14 && !strncasecmp(buf, "Content-Length", kl)) {
        header_value(tmp, sizeof tmp, v, vl);
        resp->content_length = strtoll(tmp, NULL, 10);
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    req *r = userp;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->h->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) {
        /* An error page: keep its start for the message, never let it
         * into a file. */
        size_t room = sizeof r->errbody - 1 - r->errlen;
        size_t k = n < room ? n : room;
        memcpy(r->errbody + r->errlen, data, k);
        r->errlen += k;
        r->errbody[r->errlen] = '\0';
        return n;
    }
    if (r->sink) {
        /* The sink decides on the first bytes whether they continue its
         * file (206 from its offset) or restart it (200): let it see. */
        r->resp->status = code;
        if (!r->sink(r->ud, data, n)) {
            r->sink_failed = true;
            return 0;
        }
        return n;
    }
    hub_resp *resp = r->resp;
    if (resp->len + n + 1 > HUB_MAX_JSON)
        return 0;
    if (resp->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < resp->len + n + 1)
            cap *= 2;
        char *b = realloc(resp->body, cap);
        if (!b)
            return 0;
        resp->body = b;
        r->cap = cap;
    }
    memcpy(resp->body + resp->len, data, n);
    resp->len += n;
    resp->body[resp->len] = '\0';
    return n;
}

static int on_progress(void *userp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    req *r = userp;
    return r->h->stop && *r->h->stop ? 1 : 0;
}

static hub_result perform(hub_http *h, const char *url, int64_t offset, req *r)
{
    CURL *c = h->curl;
    hub_resp *resp = r->resp;
    memset(resp, 0, sizeof *resp);
    resp->range_start = resp->content_length = -1;
    char errbuf[CURL_ERROR_SIZE] = "";

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "chord/1 (+libcurl)");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->auth);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A transfer that moves nothing for a minute is as good as dropped:
     * end it so the caller's retry resumes on a fresh connection. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    /* Content is hashed byte for byte: never let a proxy recompress it. */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (offset > 0) {
        char range[64];
        snprintf(range, sizeof range, "%" PRId64 "-", offset);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }

    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return HUB_STOPPED;
    if (r->sink_failed)
        return HUB_SINK;
    if (cc != CURLE_OK) {
        snprintf(resp->error_message, sizeof resp->error_message, "%s",
                 *errbuf ? errbuf : curl_easy_strerror(cc));
        return HUB_NET;
    }
    if (resp->status >= 200 && resp->status < 300)
        return HUB_OK;
    if (!resp->error_message[0] && r->errlen) {
        /* The Hub's JSON errors say {"error":"..."}: keep the text as is,
         * on one line. */
        for (char *p = r->errbody; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        snprintf(resp->error_message, sizeof resp->error_message, "%s", r->errbody);
    }
    /* 429 (rate limit) and 5xx are the server's passing trouble. */
    if (resp->status == 429 || resp->status >= 500) {
        if (!resp->error_message[0])
            snprintf(resp->error_message, sizeof resp->error_message, "HTTP %ld", resp->status);
        return HUB_NET;
    }
    return HUB_HTTP;
}

hub_result hub_get(hub_http *h, const char *url, hub_resp *resp)
{
    req r = {.h = h, .resp = resp};
    hub_result hr = perform(h, url, 0, &r);
    if (hr == HUB_OK && !resp->body) {
        resp->body = calloc(1, 1);
        if (!resp->body)
            return HUB_SINK;
    }
    return hr;
}

hub_result hub_fetch(hub_http *h, const char *url, int64_t offset, hub_sink sink, void *ud,
                     hub_resp *resp)
{
    req r = {.h = h, .resp = resp, .sink = sink, .ud = ud};
    return perform(h, url, offset, &r);
}
