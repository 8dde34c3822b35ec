// A small HTTPS load generator for `scripts/bench proxy`: keep-alive HTTP/1.1 over TLS, directly or
// through an HTTP proxy's CONNECT tunnel, the certificate verified (against --cafile, else OpenSSL's
// defaults, which honour SSL_CERT_FILE). One thread, non-blocking sockets and epoll, so that on two
// shared cores it costs less than the proxy and the upstream it measures.
//
//   loadgen [--proxy HOST:PORT] [--cafile FILE] URL MODE ARGS
//     latency N          one connection, N sequential requests (after 200 unmeasured ones)
//     throughput C SECS  C connections, each with one request in flight, for SECS (after 1 s unmeasured)
//     connect N          N sequential new connections (CONNECT, TLS, one request, close; after 20 unmeasured)
//     idle C SECS        C connections, each after its handshake and one request, held open SECS
//
// Without --proxy it uses $HTTPS_PROXY (or $https_proxy) when set, ignoring NO_PROXY: inside an
// airlock sandbox that is how the proxy is found. URL is https://HOST:PORT/PATH. Each mode prints
// one JSON line (idle prints a first one once every connection is open and idle). Built by the
// bench script with `cc -O2 loadgen.c -lssl -lcrypto` (Debian's libssl-dev).
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { TCP, PROXY_WRITE, PROXY_READ, HANDSHAKE, REQUEST, RESPONSE, IDLE };

struct conn {
    int fd;
    SSL *ssl;
    enum state state;
    size_t sent;            // bytes of the CONNECT request or the HTTP request written so far
    char buf[16384];        // the CONNECT reply or the response being read
    size_t len;
    uint64_t opened;        // when the TCP connect began (connect mode's sample)
    uint64_t connected;     // TCP established
    uint64_t tunnelled;     // the proxy answered CONNECT (direct: = connected)
    uint64_t asked;         // when the request was written (a request's sample; after the handshake)
    int requests;           // answered on this connection
};

static SSL_CTX *ctx;
static struct addrinfo *dest;     // where TCP goes: the proxy, or the upstream itself
static int proxied;
static char host[256], port[16], connect_req[600], http_req[1200];
static size_t connect_len, http_len;
static int epfd;
static long errors, reconnects;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n");
    ERR_print_errors_fp(stderr);
    va_end(args);
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// Durations in nanoseconds: requests' or connections' latencies, and the phases of a new connection.
struct series {
    uint64_t *v;
    size_t n, cap;
};
static struct series latencies, tcp_phase, tunnel_phase, tls_phase, request_phase;

static void add(struct series *s, uint64_t ns) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1 << 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = ns;
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// Sorts the series first, so call it after the last `add`.
static double percentile_us(struct series *s, double p) {
    if (s->n == 0) return 0;
    qsort(s->v, s->n, sizeof *s->v, by_value);
    return (double)s->v[(size_t)(p * (double)(s->n - 1) + 0.5)] / 1000.0;
}

static double mean_us(struct series *s) {
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) sum += (double)s->v[i];
    return s->n ? sum / (double)s->n / 1000.0 : 0;
}

// "host:port" or "http://host:port[/]".
static void parse_proxy(const char *text) {
    char h[256], p[16];
    if (strncmp(text, "http://", 7) == 0) text += 7;
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof h) die("bad proxy %s", text);
    memcpy(h, text, (size_t)(colon - text));
    h[colon - text] = 0;
    snprintf(p, sizeof p, "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int status = getaddrinfo(h, p, &hints, &dest);
    if (status) die("proxy %s: %s", text, gai_strerror(status));
    proxied = 1;
}

static void parse_url(const char *url) {
    if (strncmp(url, "https://", 8) != 0) die("URL must be https://HOST:PORT/PATH");
    const char *authority = url + 8, *slash = strchr(authority, '/');
    const char *path = slash ? slash : "/";
    size_t alen = slash ? (size_t)(slash - authority) : strlen(authority);
    const char *colon = memchr(authority, ':', alen);
    if (!colon) die("URL must name a port");
    snprintf(host, sizeof host, "%.*s", (int)(colon - authority), authority);
    snprintf(port, sizeof port, "%.*s", (int)(alen - (size_t)(colon - authority) - 1), colon + 1);
    connect_len = (size_t)snprintf(connect_req, sizeof connect_req,
                                   "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", host, port, host, port);
    http_len = (size_t)snprintf(http_req, sizeof http_req,
                                "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: airlock-bench\r\nAccept: */*\r\n\r\n",
                                path, host, port);
    // LOADGEN_AWS=1: each request is signed like an S3 ListBuckets with $AWS_ACCESS_KEY_ID (the
    // signature's value is not checked by the upstream; airlock classifies the request and signs
    // it again with the operator's credentials).
    const char *key = getenv("AWS_ACCESS_KEY_ID");
    if (getenv("LOADGEN_AWS") && key) {
        http_len = (size_t)snprintf(http_req, sizeof http_req,
            "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: airlock-bench\r\nAccept: */*\r\n"
            "X-Amz-Date: 20261203T000000Z\r\nX-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=%s/20261203/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n",
            path, host, port, key);
    }
}

