// libFuzzer target for the checks on what crosses the library in fields:
// the path the app gets (valid UTF-8; unchanged when it was
// valid), and the response head and body the host is handed (a status of
// 200..999, header names that are tokens, values without control bytes
// but HTAB, never a body byte beyond a content-length).
//
// Input: [path length][path][status hi][status lo][header count], then per
// header [name length][name][value length][value], then body chunk sizes
// (one byte each; the last chunk ends the body).
#include "asgicore.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Reader {
    const uint8_t *p, *end;
    uint8_t byte() { return p < end ? *p++ : 0; }
    std::string bytes(size_t n)
    {
        n = std::min<size_t>(n, end - p);
        std::string s(reinterpret_cast<const char *>(p), n);
        p += n;
        return s;
    }
};

[[noreturn]] void broken(const char *what)
{
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
}

// An independent UTF-8 check (RFC 3629), not the library's code.
bool valid_utf8(const std::string &s)
{
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            unsigned char d = s[i + k];
            if ((d & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (d & 0x3f);
        }
        static const unsigned long least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && std::strchr("!#$%&'*+-.^_`|~", c));
}

struct Host {
    long declared = -1;  // content-length the host was handed
    size_t body = 0;
    bool head = false;
};

int head(void *u, asgicore_scope *, void *, int status,
         const asgicore_header *h, size_t n, int)
{
    Host *host = static_cast<Host *>(u);
    if (status < 200 || status > 999)
        broken("a head with a status outside 200..999");
    for (size_t i = 0; i < n; i++) {
        if (h[i].name.len == 0)
            broken("an empty header name");
        for (size_t k = 0; k < h[i].name.len; k++)
            if (!is_tchar(h[i].name.data[k]))
                broken("a header name that is not a token");
        for (size_t k = 0; k < h[i].value.len; k++) {
            unsigned char c = h[i].value.data[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                broken("a control byte in a header value");
        }
        std::string name(h[i].name.data, h[i].name.len);
        for (char &c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name == "content-length") {
            std::string v(h[i].value.data, h[i].value.len);
            long d = 0;
            bool digit = false;
            for (char c : v) {  // "5" or "5, 5": the first number
                if (c >= '0' && c <= '9') {
                    d = d * 10 + (c - '0');
                    digit = true;
                } else if (digit) {
                    break;
                }
            }
            if (!digit)
                broken("a content-length without a number");
            host->declared = d;
        }
    }
    host->head = true;
    return ASGICORE_OK;
}

int body(void *u, asgicore_scope *, void *, const void *, size_t len, int)
{
    Host *host = static_cast<Host *>(u);
    if (!host->head)
        broken("body before the head");
    host->body += len;
    if (host->declared >= 0 && host->body > (size_t)host->declared)
        broken("a body byte beyond the content-length");
    return ASGICORE_OK;
}

struct App {
    Reader *in;
    int status;
    std::vector<asgicore_header> headers;
    std::string raw_path;
};

void start(void *u, asgicore_scope *scope)
{
    App *app = static_cast<App *>(u);
    const asgicore_scope_info *info = asgicore_scope_get_info(scope);
    std::string path(info->path.data ? info->path.data : "", info->path.len);
    if (!valid_utf8(path))
        broken("a path that is not UTF-8");
    if (valid_utf8(app->raw_path) && path != app->raw_path)
        broken("a valid UTF-8 path was changed");
    if (std::string(info->raw_path.data ? info->raw_path.data : "",
                    info->raw_path.len) != app->raw_path)
        broken("raw_path is not the bytes given");
    asgicore_event ev;
    asgicore_receive(scope, &ev);
    if (asgicore_send_start(scope, app->status, app->headers.data(),
                            app->headers.size(), 0) == ASGICORE_OK) {
        static char bytes[256];
        for (;;) {
            uint8_t n = app->in->byte();
            bool last = app->in->p == app->in->end;
            int rc = asgicore_send_body(scope, bytes, n, !last);
            if (rc != ASGICORE_OK || last)
                break;
        }
    }
    asgicore_finish(scope, 0, nullptr);
}

void notify(void *, asgicore_scope *, int, int) {}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Reader in{data, data + size};
    App app;
    app.in = &in;
    app.raw_path = in.bytes(in.byte());
    app.status = in.byte() << 8;
    app.status |= in.byte();
    std::vector<std::string> storage;
    storage.reserve(64);
    size_t count = in.byte() % 8;
    for (size_t i = 0; i < count; i++) {
        storage.push_back(in.bytes(in.byte() % 32));
        storage.push_back(in.bytes(in.byte() % 32));
    }
    for (size_t i = 0; i + 1 < storage.size(); i += 2)
        app.headers.push_back({{storage[i].data(), storage[i].size()},
                               {storage[i + 1].data(), storage[i + 1].size()}});

    static const asgicore_callbacks cb = {head,    body,    nullptr,
                                          nullptr, nullptr, nullptr,
                                          nullptr, nullptr, nullptr};
    static const asgicore_app_callbacks acb = {start, notify, nullptr};
    Host host;
    asgicore_ctx *ctx;
    asgicore_app *a;
    if (asgicore_ctx_new(nullptr, &cb, &host, &ctx) != ASGICORE_OK)
        return 0;
    asgicore_app_new(ctx, &acb, &app, ASGICORE_APP_INLINE, &a);
    asgicore_scope_info info;
    std::memset(&info, 0, sizeof info);
    info.method = {"GET", 3};
    info.scheme = {"http", 4};
    info.http_version = {"1.1", 3};
    info.path = {app.raw_path.data(), app.raw_path.size()};
    info.raw_path = info.path;
    asgicore_scope *scope;
    if (asgicore_scope_open(ctx, a, &info, nullptr, &scope) == ASGICORE_OK) {
        asgicore_scope_feed_body(scope, nullptr, 0, 0);
        asgicore_ctx_process(ctx);
        asgicore_scope_release(scope, 0);
    }
    asgicore_ctx_free(ctx);
    return 0;
}
