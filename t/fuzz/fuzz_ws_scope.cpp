// libFuzzer target for websocket scopes through the public header: the
// input is a program of host and app calls on one scope (handshake answers,
// sends, closes, finish, client bytes as frames or noise split anywhere,
// the host's write results, write_ready, disconnects, release, time moving
// both ways) over small limits, inline or threaded. After every step it
// checks: every result is one the header documents for that call; done and
// cancel come at most once, cancel never after finish, no callback after
// the release; and at the end, once the host let go and time passed, an
// app that still receives is told the connection ended (a websocket or
// http disconnect) within a bounded number of receives, the wire holds
// whole server frames with nothing after a close frame and no code that
// may not go on the wire, and the counters balance.
#include "asgicore.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

namespace {

[[noreturn]] void broken(const char *what, int detail = 0)
{
    std::fprintf(stderr, "broken promise: %s (%d)\n", what, detail);
    std::abort();
}

void check(bool ok, const char *what, int detail = 0)
{
    if (!ok)
        broken(what, detail);
}

void allowed(int rc, std::initializer_list<int> codes, const char *call)
{
    if (rc == ASGICORE_ERR_NOMEM)
        return;
    for (int c : codes)
        if (rc == c)
            return;
    broken(call, rc);
}

struct Host {
    asgicore_ctx *ctx = nullptr;
    asgicore_app *app = nullptr;
    asgicore_scope *scope = nullptr;
    asgicore_time now = 1000'000'000'000ull;
    asgicore_time timer = ASGICORE_TIME_NEVER;
    bool host_woken = false, app_woken = false;
    bool released = false, finished = false, started = false;
    int write_result = ASGICORE_OK;
    int dones = 0, cancels = 0;
    bool receive_ready = false;
    bool in_feed = false, resumed_in_feed = false;
    std::string wire;  // send_raw's bytes
    // the program's bytes, read by the main loop and by the app's calls
    // from inside the write callbacks
    const uint8_t *p = nullptr, *end = nullptr;
    bool calling_while_writing = false;
    unsigned byte() { return p < end ? *p++ : 0; }
};

void app_call_while_writing(Host *h);

Host *host_of(void *u)
{
    return static_cast<Host *>(u);
}

int cb_head(void *u, asgicore_scope *, void *, int, const asgicore_header *,
            size_t, int)
{
    Host *h = host_of(u);
    check(!h->released, "send_head after the release");
    app_call_while_writing(h);
    return h->write_result;
}

int cb_body(void *u, asgicore_scope *, void *, const void *, size_t, int)
{
    Host *h = host_of(u);
    check(!h->released, "send_body after the release");
    app_call_while_writing(h);
    return h->write_result;
}

int cb_raw(void *u, asgicore_scope *, void *, const void *data, size_t len)
{
    Host *h = host_of(u);
    check(!h->released, "send_raw after the release");
    if (h->wire.size() < (1u << 20))
        h->wire.append(static_cast<const char *>(data), len);
    app_call_while_writing(h);
    return h->write_result;
}

void cb_done(void *u, asgicore_scope *, void *, int, int)
{
    Host *h = host_of(u);
    check(!h->released, "done after the release");
    h->dones++;
    check(h->dones == 1, "done twice");
}

void cb_resume(void *u, asgicore_scope *, void *)
{
    Host *h = host_of(u);
    check(!h->released, "resume_body after the release");
    if (h->in_feed)
        h->resumed_in_feed = true;
}

// The app's calls (the program's operations 0-7).
void app_step(Host &h, unsigned op)
{
    asgicore_event_v2 ev;
    int rc;
    switch (op) {
    case 0:
        rc = asgicore_receive_versioned(h.scope, ASGICORE_EVENT_V2, &ev);
        allowed(rc, {ASGICORE_OK, ASGICORE_PENDING}, "receive");
        break;
    case 1: {
        asgicore_str sub = {"chat", 4};
        rc = asgicore_websocket_accept(h.scope, h.byte() & 1 ? &sub : nullptr,
                                       nullptr, 0);
        allowed(rc,
                {ASGICORE_OK, ASGICORE_ERR_DISCONNECTED, ASGICORE_ERR_PROTOCOL,
                 ASGICORE_ERR_BAD_HEADER},
                "websocket_accept");
        break;
    }
    case 2:
    case 3: {
        bool text = h.byte() & 1;
        std::string m(h.byte() % 64, 'm');
        if (h.byte() % 8 == 0)
            m = "\xc3";  // not UTF-8
        rc = asgicore_websocket_send(h.scope, text, m.data(), m.size());
        allowed(rc,
                {ASGICORE_OK, ASGICORE_PENDING, ASGICORE_ERR_DISCONNECTED,
                 ASGICORE_ERR_PROTOCOL, ASGICORE_ERR_BUSY,
                 ASGICORE_ERR_INVALID},
                "websocket_send");
        break;
    }
    case 4: {
        static const int codes[] = {1000, 1001, 1005, 1006, 3000, 999};
        rc = asgicore_websocket_close(h.scope, codes[h.byte() % 6], "r", 1);
        allowed(rc,
                {ASGICORE_OK, ASGICORE_ERR_DISCONNECTED, ASGICORE_ERR_INVALID,
                 ASGICORE_ERR_PROTOCOL},
                "websocket_close");
        break;
    }
    case 5:
        rc = asgicore_send_start(h.scope, 400 + h.byte() % 100, nullptr, 0, 0);
        allowed(rc,
                {ASGICORE_OK, ASGICORE_PENDING, ASGICORE_ERR_DISCONNECTED,
                 ASGICORE_ERR_PROTOCOL, ASGICORE_ERR_BUSY},
                "send_start");
        rc = asgicore_send_body(h.scope, "no", 2, 0);
        allowed(rc,
                {ASGICORE_OK, ASGICORE_PENDING, ASGICORE_ERR_DISCONNECTED,
                 ASGICORE_ERR_PROTOCOL, ASGICORE_ERR_BUSY},
                "send_body");
        break;
    case 6:
    case 7:
        if (h.byte() % 4 == 0) {
            rc = asgicore_finish(h.scope, h.byte() & 1, "f");
            allowed(rc, {ASGICORE_OK}, "finish");
            h.finished = true;
        }
        break;
    }
}

// A host callback may make app-side calls (asgicore.h): as an app's thread
// calls while the host writes. A byte of 0xe0 or more where a write
// callback begins is one of the app's calls; others are left for the
// next step. Never nested.
void app_call_while_writing(Host *h)
{
    if (h->calling_while_writing || h->p == h->end || *h->p < 0xe0 ||
        !h->started || h->finished)
        return;
    unsigned op = h->byte() % 8;
    if (std::getenv("FUZZ_TRACE"))
        std::fprintf(stderr, "  app op %u inside a write callback\n", op);
    h->calling_while_writing = true;
    app_step(*h, op);
    h->calling_while_writing = false;
}

// feed_raw, and the promise that no resume_body came before the PENDING
// it answers
int feed(Host &h, const char *data, size_t len)
{
    h.in_feed = true;
    h.resumed_in_feed = false;
    int rc = asgicore_scope_feed_raw(h.scope, data, len, h.now);
    h.in_feed = false;
    if (rc == ASGICORE_PENDING)
        check(!h.resumed_in_feed, "resume_body before the PENDING it answers");
    return rc;
}

void cb_timer(void *u, asgicore_time deadline)
{
    host_of(u)->timer = deadline;
}
void cb_wake(void *u)
{
    host_of(u)->host_woken = true;
}

void app_start(void *u, asgicore_scope *)
{
    host_of(u)->started = true;
}

void app_notify(void *u, asgicore_scope *, int event, int)
{
    Host *h = host_of(u);
    check(!h->finished, "a notification after finish");
    if (event == ASGICORE_NOTIFY_CANCEL) {
        h->cancels++;
        check(h->cancels == 1, "cancel twice");
    }
    if (event == ASGICORE_NOTIFY_RECEIVE_READY)
        h->receive_ready = true;
}

void app_wake(void *u)
{
    host_of(u)->app_woken = true;
}

void settle(Host &h)
{
    for (int i = 0; i < 100 && (h.host_woken || h.app_woken); i++) {
        if (h.app_woken) {
            h.app_woken = false;
            asgicore_app_dispatch(h.app);
        }
        if (h.host_woken) {
            h.host_woken = false;
            asgicore_ctx_process(h.ctx);
        }
    }
}

void advance(Host &h, asgicore_time ns)
{
    h.now += ns;
    if (h.timer > h.now)
        return;
    // An app's call from inside a write callback may arm a deadline at now
    // (a close timeout of 0): the host is told, and calls again. What must
    // not happen is a deadline that keeps coming back (a host would spin).
    for (int i = 0; i < 8 && asgicore_ctx_get_expiry(h.ctx) <= h.now; i++) {
        h.timer = ASGICORE_TIME_NEVER;
        if (std::getenv("FUZZ_TRACE"))
            std::fprintf(stderr, "  handle_expiry at %llu\n",
                         (unsigned long long)h.now);
        asgicore_ctx_handle_expiry(h.ctx, h.now);
    }
    check(asgicore_ctx_get_expiry(h.ctx) > h.now,
          "a deadline at or before now keeps coming back after "
          "handle_expiry");
}

std::string client_frame(int op, const std::string &payload, bool fin)
{
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | op));
    f.push_back(static_cast<char>(0x80 | payload.size()));  // < 126
    f.append("\x01\x02\x03\x04", 4);
    for (size_t i = 0; i < payload.size(); i++)
        f.push_back(static_cast<char>(payload[i] ^ (1 + (i & 3))));
    return f;
}