static void watch(struct conn *c, int op) {
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &event)) die("epoll_ctl: %s", strerror(errno));
}

static void open_conn(struct conn *c) {
    c->fd = socket(dest->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->opened = now_ns();
    c->state = TCP;
    c->sent = c->len = 0;
    c->ssl = NULL;
    c->requests = 0;
    if (connect(c->fd, dest->ai_addr, dest->ai_addrlen) && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    watch(c, EPOLL_CTL_ADD);
}

static void close_conn(struct conn *c) {
    if (c->ssl) {
        SSL_shutdown(c->ssl);  // sends close_notify; the reply is not waited for
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);  // also leaves the epoll set
    c->fd = -1;
}

static void start_tls(struct conn *c) {
    c->ssl = SSL_new(ctx);
    if (!c->ssl) die("SSL_new");
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, host);
    SSL_set1_host(c->ssl, host);
    c->state = HANDSHAKE;
}

// How many bytes of buf[0..len) are one whole response (Content-Length or chunked); 0 while it is
// incomplete; -1 when it is not a 200 response we can frame.
static long response_length(const char *buf, size_t len) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len > 8192 ? -1 : 0;
    size_t head = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf + 9, "200", 3) != 0) return -1;
    const char *line = memchr(buf, '\n', head) + 1;
    long content_length = -1;
    int chunked = 0;
    while (line < buf + head - 2) {
        const char *eol = memmem(line, (size_t)(buf + head - line), "\r\n", 2);
        if (strncasecmp(line, "content-length:", 15) == 0) content_length = strtol(line + 15, NULL, 10);
        if (strncasecmp(line, "transfer-encoding:", 18) == 0 && memmem(line, (size_t)(eol - line), "chunked", 7))
            chunked = 1;
        line = eol + 2;
    }
    if (!chunked) {
        if (content_length < 0) return -1;
        return head + (size_t)content_length <= len ? (long)(head + (size_t)content_length) : 0;
    }
    size_t at = head;
    for (;;) {
        const char *eol = memmem(buf + at, len - at, "\r\n", 2);
        if (!eol) return 0;
        size_t size = strtoul(buf + at, NULL, 16);
        at = (size_t)(eol - buf) + 2;
        if (size == 0) return at + 2 <= len ? (long)(at + 2) : 0;  // no trailers expected
        at += size + 2;
        if (at > len) return 0;
    }
}

// What a connection should do after a response: the mode decides.
enum next { AGAIN, CLOSE, REST };
static enum next (*after_response)(struct conn *c);

