/*
 * An abort storm against nginx with the asgi module and the native test
 * app (libcurl multi). N requests, C at a time, over HTTP/1.1 and over
 * multiplexed HTTP/2; each one either runs to the end, and must then carry
 * exactly the right body, or is aborted at a random phase:
 *
 *   body      mid request body (an upload that stalls, then goes away)
 *   working   while the app works, before any response byte
 *   response  mid response, after some bytes arrived
 *
 * An aborted HTTP/1.1 transfer closes its connection; an aborted HTTP/2
 * transfer resets its stream (RST_STREAM) on a shared connection.
 *
 *   storm --port P --h2port P2 [--n 10000] [--concurrency 32] [--seed 1]
 *         [--prefix /t]
 *
 * P2 serves HTTP/2 over TLS (any certificate): curl 7.88 multiplexes
 * reliably there, but loses transfers on cleartext prior-knowledge
 * connections (seen against nginx's own "return 200" too).
 *
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#include <curl/curl.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { K_ECHO, K_STREAM, K_WAIT };
enum fate { F_FINISH, F_ABORT_BODY, F_ABORT_WORKING, F_ABORT_RESPONSE };

typedef struct {
    int idx;
    enum kind kind;
    enum fate fate;
    int http2;
    CURL *easy;
    char url[256];
    /* request body */
    char *body;
    size_t body_len, body_sent;
    int paused;
    /* response */
    char *got;
    size_t got_len, got_cap;
    char *expect;
    size_t expect_len;
    double abort_at; /* seconds since start, 0: none */
    struct curl_slist *headers;
} xfer;

static unsigned rng_state;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xffffff;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_write(char *data, size_t size, size_t n, void *user)
{
    xfer *x = user;
    size_t len = size * n;
    if (x->got_len + len > x->got_cap) {
        x->got_cap = (x->got_len + len) * 2;
        x->got = realloc(x->got, x->got_cap);
    }
    memcpy(x->got + x->got_len, data, len);
    x->got_len += len;
    /* mid response: go away once some of it arrived */
    if (x->fate == F_ABORT_RESPONSE && x->got_len >= 16)
        return 0;
    return len;
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

static size_t on_read(char *buf, size_t size, size_t n, void *user)
{
    xfer *x = user;
    size_t room = size * n, left = x->body_len - x->body_sent;
    /* mid body: send half, then stall until the abort */
    if (x->fate == F_ABORT_BODY && x->body_sent >= x->body_len / 2) {
        x->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    if (left > room)
        left = room;
    if (x->fate == F_ABORT_BODY && x->body_sent + left > x->body_len / 2)
        left = x->body_len / 2 - x->body_sent;
    memcpy(buf, x->body + x->body_sent, left);
    x->body_sent += left;
    return left;
}

static void setup(xfer *x, int idx, const char *prefix, int port, int h2port,
                  double t0)
{
    size_t i;
    memset(x, 0, sizeof *x);
    x->idx = idx;
    x->http2 = rnd() % 2;
    x->fate = (enum fate)(rnd() % 8 < 4 ? F_FINISH : 1 + rnd() % 3);
    if (getenv("STORM_NO_ABORT"))
        x->fate = F_FINISH;
    x->kind = x->fate == F_ABORT_BODY       ? K_ECHO
              : x->fate == F_ABORT_RESPONSE ? K_STREAM
              : x->fate == F_ABORT_WORKING  ? K_WAIT
                                            : (enum kind)(rnd() % 3);
    x->easy = curl_easy_init();
    int p = x->http2 ? h2port : port;
    const char *scheme = x->http2 ? "https" : "http";

    switch (x->kind) {
    case K_ECHO:
        x->body_len = 1 + rnd() % 100000;
        x->body = malloc(x->body_len);
        for (i = 0; i < x->body_len; i++)
            x->body[i] = (char)('a' + (idx + i * 7) % 26);
        snprintf(x->url, sizeof x->url, "%s://127.0.0.1:%d%s/echo", scheme, p,
                 prefix);
        curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, "POST");
        curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
        curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)x->body_len);
        x->headers = curl_slist_append(NULL, "Expect:");
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
        x->expect = x->body;
        x->expect_len = x->body_len;
        break;
    case K_STREAM: {
        int n = 1 + (int)(rnd() % 40);
        int ms = x->fate == F_ABORT_RESPONSE ? 2 : 0;
        size_t cap = (size_t)n * 16;
        snprintf(x->url, sizeof x->url, "%s://127.0.0.1:%d%s/stream?n=%d&ms=%d",
                 scheme, p, prefix, n, ms);
        x->expect = malloc(cap);
        for (int k = 0; k < n; k++)
            x->expect_len +=
                (size_t)snprintf(x->expect + x->expect_len, cap - x->expect_len,
                                 "chunk %d\n", k);
        break;
    }
    case K_WAIT:
        snprintf(x->url, sizeof x->url, "%s://127.0.0.1:%d%s/wait?ms=%d",
                 scheme, p, prefix,
                 x->fate == F_ABORT_WORKING ? 60 : (int)(rnd() % 5));
        x->expect = strdup("waited\n");
        x->expect_len = 7;
        break;
    }
    if (x->fate == F_ABORT_WORKING || x->fate == F_ABORT_BODY)
        x->abort_at = now_s() - t0 + 0.005 + (rnd() % 30) / 1000.0;

    curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
                     x->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, 1L);
    if (getenv("STORM_VERBOSE"))
        curl_easy_setopt(x->easy, CURLOPT_VERBOSE, 1L);
}