// The wire after the 101: whole frames, unmasked, nothing after a close,
// no close code that may not go on the wire.
void check_wire(const std::string &w)
{
    size_t at = 0;
    bool closed = false;
    while (at + 2 <= w.size()) {
        auto *b = reinterpret_cast<const uint8_t *>(w.data()) + at;
        size_t len = b[1] & 0x7f, head = 2;
        if (len == 126) {
            len = (size_t(b[2]) << 8) | b[3];
            head = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 2; i < 10; i++)
                len = (len << 8) | b[i];
            head = 10;
        }
        check(!(b[1] & 0x80), "a masked server frame");
        check(!closed, "a frame after the close frame");
        if ((b[0] & 0x0f) == 0x8) {
            closed = true;
            if (len >= 2) {
                unsigned code = (unsigned(b[head]) << 8) | b[head + 1];
                check(code != 1005 && code != 1006 && code != 1015 &&
                          code >= 1000,
                      "a close code that may not go on the wire", code);
            }
        }
        at += head + len;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bool trace = std::getenv("FUZZ_TRACE") != nullptr;

    static const asgicore_callbacks cb = {
        cb_head,  cb_body, nullptr, cb_resume, cb_done,
        cb_timer, cb_wake, nullptr, nullptr,   cb_raw,
    };
    static const asgicore_app_callbacks acb = {app_start, app_notify, app_wake};
    Host h;
    h.p = data;
    h.end = data + size;
    auto byte = [&]() -> unsigned { return h.byte(); };
    asgicore_settings st;
    asgicore_settings_default(&st);
    unsigned cfg = byte();
    if (cfg & 1)
        st.send_buffer_limit = cfg & 2 ? 0 : 10;
    if (cfg & 4)
        st.grace_period_ns = cfg & 8 ? 0 : 1000;
    if (asgicore_ctx_new(&st, &cb, &h, &h.ctx) != ASGICORE_OK)
        return 0;
    bool threaded = cfg & 16;
    asgicore_app_new(h.ctx, &acb, &h,
                     (threaded ? ASGICORE_APP_THREADED : ASGICORE_APP_INLINE) |
                         ASGICORE_APP_WEBSOCKET,
                     &h.app);

    static const asgicore_header headers[] = {
        {{"upgrade", 7}, {"websocket", 9}},
        {{"connection", 10}, {"Upgrade", 7}},
        {{"sec-websocket-key", 17}, {"dGhlIHNhbXBsZSBub25jZQ==", 24}},
        {{"sec-websocket-version", 21}, {"13", 2}},
        {{"sec-websocket-protocol", 22}, {"chat", 4}},
    };
    asgicore_scope_info info;
    std::memset(&info, 0, sizeof info);
    info.method = {"GET", 3};
    info.http_version = {"1.1", 3};
    info.path = {"/", 1};
    info.headers = headers;
    info.header_count = (cfg & 32) ? 3 : 5;  // an invalid handshake too
    info.grace_period_ns = -1;
    info.flags = ASGICORE_SCOPE_WEBSOCKET;
    if (cfg & 64)
        info.websocket_max_message = 1 + byte() % 40;
    if (cfg & 128)
        info.websocket_ping_interval_ns = int64_t(byte() % 3) - 1;
    info.websocket_close_timeout_ns = byte() % 4;
    if (asgicore_scope_open(h.ctx, h.app, &info, &h, &h.scope) != ASGICORE_OK) {
        asgicore_ctx_free(h.ctx);
        return 0;
    }
    settle(h);

    asgicore_event_v2 ev;
    while (h.p < h.end) {
        unsigned op = byte() % 16;
        int rc;
        if (op < 8 && (h.finished || !h.started))
            op += 8;  // the app cannot: the host's turn
        if (op >= 8 && op <= 14 && h.released)
            op = 15;  // the host let go: only time passes
        switch (op) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 6:
        case 7: app_step(h, op); break;
        case 8:
        case 9:
        case 10: {
            std::string f;
            unsigned kind = byte() % 7;
            if (kind == 0)
                f = client_frame(1, std::string(byte() % 20, 't'), true);
            else if (kind == 1)
                f = client_frame(9, "pi", true);
            else if (kind == 2)
                f = client_frame(8, "\x03\xe8", true);
            else if (kind == 3)
                f = client_frame(2, "fr", false);
            else if (kind == 4)
                f = client_frame(0, "ag", byte() & 1);
            else if (kind == 5)
                f = client_frame(1, "", true);
            else
                for (unsigned n = byte() % 16; n > 0; n--)
                    f.push_back(static_cast<char>(byte()));
            size_t cut = f.empty() ? 0 : byte() % (f.size() + 1);
            rc = feed(h, f.data(), cut);
            allowed(rc,
                    {ASGICORE_OK, ASGICORE_PENDING, ASGICORE_ERR_STATE,
                     ASGICORE_ERR_DISCONNECTED},
                    "feed_raw");
            rc = feed(h, f.data() + cut, f.size() - cut);
            allowed(rc,
                    {ASGICORE_OK, ASGICORE_PENDING, ASGICORE_ERR_STATE,
                     ASGICORE_ERR_DISCONNECTED},
                    "feed_raw");
            break;
        }
        case 11:
            rc = asgicore_scope_disconnect(h.scope, 1 + byte() % 8, h.now);
            allowed(rc, {ASGICORE_OK}, "disconnect");
            break;
        case 12:
            if (byte() % 4 == 0) {
                // W15: the host stopping, in any state
                rc = asgicore_scope_going_away(h.scope, h.now);
                allowed(rc,
                        {ASGICORE_OK, ASGICORE_ERR_STATE,
                         ASGICORE_ERR_DISCONNECTED},
                        "going_away");
                break;
            }
            rc = asgicore_scope_write_ready(h.scope);
            allowed(rc, {ASGICORE_OK}, "write_ready");
            break;
        case 13: {
            unsigned w = byte() % 4;
            h.write_result = w < 2    ? ASGICORE_OK
                             : w == 2 ? ASGICORE_PENDING
                                      : -1;
            break;
        }
        case 14:
            if (byte() % 4 == 0) {
                h.released = true;
                rc = asgicore_scope_release(h.scope, h.now);
                allowed(rc, {ASGICORE_OK}, "release");
            }
            break;
        default: {
            unsigned t = byte();
            if (t == 255)
                h.now -= 1000;  // time going backwards
            else
                advance(h, t % 2 ? t : asgicore_time(t % 5) * 1'000'000'000);
            break;
        }
        }
        settle(h);
        if (trace)
            std::fprintf(stderr,
                         "op %u: started %d finished %d released %d dones %d "
                         "cancels %d wire %zu\n",
                         op, h.started, h.finished, h.released, h.dones,
                         h.cancels, h.wire.size());
    }

    // The end: the host lets go, time passes; an app still running hears
    // that the connection ended.
    if (!h.released) {
        h.released = true;
        asgicore_scope_release(h.scope, h.now);
    }
    settle(h);
    for (int i = 0; i < 3; i++) {
        advance(h, 100'000'000'000ull);
        settle(h);
    }
    if (!h.finished && h.started) {
        // W6: what arrived comes first (at most what the input could hold)
        bool told = false;
        for (size_t i = 0; i < 4 * size + 10 && !told; i++) {
            int rc =
                asgicore_receive_versioned(h.scope, ASGICORE_EVENT_V2, &ev);
            check(rc == ASGICORE_OK, "after the release the app's receive "
                                     "waits for ever");
            told = ev.type == ASGICORE_EVENT_WEBSOCKET_DISCONNECT ||
                   ev.type == ASGICORE_EVENT_HTTP_DISCONNECT;
            check(told || ev.type == ASGICORE_EVENT_WEBSOCKET_RECEIVE ||
                      (i == 0 && ev.type == ASGICORE_EVENT_WEBSOCKET_CONNECT),
                  "an event that is neither a message nor the end", ev.type);
        }
        check(told, "after the release the app is never told");
        h.finished = true;
        asgicore_finish(h.scope, 0, nullptr);
        settle(h);
    }
    advance(h, 100'000'000'000ull);
    settle(h);
    check_wire(h.wire);
    asgicore_counters c;
    asgicore_ctx_counters(h.ctx, &c);
    check(c.live == 0, "live scopes left");
    check(c.running_apps == 0, "running apps left");
    check(c.opened == c.completed + c.disconnected + c.cancelled + c.app_errors,
          "the outcome counters do not add up");
    asgicore_ctx_free(h.ctx);
    return 0;
}
