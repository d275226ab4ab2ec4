/*
 * WebSocket load for make bench (bench/ws-bench.sh): one thread, epoll,
 * masked client frames, an echo server on the other end.
 *
 *   ws_load PORT PATH rate CONNS WINDOW SIZE SECONDS
 *       CONNS connections each keep WINDOW binary messages of SIZE bytes
 *       in flight; prints the echoed messages per second.
 *   ws_load PORT PATH latency SIZE COUNT
 *       one connection, one message at a time; prints the round trip's
 *       p50 and p99 in microseconds.
 *   ws_load PORT PATH idle CONNS SECONDS
 *       opens CONNS WebSockets (or, with PATH starting "http:", CONNS
 *       keep-alive HTTP connections after one request each), prints
 *       "open N", and holds them (answering pings) SECONDS long.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    unsigned char *in;
    size_t in_len, in_cap;
    long inflight;
    long done;
} conn_t;

static int port;
static const char *path;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            poll(&pfd, 1, 1000);
            continue;
        }
        if (n <= 0)
            die("write");
        p += n;
        len -= (size_t)n;
    }
}

/* A blocking connect and handshake; the socket is then non-blocking. */
static int open_conn(int http)
{
    /* "hold:PATH": the request is sent, its answer never awaited */
    int hold = http && strncmp(path, "hold:", 5) == 0;
    struct sockaddr_in sa;
    char req[512], buf[4096];
    size_t got = 0;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (http)
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path + 5);
    else
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket"
                 "\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                 "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
                 "\r\n\r\n",
                 path);
    write_all(fd, req, strlen(req));
    for (; !hold;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            die("handshake read");
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        if (strncmp(buf, http ? "HTTP/1.1 200" : "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "handshake: %.40s\n", buf);
            exit(2);
        }
        if (http) {
            /* the body of a small response: read until it is in */
            const char *cl = strcasestr(buf, "content-length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            size_t have = got - (size_t)(end + 4 - buf);
            while (have < want) {
                n = read(fd, buf, sizeof buf);
                if (n <= 0)
                    die("body read");
                have += (size_t)n;
            }
        }
        break;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* A masked binary frame (the zero mask: valid, and no copy to mask). */
static size_t make_frame(unsigned char *out, int opcode, size_t len)
{
    size_t n = 0;
    out[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[n++] = (unsigned char)(0x80 | len);
    }
    else if (len < 65536) {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    }
    else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)(len >> (8 * i));
    }
    memset(out + n, 0, 4);
    n += 4;
    memset(out + n, 'x', len);
    return n + len;
}

/* Whole frames read so far: counts data frames, answers pings. */
static void drain(conn_t *c, long *messages)
{
    for (;;) {
        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap * 2 + 65536;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die("realloc");
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            fprintf(stderr, "the server closed a connection\n");
            exit(2);
        }
        c->in_len += (size_t)n;
    }
    size_t pos = 0;
    while (c->in_len - pos >= 2) {
        unsigned char *p = c->in + pos;
        size_t len = p[1] & 0x7f, head = 2;
        if (len == 126) {
            if (c->in_len - pos < 4)
                break;
            len = (size_t)p[2] << 8 | p[3];
            head = 4;
        }
        else if (len == 127) {
            if (c->in_len - pos < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            head = 10;
        }
        if (c->in_len - pos < head + len)
            break;
        int opcode = p[0] & 0x0f;
        if (opcode == 9) { /* ping: a pong with its payload */
            unsigned char pong[256];
            size_t m = make_frame(pong, 10, len);
            memcpy(pong + m - len, p + head, len);
            write_all(c->fd, pong, m);
        }
        else if (opcode == 1 || opcode == 2) {
            (*messages)++;
            c->inflight--;
        }
        pos += head + len;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: see the comment at the top\n");
        return 2;
    }
    port = atoi(argv[1]);
    path = argv[2];
    const char *mode = argv[3];

    if (strcmp(mode, "latency") == 0 && argc == 6) {
        size_t size = strtoul(argv[4], NULL, 10);
        long count = atol(argv[5]);
        unsigned char *msg = malloc(size + 14);
        size_t len = make_frame(msg, 2, size);
        double *rtt = malloc(sizeof(double) * (size_t)count);
        conn_t c = {open_conn(0), NULL, 0, 0, 0, 0};
        long got = 0;
        for (long i = -count / 10; i < count; i++) { /* a warm-up first */
            double t = now_s();
            write_all(c.fd, msg, len);
            c.inflight = 1;
            while (c.inflight) {
                struct pollfd pfd = {c.fd, POLLIN, 0};
                poll(&pfd, 1, 5000);
                drain(&c, &got);
            }
            if (i >= 0)
                rtt[i] = (now_s() - t) * 1e6;
        }
        qsort(rtt, (size_t)count, sizeof(double), cmp_double);
        printf("p50 %.1f p99 %.1f\n", rtt[count / 2],
               rtt[count * 99 / 100]);
        return 0;
    }

    if (strcmp(mode, "rate") == 0 && argc == 8) {
        int conns = atoi(argv[4]), window = atoi(argv[5]);
        size_t size = strtoul(argv[6], NULL, 10);
        double seconds = atof(argv[7]);
        unsigned char *msg = malloc(size + 14);
        size_t len = make_frame(msg, 2, size);
        conn_t *cs = calloc((size_t)conns, sizeof *cs);
        int ep = epoll_create1(0);
        for (int i = 0; i < conns; i++) {
            cs[i].fd = open_conn(0);
            struct epoll_event ev = {EPOLLIN, {.ptr = &cs[i]}};
            epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
            for (int w = 0; w < window; w++)
                write_all(cs[i].fd, msg, len);
            cs[i].inflight = window;
        }
        long messages = 0, counted = 0;
        double start = now_s(), warm = start + seconds / 5, end = 0;
        int counting = 0;
        for (;;) {
            struct epoll_event evs[64];
            int n = epoll_wait(ep, evs, 64, 1000);
            for (int i = 0; i < n; i++) {
                conn_t *c = evs[i].data.ptr;
                drain(c, &messages);
                while (c->inflight < window) {
                    write_all(c->fd, msg, len);
                    c->inflight++;
                }
            }
            double t = now_s();
            if (!counting && t >= warm) {
                counting = 1;
                counted = messages;
                start = t;
                end = t + seconds;
            }
            if (counting && t >= end)
                break;
        }
        printf("%.0f\n", (double)(messages - counted) / (now_s() - start));
        return 0;
    }

    if (strcmp(mode, "idle") == 0 && argc == 6) {
        int conns = atoi(argv[4]);
        double until;
        int http = strncmp(path, "http:", 5) == 0 ||
                   strncmp(path, "hold:", 5) == 0;
        conn_t *cs = calloc((size_t)conns, sizeof *cs);
        int ep = epoll_create1(0);
        for (int i = 0; i < conns; i++) {
            cs[i].fd = open_conn(http);
            struct epoll_event ev = {EPOLLIN, {.ptr = &cs[i]}};
            epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        }
        printf("open %d\n", conns);
        fflush(stdout);
        until = now_s() + atof(argv[5]);
        long ignored = 0;
        while (now_s() < until) {
            struct epoll_event evs[64];
            int n = epoll_wait(ep, evs, 64, 100);
            for (int i = 0; i < n; i++)
                drain(evs[i].data.ptr, &ignored);
        }
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top\n");
    return 2;
}