static void cleanup(xfer *x)
{
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    if (x->expect != x->body)
        free(x->expect);
    free(x->body);
    free(x->got);
    x->easy = NULL;
}

int main(int argc, char **argv)
{
    int n = 10000, concurrency = 32, port = 0, h2port = 0, seed = 1;
    const char *prefix = "/t";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--concurrency"))
            concurrency = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--h2port"))
            h2port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prefix"))
            prefix = argv[i + 1];
    }
    if (!port || !h2port) {
        fprintf(stderr, "usage: storm --port P --h2port P2 [--n N] ...\n");
        return 2;
    }
    rng_state = (unsigned)seed;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);

    /* One HTTP/2 connection first, so the storm's streams multiplex on it
     * rather than each opening its own while the first one handshakes. */
    {
        char url[256];
        int running = 1;
        CURL *warm = curl_easy_init();
        snprintf(url, sizeof url, "https://127.0.0.1:%d%s/hello", h2port,
                 prefix);
        curl_easy_setopt(warm, CURLOPT_URL, url);
        curl_easy_setopt(warm, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(warm, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(warm, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(warm, CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, warm);
        while (running) {
            curl_multi_perform(multi, &running);
            curl_multi_poll(multi, NULL, 0, 10, NULL);
        }
        curl_multi_remove_handle(multi, warm);
        curl_easy_cleanup(warm);
    }

    xfer *slots = calloc((size_t)concurrency, sizeof *slots);
    int started = 0, done = 0, passed = 0, failed = 0, aborted = 0;
    double t0 = now_s();

    while (done < n) {
        for (int s = 0; s < concurrency && started < n; s++) {
            if (slots[s].easy)
                continue;
            setup(&slots[s], started++, prefix, port, h2port, t0);
            curl_multi_add_handle(multi, slots[s].easy);
        }
        int running;
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 5, NULL);

        double t = now_s() - t0;
        for (int s = 0; s < concurrency; s++) {
            xfer *x = &slots[s];
            if (!x->easy || !x->abort_at || t < x->abort_at)
                continue;
            /* the client goes away: HTTP/1.1 closes, HTTP/2 resets */
            curl_multi_remove_handle(multi, x->easy);
            cleanup(x);
            aborted++;
            done++;
        }

        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            long status = 0;
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
            if (x->fate == F_ABORT_RESPONSE) {
                aborted++; /* went away mid response, by design */
            } else if (msg->data.result != CURLE_OK || status != 200 ||
                       x->got_len != x->expect_len ||
                       memcmp(x->got, x->expect, x->expect_len)) {
                failed++;
                if (failed <= 10)
                    fprintf(stderr,
                            "# FAILED %s (%s): %s, status %ld, "
                            "%zu of %zu bytes\n",
                            x->url, x->http2 ? "h2" : "h1",
                            curl_easy_strerror(msg->data.result), status,
                            x->got_len, x->expect_len);
            } else {
                passed++;
            }
            curl_multi_remove_handle(multi, x->easy);
            cleanup(x);
            done++;
        }
    }
    double took = now_s() - t0;
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(slots);
    printf("# %d requests in %.1f s (%.0f/s): %d finished and verified, "
           "%d aborted\n",
           n, took, n / took, passed, aborted);
    printf("storm: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