// Drives one connection as far as it can go without blocking. Returns -1 when it closed.
static int step(struct conn *c) {
    if (c->fd < 0) return -1;  // closed earlier in the same batch of events
    for (;;) {
        switch (c->state) {
        case TCP: {
            int error = 0;
            socklen_t size = sizeof error;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size);
            if (error == EINPROGRESS) return 0;
            if (error) die("connect: %s", strerror(error));
            c->connected = c->tunnelled = now_ns();
            if (proxied) c->state = PROXY_WRITE; else start_tls(c);
            break;
        }
        case PROXY_WRITE: {
            ssize_t n = write(c->fd, connect_req + c->sent, connect_len - c->sent);
            if (n < 0) {
                if (errno == EAGAIN || errno == ENOTCONN) return 0;
                die("write to the proxy: %s", strerror(errno));
            }
            c->sent += (size_t)n;
            if (c->sent == connect_len) c->state = PROXY_READ;
            break;
        }
        case PROXY_READ: {
            ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
            if (n < 0 && errno == EAGAIN) return 0;
            if (n <= 0) die("the proxy closed the connection before answering CONNECT");
            c->len += (size_t)n;
            c->buf[c->len] = 0;
            char *end = strstr(c->buf, "\r\n\r\n");
            if (!end) {
                if (c->len == sizeof c->buf - 1) die("CONNECT reply too long");
                break;
            }
            if (strncmp(c->buf + 8, " 200", 4) != 0) die("CONNECT refused: %.*s", (int)(end - c->buf), c->buf);
            if (end + 4 != c->buf + c->len) die("bytes after the CONNECT reply");
            c->tunnelled = now_ns();
            c->len = 0;
            start_tls(c);
            break;
        }
        case HANDSHAKE: {
            int r = SSL_connect(c->ssl);
            if (r == 1) {
                c->state = REQUEST;
                c->sent = 0;
                c->asked = now_ns();
                break;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
            die("TLS handshake with %s failed (verify: %s)", host,
                X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
        }
        case REQUEST: {
            int r = SSL_write(c->ssl, http_req + c->sent, (int)(http_len - c->sent));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
                die("TLS write failed");
            }
            c->sent += (size_t)r;
            if (c->sent == http_len) c->state = RESPONSE;
            break;
        }
        case RESPONSE: {
            int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
                if ((e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) && c->len == 0 && c->requests > 0) {
                    // The server or the proxy ended a keep-alive connection: counted, and opened again.
                    reconnects++;
                    close_conn(c);
                    open_conn(c);
                    return 0;
                }
                die("TLS read failed after %d responses on this connection", c->requests);
            }
            c->len += (size_t)r;
            long whole = response_length(c->buf, c->len);
            if (whole < 0) die("unexpected response: %.*s", (int)(c->len < 200 ? c->len : 200), c->buf);
            if (whole == 0) break;
            c->requests++;
            memmove(c->buf, c->buf + whole, c->len - (size_t)whole);
            c->len -= (size_t)whole;
            switch (after_response(c)) {
            case AGAIN:
                c->state = REQUEST;
                c->sent = 0;
                c->asked = now_ns();
                break;
            case CLOSE:
                close_conn(c);
                return -1;
            case REST:
                c->state = IDLE;
                return 0;
            }
            break;
        }
        case IDLE: {
            // Nothing is expected; a close from the other side is noted.
            char scratch[256];
            int r = SSL_read(c->ssl, scratch, sizeof scratch);
            if (r > 0) continue;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
            errors++;
            close_conn(c);
            return -1;
        }
        }
    }
}

// Runs the event loop until `done()` says so or `deadline` (ns, 0: none) passes.
static void run(int (*done)(void), uint64_t deadline) {
    struct epoll_event events[256];
    while (!done()) {
        int timeout = 1000;
        if (deadline) {
            uint64_t t = now_ns();
            if (t >= deadline) return;
            timeout = (int)((deadline - t) / 1000000) + 1;
        }
        int n = epoll_wait(epfd, events, 256, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) step(events[i].data.ptr);
    }
}

// Mode state.
static long target, measured_from, answered;
static int measuring;
static uint64_t window_start;
static struct conn *conns;
static long nconns, opened_conns, idle_conns;

static int never(void) { return 0; }
static int answered_target(void) { return answered >= target; }

static enum next keep_alive(struct conn *c) {
    answered++;
    if (measuring) {
        add(&latencies, now_ns() - c->asked);
    } else if (answered >= measured_from) {
        measuring = 1;
        window_start = now_ns();
    }
    return AGAIN;
}

static enum next one_request(struct conn *c) {
    answered++;
    if (answered > measured_from) {
        uint64_t t = now_ns();
        add(&latencies, t - c->opened);
        add(&tcp_phase, c->connected - c->opened);
        add(&tunnel_phase, c->tunnelled - c->connected);
        add(&tls_phase, c->asked - c->tunnelled);
        add(&request_phase, t - c->asked);
    }
    return CLOSE;
}

static enum next rest(struct conn *c) {
    (void)c;
    idle_conns++;
    // Open the next one: a bounded number of handshakes in flight, not a thousand SYNs at once.
    if (opened_conns < nconns) open_conn(&conns[opened_conns++]);
    return REST;
}

static int all_idle(void) { return idle_conns >= nconns; }

static void print_latency(const char *mode, double seconds) {
    printf("{\"mode\": \"%s\", \"n\": %zu, \"seconds\": %.3f, \"per_second\": %.1f, \"p50_us\": %.1f, "
           "\"p99_us\": %.1f, \"mean_us\": %.1f, \"errors\": %ld, \"reconnects\": %ld",
           mode, latencies.n, seconds, seconds > 0 ? (double)latencies.n / seconds : 0, percentile_us(&latencies, 0.50),
           percentile_us(&latencies, 0.99), mean_us(&latencies), errors, reconnects);
    if (tcp_phase.n)
        printf(", \"phases_p50_us\": {\"tcp\": %.1f, \"connect\": %.1f, \"tls\": %.1f, \"request\": %.1f}",
               percentile_us(&tcp_phase, 0.5), percentile_us(&tunnel_phase, 0.5), percentile_us(&tls_phase, 0.5),
               percentile_us(&request_phase, 0.5));
    printf("}\n");
    fflush(stdout);
}

static long number(const char *text) {
    char *end;
    long value = strtol(text, &end, 10);
    if (*end || value <= 0) die("not a positive number: %s", text);
    return value;
}

int main(int argc, char **argv) {
    const char *proxy = NULL, *cafile = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc) die("%s needs a value", argv[i]);
        if (strcmp(argv[i], "--proxy") == 0) proxy = argv[i + 1];
        else if (strcmp(argv[i], "--cafile") == 0) cafile = argv[i + 1];
        else die("unknown option %s", argv[i]);
    }
    if (argc - i < 3) die("usage: loadgen [--proxy HOST:PORT] [--cafile FILE] URL latency N | throughput C SECS | connect N | idle C SECS");
    const char *url = argv[i], *mode = argv[i + 1];
    parse_url(url);
    if (!proxy) proxy = getenv("HTTPS_PROXY");
    if (!proxy) proxy = getenv("https_proxy");
    if (proxy && *proxy) {
        parse_proxy(proxy);
    } else {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
        int status = getaddrinfo(host, port, &hints, &dest);
        if (status) die("%s: %s", host, gai_strerror(status));
    }

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (cafile ? !SSL_CTX_load_verify_locations(ctx, cafile, NULL) : !SSL_CTX_set_default_verify_paths(ctx))
        die("cannot load CA certificates from %s", cafile ? cafile : "OpenSSL's defaults ($SSL_CERT_FILE)");
    // Every connection a full handshake, as a new client process would make.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    epfd = epoll_create1(EPOLL_CLOEXEC);

    if (strcmp(mode, "latency") == 0) {
        target = number(argv[i + 2]) + 200;
        measured_from = 200;
        after_response = keep_alive;
        struct conn *c = calloc(1, sizeof *c);
        open_conn(c);
        run(answered_target, 0);
        print_latency("latency", (double)(now_ns() - window_start) / 1e9);
    } else if (strcmp(mode, "throughput") == 0 && argc - i >= 4) {
        nconns = number(argv[i + 2]);
        long seconds = number(argv[i + 3]);
        after_response = keep_alive;
        measured_from = 1L << 62;  // measuring starts after the warm-up second, below
        conns = calloc((size_t)nconns, sizeof *conns);
        for (long k = 0; k < nconns; k++) open_conn(&conns[k]);
        run(never, now_ns() + 1000000000u);
        measuring = 1;
        long before = answered;
        window_start = now_ns();
        run(never, window_start + (uint64_t)seconds * 1000000000u);
        double elapsed = (double)(now_ns() - window_start) / 1e9;
        long done = answered - before;
        printf("{\"mode\": \"throughput\", \"connections\": %ld, \"n\": %ld, \"seconds\": %.3f, \"per_second\": %.1f, "
               "\"p50_us\": %.1f, \"p99_us\": %.1f, \"errors\": %ld, \"reconnects\": %ld}\n",
               nconns, done, elapsed, (double)done / elapsed, percentile_us(&latencies, 0.50),
               percentile_us(&latencies, 0.99), errors,
               reconnects);
    } else if (strcmp(mode, "connect") == 0) {
        // Sequential: the next connection opens when the last one closed.
        target = number(argv[i + 2]) + 20;
        measured_from = 20;
        after_response = one_request;
        struct conn *c = calloc(1, sizeof *c);
        uint64_t began = 0;
        while (answered < target) {
            if (answered == measured_from) began = now_ns();
            open_conn(c);
            while (c->fd >= 0) {
                struct epoll_event event;
                int n = epoll_wait(epfd, &event, 1, 10000);
                if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
                if (n == 0) die("a new connection made no progress in 10 s");
                if (n > 0) step(c);
            }
        }
        print_latency("connect", (double)(now_ns() - began) / 1e9);
    } else if (strcmp(mode, "idle") == 0 && argc - i >= 4) {
        nconns = number(argv[i + 2]);
        long seconds = number(argv[i + 3]);
        after_response = rest;
        conns = calloc((size_t)nconns, sizeof *conns);
        uint64_t began = now_ns();
        for (; opened_conns < nconns && opened_conns < 32; opened_conns++) open_conn(&conns[opened_conns]);
        run(all_idle, 0);
        printf("{\"mode\": \"idle\", \"ready\": %ld, \"open_seconds\": %.3f}\n", idle_conns,
               (double)(now_ns() - began) / 1e9);
        fflush(stdout);
        run(never, now_ns() + (uint64_t)seconds * 1000000000u);
        printf("{\"mode\": \"idle\", \"held\": %ld, \"closed_meanwhile\": %ld}\n", idle_conns - errors, errors);
    } else {
        die("unknown mode or missing arguments: %s", mode);
    }
    return 0;
}
