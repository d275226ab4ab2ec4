// The program interpreter of t/fuzz (see program.hpp). One byte picks an
// operation, the next ones its arguments; the host and the app keep to
// the ABI's contract (no host call after release, no app call with a
// finished handle it does not hold), and every callback checks what the
// library promises.
#include "program.hpp"

#include "asgicore.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <strings.h>
#include <initializer_list>
#include <memory>

namespace fuzz {

thread_local int in_library = 0;
NomemHook on_nomem = nullptr;

namespace {

// What include/asgicore.h says each function returns (tools/api-doc).
struct Documented {
    const char *function;
    bool any_non_negative;
    std::initializer_list<int> codes;
};
const Documented kDocumented[] = {
#include "documented_codes.inc"
};

bool documented(const char *function, int rc)
{
    for (const Documented &d : kDocumented) {
        if (std::strcmp(d.function, function) != 0)
            continue;
        if (d.any_non_negative && rc >= 0)
            return true;
        for (int code : d.codes)
            if (code == rc)
                return true;
        return false;
    }
    return false;  // a function the header does not document
}

constexpr int kSlots = 4;
constexpr uint64_t kMs = 1000000ull;

// Library calls are counted; the program's own code (callbacks included)
// is not.
struct InLibrary {
    InLibrary() { in_library++; }
    ~InLibrary() { in_library--; }
};
struct OutOfLibrary {
    int saved;
    OutOfLibrary()
        : saved(in_library)
    {
        in_library = 0;
    }
    ~OutOfLibrary() { in_library = saved; }
};

struct Req {
    asgicore_scope *scope = nullptr;
    unsigned flags = 0;  // ASGICORE_SCOPE_*
    bool open = false;   // the host holds it
    bool released = false;
    bool gone = false;
    int write_result = ASGICORE_OK;
    bool head = false;
    bool last = false;
    bool blocked = false;  // a write answered PENDING, no write_ready yet
    int done = 0;
    // the request body the library took (feed_body OK or PENDING)
    size_t fed = 0;
    bool fed_last = false;
    bool paused = false;  // feed_body answered PENDING, no resume yet
    // the client left (disconnect, a failed write, a release); visible:
    // the app is told (not an abort hidden by IGNORE_CLIENT_ABORT, L3)
    bool left = false;
    bool reported_left = false;  // by a disconnect or a failed write
    bool left_visible = false;
    bool left_while_running = false;  // before the app finished, undrained
    // it left with all the response promised (its content-length, or the
    // head of one without a body), the app's last message not yet taken:
    // no abort (docs/lifecycle.md, rule 7)
    bool left_whole = false;
    bool app_trailers = false;  // the app's start announced trailers
    bool app_running = false;
    bool cancel_delivered = false;
    bool response_sent = false;  // the app's last message was taken
    bool head_request = false;   // HEAD: no body on the wire
    bool can_trailers = true;    // ASGICORE_CAP_TRAILERS was offered
    int status = 0;              // of the head written
    long long declared = -1;     // its content-length, -1 if none
    size_t body_written = 0;
    // G1-G3: the app must be cancelled at (never before) cancel_at
    uint64_t grace_ns = 0;
    bool cancel_due = false;
    bool cancel_time_exact = false;  // not so for a bare failed write
    uint64_t cancel_at = 0;
};

struct Owned {
    asgicore_scope *scope;
    Req *req;
    bool finished = false;
    int holds = 0;
    bool cancelled = false;
    // the request body as the app received it
    size_t got = 0;
    bool got_last = false;
    bool receive_waiting = false;  // receive answered PENDING
    bool send_waiting = false;     // a send answered PENDING
    // it sent again before its SEND_READY (the contract says not to): a
    // SEND_READY already queued may then answer both
    bool sent_early = false;
    bool trailers = false;         // the start announced trailers
    bool response_sent = false;    // its last message was taken
    bool response_failed = false;  // an app error ended it
};

// The byte at offset i of every request body the program feeds: the app
// must receive the same bytes in the same order, merged or not.
uint8_t body_byte(size_t i)
{
    return static_cast<uint8_t>(i * 7 + 3);
}

const asgicore_header kHeaders[] = {
    {{"content-type", 12}, {"text/plain", 10}},
    {{"content-length", 14}, {"5", 1}},
    {{"content-length", 14}, {"0", 1}},
    {{"Content-Length", 14}, {"5, 5", 4}},
    {{"content-length", 14}, {"6", 1}},
    {{"content-length", 14}, {"x", 1}},
    {{"x-a", 3}, {"a\tb", 3}},
    {{"x-bad", 5}, {"a\r\nb", 4}},
    {{"x-ctl", 5}, {"a\x01", 2}},
    {{"bad name", 8}, {"v", 1}},
    {{"", 0}, {"v", 1}},
    {{"server", 6}, {"app", 3}},
};
constexpr size_t kHeaderKinds = sizeof kHeaders / sizeof kHeaders[0];

const int kStatuses[] = {200, 204, 205, 304,  100, 101, 103,
                         404, 500, 999, 1000, 0,   199, 201};

const char kPaths[][8] = {"/",    "/x/\xff",  "/caf\xc3\xa9", "/\xed\xa0\x80",
                          "/a?b", "/\xf0\x9f"};

// A content-length value: one number or a list of the same number ("5, 5");
// -1 for anything else.
long long content_length_value(const asgicore_str &value)
{
    std::string v(value.data ? value.data : "", value.len);
    long long found = -1;
    size_t pos = 0;
    while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        std::string item =
            v.substr(pos, comma == v.npos ? v.npos : comma - pos);
        size_t a = item.find_first_not_of(" \t"),
               b = item.find_last_not_of(" \t");
        if (a == item.npos)
            return -1;
        item = item.substr(a, b - a + 1);
        if (item.size() > 18 ||
            item.find_first_not_of("0123456789") != item.npos)
            return -1;
        long long n = std::stoll(item);
        if (found >= 0 && n != found)
            return -1;
        found = n;
        if (comma == v.npos)
            break;
        pos = comma + 1;
    }
    return found;
}

class Runner {
public:
    Runner(const uint8_t *data, size_t size)
        : p_(data)
        , end_(data + size)
    {
    }
    ~Runner();
    Outcome go();

private:
    // program bytes
    uint8_t next()
    {
        if (p_ == end_) {
            exhausted_ = true;
            return 0;
        }
        return *p_++;
    }
    void check(bool ok, const char *what)
    {
        if (!ok && out_.violation.empty()) {
            out_.violation = what;
            if (trace_)
                std::fprintf(stderr, "  BROKEN: %s\n", what);
        }
    }
    // Every call goes through here: its result must be one that
    // include/asgicore.h documents for the function.
    template <class F>
    int call(const char *function, F f)
    {
        int rc;
        {
            InLibrary in;
            rc = f();
        }
        if (rc == ASGICORE_ERR_NOMEM)
            nomem_seen_ = true;
        if (rc == ASGICORE_ERR_NOMEM && on_nomem && on_nomem()) {
            InLibrary in;
            rc = f();
        }
        if (trace_)
            std::fprintf(stderr, "  %s -> %d\n", function, rc);
        check(documented(function, rc),
              "a result the header does not document for the function");
        out_.results.push_back(rc);
        return rc;
    }

    void step(uint8_t op);
    // A host callback may make app-side calls (asgicore.h): as an app's
    // thread calls while the host writes. A byte of 0xe0 or more where a
    // callback begins is one of the app's operations; others are left for
    // the next step. Never nested.
    void app_call_while_writing()
    {
        if (calling_while_writing_ || p_ == end_ || *p_ < 0xe0)
            return;
        uint8_t op = next();
        calling_while_writing_ = true;
        step(9 + op % 8);  // receive, send_*, finish, hold, drop, log
        calling_while_writing_ = false;
    }
    void open_scope();
    Req *slot_req();
    Owned *pick_owned();
    void forget_if_done(Owned *o);
    void settle();
    void check_liveness();
    void client_leaves(Req *r, bool write_error = false);
    void check_receive(Owned *o, int rc, const asgicore_event &ev);
    void check_send(Owned *o, int rc, bool ends, bool start_with_trailers);
    void finish_up();

    // callbacks
    static int cb_head(void *u, asgicore_scope *s, void *hd, int status,
                       const asgicore_header *h, size_t n, int tr);
    static int cb_body(void *u, asgicore_scope *s, void *hd, const void *d,
                       size_t len, int last);
    static int cb_trailers(void *u, asgicore_scope *s, void *hd,
                           const asgicore_header *h, size_t n, int last);
    static void cb_resume(void *u, asgicore_scope *s, void *hd);
    static void cb_done(void *u, asgicore_scope *s, void *hd, int outcome,
                        int complete);
    static void cb_set_timer(void *u, asgicore_time deadline);
    static void cb_wake(void *u);
    static void cb_log(void *u, int level, void *hd, const char *msg);
    static void cb_gone(void *u, void *hd);
    static void app_start(void *u, asgicore_scope *s);
    static void app_notify(void *u, asgicore_scope *s, int event, int st);
    static void app_wake(void *u);
    int write(Req *r, const char *what);

    const uint8_t *p_, *end_;
    bool exhausted_ = false;
    // FUZZ_TRACE=1: every step and call on stderr (replaying a crash)
    bool trace_ = std::getenv("FUZZ_TRACE") != nullptr;
    Outcome out_;
    asgicore_ctx *ctx_ = nullptr;
    asgicore_app *apps_[2] = {};  // inline, threaded
    uint64_t now_ = 1000 * 1000 * kMs;
    uint64_t timer_ = ASGICORE_TIME_NEVER;
    bool host_woken_ = false;
    bool app_woken_ = false;
    bool batching_ = false;
    bool calling_while_writing_ = false;
    Req *feeding_ = nullptr;  // inside its asgicore_scope_feed_body
    size_t feeding_fed_ = 0;  // its body before that call
    bool feeding_last_ = false;
    // what the receives inside that call saw: the body only as it was
    // before the call (the feed refused), only as after it (taken)
    bool feeding_saw_before_ = false;
    bool feeding_saw_after_ = false;
    // every request ever opened: host_data stays valid until the end
    std::vector<std::unique_ptr<Req>> reqs_;
    Req *slots_[kSlots] = {};
    std::vector<Owned> owned_;
    Req *opening_ = nullptr;  // inside asgicore_scope_open
    uint64_t default_grace_ = 0;
    bool nomem_seen_ = false;  // a 500 may be lost then (asgicore.h)
    uint8_t body_[256];
};

Runner *runner_of(void *u)
{
    return static_cast<Runner *>(u);
}

Runner::~Runner()
{
    if (ctx_) {
        InLibrary in;
        asgicore_ctx_free(ctx_);
    }
}

int Runner::write(Req *r, const char *what)
{
    check(r->open && !r->released, what);
    check(!r->last, "a write after the response's last message");
    check(r->done == 0, "a write after done");
    check(!r->blocked, "a write while the host is backlogged");
    if (r->write_result == ASGICORE_PENDING) {
        r->blocked = true;
    } else if (r->write_result < 0) {
        // a bare failed write is a disconnect at the library's latest
        // time, which may be before the program's now
        bool first = !r->left;
        r->reported_left = true;
        client_leaves(r, true);
        if (first)
            r->cancel_time_exact = false;
    }
    return r->write_result;
}

void Runner::client_leaves(Req *r, bool write_error)
{
    if (r->left)
        return;  // only the first report counts (G6)
    r->left = true;
    r->cancel_time_exact = true;
    r->left_visible =
        !((r->flags & ASGICORE_SCOPE_IGNORE_CLIENT_ABORT) && r->fed_last);
    bool bodiless = r->head_request || r->status == 204 || r->status == 205 ||
                    r->status == 304;
    r->left_whole =
        !write_error && r->head && !r->last && !r->blocked &&
        !r->response_sent && !r->app_trailers &&
        (bodiless || (r->declared >= 0 &&
                      r->body_written == (unsigned long long)r->declared));
    r->left_while_running = r->app_running && r->left_visible &&
                            !(r->last && !r->blocked) && !r->left_whole;
    r->cancel_due = r->app_running && r->left_visible && !r->response_sent &&
                    !r->left_whole;
    r->cancel_at = now_ + r->grace_ns;
}

int Runner::cb_head(void *u, asgicore_scope *, void *hd, int status,
                    const asgicore_header *h, size_t n, int has_trailers)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    Req *r = static_cast<Req *>(hd);
    self->check(!r->head, "two heads for one response");
    self->check(r->can_trailers || !has_trailers,
                "trailers announced to a host that cannot write them");
    self->check(status >= 200 && status <= 999, "a head with a bad status");
    r->head = true;
    r->status = status;
    for (size_t i = 0; i < n; i++)
        if (h[i].name.len == 14 &&
            strncasecmp(h[i].name.data, "content-length", 14) == 0) {
            // S6: what passes is one number, or a list of the same one
            long long v = content_length_value(h[i].value);
            self->check(v >= 0 && r->declared < 0,
                        "a content-length written that is not one number");
            if (v >= 0)
                r->declared = v;
        }

    self->app_call_while_writing();
    return self->write(r, "send_head for a released scope");
}

int Runner::cb_body(void *u, asgicore_scope *, void *hd, const void *,
                    size_t len, int last)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    Req *r = static_cast<Req *>(hd);
    self->check(r->head, "body before the head");
    self->app_call_while_writing();
    int rc = self->write(r, "send_body for a released scope");
    r->last = r->last || last;
    // S6, S7: what the head declared is what the wire carries
    bool bodiless = r->head_request || r->status == 204 || r->status == 205 ||
                    r->status == 304;
    r->body_written += len;
    self->check(!bodiless || r->body_written == 0,
                "body bytes for a response that has none");
    if (r->declared >= 0 && !bodiless) {
        self->check(r->body_written <= (unsigned long long)r->declared,
                    "body bytes beyond the content-length");
        self->check(!last || r->body_written == (unsigned long long)r->declared,
                    "a body short of its content-length passed as complete");
    }
    return rc;
}

int Runner::cb_trailers(void *u, asgicore_scope *, void *hd,
                        const asgicore_header *, size_t, int last)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    Req *r = static_cast<Req *>(hd);
    self->check(r->head, "trailers before the head");
    self->check(r->can_trailers,
                "send_trailers for a host that cannot write them");
    self->app_call_while_writing();
    int rc = self->write(r, "send_trailers for a released scope");
    r->last = r->last || last;
    return rc;
}

void Runner::cb_resume(void *u, asgicore_scope *, void *hd)
{
    OutOfLibrary out;
    Req *r = static_cast<Req *>(hd);
    runner_of(u)->check(r->open && !r->released,
                        "resume_body for a released scope");
    r->paused = false;
}

void Runner::cb_done(void *u, asgicore_scope *, void *hd, int outcome,
                     int complete)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    Req *r = static_cast<Req *>(hd);
    self->check(r->open && !r->released, "done for a released scope");
    self->check(r->done == 0, "done twice");
    self->check(outcome >= ASGICORE_OUTCOME_COMPLETE &&
                    outcome <= ASGICORE_OUTCOME_APP_ERROR,
                "done without an outcome");
    // S8: complete only once the host took the last message and drained
    self->check(!complete || (r->last && !r->blocked && !r->left) ||
                    r->left_whole,
                "done says complete before the host drained the response");
    // docs/lifecycle.md: cancelled > client_disconnected > app_error
    if (r->cancel_delivered)
        self->check(outcome == ASGICORE_OUTCOME_CANCELLED,
                    "the app was cancelled, the outcome is not cancelled");
    else if (outcome != ASGICORE_OUTCOME_CANCELLED && r->left_while_running)
        self->check(outcome == ASGICORE_OUTCOME_CLIENT_DISCONNECTED,
                    "the client left while the app ran, but the outcome "
                    "is not client_disconnected");
    // B2: an app error while the client is there still answers (a 500
    // if the app had written nothing)
    if (outcome == ASGICORE_OUTCOME_APP_ERROR && !r->left && !self->nomem_seen_)
        self->check(r->head, "an app error left the client without a head");
    r->done++;
}

void Runner::cb_set_timer(void *u, asgicore_time deadline)
{
    runner_of(u)->timer_ = deadline;
}

void Runner::cb_wake(void *u)
{
    runner_of(u)->host_woken_ = true;
}

void Runner::cb_log(void *u, int level, void *hd, const char *msg)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    self->check(level >= ASGICORE_LOG_ERROR && level <= ASGICORE_LOG_DEBUG,
                "a log line with a bad level");
    self->check(msg != nullptr, "a log line without text");
    if (hd)
        self->check(!static_cast<Req *>(hd)->gone,
                    "host_data passed after scope_gone");
}

void Runner::cb_gone(void *u, void *hd)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    Req *r = static_cast<Req *>(hd);
    self->check(r->released, "scope_gone before the release");
    self->check(!r->gone, "scope_gone twice");
    r->gone = true;
}

void Runner::app_start(void *u, asgicore_scope *s)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    for (Owned &o : self->owned_)
        self->check(o.scope != s || o.finished, "a scope started twice");
    // the request: the one being opened (an inline start), else the
    // newest with this handle (an address may be reused after a free)
    Req *r = self->opening_;
    for (auto it = self->reqs_.rbegin(); !r && it != self->reqs_.rend(); ++it)
        if ((*it)->scope == s)
            r = it->get();
    self->check(r != nullptr, "a start for a scope nobody opened");
    if (!r)
        return;
    self->check(!r->left || !r->left_visible,
                "an app started after its client left (L2)");
    r->app_running = true;
    self->owned_.push_back(Owned{s, r});
}

void Runner::app_notify(void *u, asgicore_scope *s, int event, int st)
{
    OutOfLibrary out;
    Runner *self = runner_of(u);
    if (self->trace_)
        std::fprintf(stderr, "  notify %p: event %d status %d\n",
                     static_cast<void *>(s), event, st);
    Owned *o = nullptr;
    for (Owned &e : self->owned_)
        if (e.scope == s && !e.finished)
            o = &e;
    self->check(o != nullptr, "a notification for a scope the app does "
                              "not own");
    if (!o)
        return;
    if (event == ASGICORE_NOTIFY_CANCEL) {
        self->check(!o->cancelled, "cancelled twice");
        const Req *r = o->req;
        self->check(r->left, "cancelled, but the client did not leave");
        self->check(!r->cancel_time_exact || self->now_ >= r->cancel_at,
                    "cancelled before the grace period ended (G2)");
        o->cancelled = true;
        o->req->cancel_delivered = true;
    } else if (event == ASGICORE_NOTIFY_SEND_READY) {
        self->check(st == ASGICORE_OK || st == ASGICORE_ERR_DISCONNECTED,
                    "SEND_READY with a bad status");
        self->check(o->send_waiting || o->sent_early,
                    "SEND_READY without a pending send");
        o->send_waiting = false;
    } else {
        self->check(event == ASGICORE_NOTIFY_RECEIVE_READY,
                    "an unknown notification");
        o->receive_waiting = false;
    }
}

void Runner::app_wake(void *u)
{
    runner_of(u)->app_woken_ = true;
}

Req *Runner::slot_req()
{
    Req *r = slots_[next() % kSlots];
    return r && r->open ? r : nullptr;
}

// A scope the app may still call with: owned, or finished but held.
Owned *Runner::pick_owned()
{
    if (owned_.empty())
        return nullptr;
    Owned *o = &owned_[next() % owned_.size()];
    return !o->finished || o->holds ? o : nullptr;
}

void Runner::forget_if_done(Owned *o)
{
    if (o->finished)
        o->req->app_running = false;
    if (o->finished && o->holds == 0) {
        // the handle is invalid for the app from here on
        *o = owned_.back();
        owned_.pop_back();
    }
}

void Runner::open_scope()
{
    int slot = next() % kSlots;
    uint8_t flags = next();
    if (slots_[slot] && slots_[slot]->open)
        return;
    static const asgicore_header req_headers[] = {
        {{"host", 4}, {"x", 1}}, {{"expect", 6}, {"100-continue", 12}}};
    const char *path = kPaths[next() % (sizeof kPaths / sizeof kPaths[0])];
    asgicore_scope_info info;
    std::memset(&info, 0, sizeof info);
    info.method =
        (flags & 0x10) ? asgicore_str{"HEAD", 4} : asgicore_str{"GET", 3};
    bool head_request = flags & 0x10;
    info.scheme = {"http", 4};
    info.http_version = {"1.1", 3};
    info.path = {path, std::strlen(path)};
    info.raw_path = info.path;
    info.headers = req_headers;
    info.header_count = 2;
    info.client = {{"127.0.0.1", 9}, 5000};
    static const int64_t graces[] = {-1, 0, 100 * (int64_t)kMs,
                                     1000 * (int64_t)kMs};
    info.grace_period_ns = graces[flags >> 6];
    info.flags = flags & 0x7;
    info.capabilities = (flags & 0x20) ? 0 : ASGICORE_CAP_TRAILERS;
    auto req = std::make_unique<Req>();
    Req *r = req.get();
    r->can_trailers = info.capabilities & ASGICORE_CAP_TRAILERS;
    reqs_.push_back(std::move(req));
    r->open = true;  // callbacks may come from inside the open
    r->flags = info.flags;
    r->head_request = head_request;
    r->grace_ns = info.grace_period_ns < 0
                      ? default_grace_
                      : static_cast<uint64_t>(info.grace_period_ns);
    if (info.flags & ASGICORE_SCOPE_CLIENT_GONE)
        r->left = true;  // never started: nothing for an app to see
    asgicore_app *app = apps_[(flags >> 3) & 1];
    opening_ = r;
    int rc = call("asgicore_scope_open_versioned", [&] {
        return asgicore_scope_open(ctx_, app, &info, r, &r->scope);
    });
    opening_ = nullptr;
    if (rc != ASGICORE_OK) {
        r->open = false;
        r->released = true;
        r->gone = true;  // never a scope: nothing more comes for it
        return;
    }
    slots_[slot] = r;
}

void Runner::step(uint8_t op)
{
    Req *r;
    Owned *o;
    switch (op % 20) {
    case 0: open_scope(); break;
    case 1: {
        size_t len = next() % sizeof body_;
        int more = next() & 1;
        if ((r = slot_req())) {
            for (size_t i = 0; i < len; i++)
                body_[i] = body_byte(r->fed + i);
            // the body so far, before the call: an inline app may
            // receive it from inside
            size_t fed_before = r->fed;
            bool last_before = r->fed_last;
            if (!r->fed_last && !r->left) {
                r->fed += len;
                r->fed_last = !more;
            }
            feeding_ = r;
            feeding_fed_ = fed_before;
            feeding_last_ = last_before;
            feeding_saw_before_ = feeding_saw_after_ = false;
            int rc = call("asgicore_scope_feed_body", [&] {
                return asgicore_scope_feed_body(r->scope, body_, len, more);
            });
            feeding_ = nullptr;
            if (rc == ASGICORE_PENDING)
                r->paused = true;
            bool taken = rc == ASGICORE_OK || rc == ASGICORE_PENDING;
            // the library takes the bytes before it runs any callback
            check(!(taken && feeding_saw_before_),
                  "a receive inside a feed that took the body missed it");
            check(taken || !feeding_saw_after_,
                  "a receive inside a refused feed got its body");
            if (!taken) {
                r->fed = fed_before;  // not taken
                r->fed_last = last_before;
            }
        }
        break;
    }
    case 2: {
        int reason = next() % 10;
        if ((r = slot_req())) {
            bool valid = reason >= ASGICORE_DISCONNECT_CLOSED &&
                         reason <= ASGICORE_DISCONNECT_SERVER;
            if (valid) {
                r->reported_left = r->reported_left || r->open;
                client_leaves(r, reason == ASGICORE_DISCONNECT_WRITE_ERROR);
            }
            call("asgicore_scope_disconnect", [&] {
                return asgicore_scope_disconnect(r->scope, reason, now_);
            });
        }
        break;
    }
    case 3:
        if ((r = slot_req())) {
            r->write_result = ASGICORE_OK;
            r->blocked = false;
            call("asgicore_scope_write_ready",
                 [&] { return asgicore_scope_write_ready(r->scope); });
        }
        break;
    case 4: {
        static const int modes[] = {ASGICORE_OK, ASGICORE_PENDING, -1};
        int mode = modes[next() % 3];
        if ((r = slot_req()))
            r->write_result = mode;
        break;
    }
    case 5:
        now_ += (next() % 64) * 50 * kMs;
        if (timer_ != ASGICORE_TIME_NEVER && timer_ <= now_) {
            timer_ = ASGICORE_TIME_NEVER;
            int rc = call("asgicore_ctx_handle_expiry", [&] {
                return asgicore_ctx_handle_expiry(ctx_, now_);
            });
            // every deadline up to now fired; the next one is later
            check(rc != ASGICORE_OK || timer_ == ASGICORE_TIME_NEVER ||
                      timer_ > now_,
                  "a deadline at or before now survived handle_expiry");
        }
        break;
    case 6:
        if (host_woken_) {
            host_woken_ = false;
            call("asgicore_ctx_process",
                 [&] { return asgicore_ctx_process(ctx_); });
        }
        break;
    case 7:
        if ((r = slot_req())) {
            client_leaves(r);
            r->open = false;
            r->released = true;
            call("asgicore_scope_release",
                 [&] { return asgicore_scope_release(r->scope, now_); });
        }
        break;
    case 8:
        if (app_woken_) {
            app_woken_ = false;
            call("asgicore_app_dispatch",
                 [&] { return asgicore_app_dispatch(apps_[1]); });
        }
        break;
    case 9:
        if ((o = pick_owned())) {
            asgicore_event ev;
            int rc = call("asgicore_receive",
                          [&] { return asgicore_receive(o->scope, &ev); });
            check_receive(o, rc, ev);
        }
        break;
    case 10: {
        int status = kStatuses[next() % (sizeof kStatuses / sizeof(int))];
        uint8_t pick = next();
        size_t first = (pick & 0x0f) % kHeaderKinds, count = (pick >> 4) % 3;
        if (first + count > kHeaderKinds)
            count = kHeaderKinds - first;
        int trailers = next() & 1;
        if ((o = pick_owned())) {
            int rc = call("asgicore_send_start", [&] {
                return asgicore_send_start(o->scope, status, &kHeaders[first],
                                           count, trailers);
            });
            check_send(o, rc, false, trailers);
        }
        break;
    }
    case 11: {
        size_t len = next() % 8;
        int more = next() & 1;
        if ((o = pick_owned())) {
            int rc = call("asgicore_send_body", [&] {
                return asgicore_send_body(o->scope, body_, len, more);
            });
            check_send(o, rc, !more && !o->trailers, false);
        }
        break;
    }
    case 12: {
        int more = next() & 1;
        size_t h = next() % kHeaderKinds;
        if ((o = pick_owned())) {
            int rc = call("asgicore_send_trailers", [&] {
                return asgicore_send_trailers(o->scope, &kHeaders[h], 1, more);
            });
            check_send(o, rc, !more, false);
        }
        break;
    }
    case 13: {
        int failed = next() & 1;
        if ((o = pick_owned()) && !o->finished) {
            if (failed && !o->response_sent)
                o->response_failed = true;  // the response ends at once
            int rc = call("asgicore_finish", [&] {
                return asgicore_finish(o->scope, failed,
                                       failed ? "Traceback: boom" : nullptr);
            });
            if (rc == ASGICORE_OK) {
                o->finished = true;
                forget_if_done(o);
            }
        }
        break;
    }
    case 14:
        if ((o = pick_owned()) && call("asgicore_scope_hold", [&] {
                                      return asgicore_scope_hold(o->scope);
                                  }) == ASGICORE_OK)
            o->holds++;
        break;
    case 15:
        if ((o = pick_owned()) && o->holds &&
            call("asgicore_scope_drop", [&] {
                return asgicore_scope_drop(o->scope);
            }) == ASGICORE_OK) {
            o->holds--;
            forget_if_done(o);
        }
        break;
    case 16: {
        int level = next() % 6;
        bool with_scope = next() & 1;
        asgicore_app *app = apps_[next() & 1];
        o = pick_owned();
        asgicore_scope *s = with_scope && o ? o->scope : nullptr;
        call("asgicore_app_log",
             [&] { return asgicore_app_log(app, s, level, "a line"); });
        break;
    }
    case 17: {
        int state = next() % 4;
        call("asgicore_app_set_state",
             [&] { return asgicore_app_set_state(apps_[0], state, "why"); });
        break;
    }
    case 18:
        batching_ = !batching_;
        call("asgicore_app_batch",
             [&] { return asgicore_app_batch(apps_[1], batching_); });
        break;
    case 19:
        settle();
        check_liveness();
        break;
    default: break;
    }
}

// R5-R8 and L6: what a receive may answer, from what the host fed, what
// the app already got, whether the client left and the response ended.
void Runner::check_receive(Owned *o, int rc, const asgicore_event &ev)
{
    Req *r = o->req;
    bool ended = o->response_sent;
    bool told_gone = r->left && r->left_visible;
    if (trace_)
        std::fprintf(stderr,
                     "  receive on %p: flags %u fed %zu%s got %zu%s left %d "
                     "visible %d sent %d\n",
                     static_cast<void *>(o->scope), r->flags, r->fed,
                     r->fed_last ? " (last)" : "", o->got,
                     o->got_last ? " (last)" : "", r->left, r->left_visible,
                     o->response_sent);
    if (o->finished) {
        check(rc == ASGICORE_ERR_FINISHED,
              "a receive after finish was not refused (L6)");
        return;
    }
    if (rc == ASGICORE_PENDING) {
        // (inside a feed, from a callback: the bytes being fed may or may
        // not be taken yet, what was fed before must be)
        bool all = o->got == r->fed && !(r->fed_last && !o->got_last);
        bool before = r == feeding_ && o->got == feeding_fed_ &&
                      !(feeding_last_ && !o->got_last);
        check(all || before, "a receive waits although body is there");
        check(!told_gone, "a receive waits although the client left");
        check(!ended, "a receive waits although the response is complete");
        o->receive_waiting = true;
        return;
    }
    if (rc != ASGICORE_OK)
        return;
    if (ev.type == ASGICORE_EVENT_HTTP_DISCONNECT) {
        check(r->left || ended || o->response_failed,
              "http.disconnect while the client is there and the response "
              "is not complete");
        return;
    }
    check(ev.type == ASGICORE_EVENT_HTTP_REQUEST, "an unknown event");
    if (trace_)
        std::fprintf(stderr, "  http.request: %zu bytes, more_body %d\n",
                     ev.body_len, ev.more_body);
    check(!o->got_last, "http.request after the last body message");
    check(o->got + ev.body_len <= r->fed, "more body than the host fed");
    check(ev.body_len == 0 || ev.body != nullptr, "body bytes without data");
    const uint8_t *b = static_cast<const uint8_t *>(ev.body);
    for (size_t i = 0; i < ev.body_len && b; i++)
        if (b[i] != body_byte(o->got + i)) {
            check(false, "the body's bytes out of order or changed");
            break;
        }
    o->got += ev.body_len;
    bool all = r->fed_last && o->got == r->fed;
    if (r == feeding_) {
        // the feed may yet be refused (paused, no memory): the app may
        // see the body as it was before the call; which, the call's
        // result decides
        bool after = o->got <= r->fed && !ev.more_body == all;
        bool before =
            o->got <= feeding_fed_ &&
            !ev.more_body == (feeding_last_ && o->got == feeding_fed_);
        check(after || before, "more_body wrong on a body message");
        feeding_saw_before_ |= before && !after;
        feeding_saw_after_ |= after && !before;
    } else {
        check(!ev.more_body == all, "more_body wrong on a body message");
    }
    o->got_last = !ev.more_body;
}

// Every send after finish is refused (L6); PENDING promises SEND_READY.
void Runner::check_send(Owned *o, int rc, bool ends, bool start_with_trailers)
{
    if (o->finished) {
        check(rc == ASGICORE_ERR_FINISHED || rc == ASGICORE_ERR_DISCONNECTED,
              "a send after finish was not refused (L6)");
        return;
    }
    if (trace_)
        std::fprintf(stderr, "  send on %p -> %d\n",
                     static_cast<void *>(o->scope), rc);
    if (o->send_waiting)
        o->sent_early = true;
    if (rc == ASGICORE_PENDING)
        o->send_waiting = true;
    if (rc == ASGICORE_OK || rc == ASGICORE_PENDING) {
        if (start_with_trailers)
            o->trailers = o->req->app_trailers = true;
        if (ends) {
            o->response_sent = true;
            o->req->response_sent = true;
        }
    } else if (rc == ASGICORE_ERR_PROTOCOL || rc == ASGICORE_ERR_BAD_HEADER ||
               rc == ASGICORE_ERR_INVALID) {
        o->response_failed = true;  // an app error ends the response
    }
}

// After everything woken ran: no app call waits for a notification that
// nothing can bring any more, and no paused host waits for an app that
// took everything.
void Runner::check_liveness()
{
    if (batching_)
        return;  // the app's calls do not wake the host yet
    if (timer_ != ASGICORE_TIME_NEVER && timer_ <= now_) {
        timer_ = ASGICORE_TIME_NEVER;  // the host's timer fires
        call("asgicore_ctx_handle_expiry",
             [&] { return asgicore_ctx_handle_expiry(ctx_, now_); });
        settle();
    }
    for (const Owned &o : owned_) {
        if (o.finished)
            continue;
        const Req *r = o.req;
        bool host_holds_up = r->blocked && r->open && !r->left;
        check(!o.send_waiting || host_holds_up,
              "a PENDING send never got SEND_READY (S5, S8)");
        bool readable = o.got < r->fed || (r->fed_last && !o.got_last) ||
                        (r->left && r->left_visible) || o.response_sent;
        check(!o.receive_waiting || !readable,
              "a waiting receive was never woken (R6, R7)");
        check(!r->paused || !r->open || r->left || o.got < r->fed,
              "the host was never resumed after the app read the body");
        check(!r->cancel_due || now_ < r->cancel_at || o.cancelled,
              "not cancelled when its grace period ended (G2, G3)");
    }
}

// Runs what the host and the app were woken for, until nothing is left.
void Runner::settle()
{
    for (int i = 0; i < 1000 && (host_woken_ || app_woken_); i++) {
        if (host_woken_) {
            host_woken_ = false;
            call("asgicore_ctx_process",
                 [&] { return asgicore_ctx_process(ctx_); });
        }
        if (app_woken_) {
            app_woken_ = false;
            call("asgicore_app_dispatch",
                 [&] { return asgicore_app_dispatch(apps_[1]); });
        }
    }
}

// The end of every program: the host releases what it holds, the app
// finishes and drops everything; then the books must balance.
void Runner::finish_up()
{
    if (batching_) {
        batching_ = false;
        call("asgicore_app_batch",
             [&] { return asgicore_app_batch(apps_[1], 0); });
    }
    for (Req *r : slots_)
        if (r && r->open) {
            client_leaves(r);
            r->open = false;
            r->released = true;
            call("asgicore_scope_release",
                 [&] { return asgicore_scope_release(r->scope, now_); });
        }
    settle();
    // grace periods end: every cancel is delivered
    now_ += 10000 * kMs;
    call("asgicore_ctx_handle_expiry",
         [&] { return asgicore_ctx_handle_expiry(ctx_, now_); });
    settle();
    while (!owned_.empty()) {
        Owned o = owned_.back();
        owned_.pop_back();
        if (!o.finished) {
            int rc = call("asgicore_finish",
                          [&] { return asgicore_finish(o.scope, 0, nullptr); });
            check(rc == ASGICORE_OK, "the app could not finish a scope it "
                                     "owned");
        }
        for (; o.holds > 0; o.holds--)
            call("asgicore_scope_drop",
                 [&] { return asgicore_scope_drop(o.scope); });
    }
    settle();
    asgicore_counters c;
    call("asgicore_ctx_counters_versioned",
         [&] { return asgicore_ctx_counters(ctx_, &c); });
    check(c.live == 0, "live scopes left");
    check(c.running_apps == 0, "running apps left");
    check(c.opened == c.completed + c.disconnected + c.cancelled + c.app_errors,
          "the outcome counters do not add up to opened");
    // each scope's departure counted once: every one the host reported,
    // and at most one per scope (a release while the app runs is one too)
    uint64_t departures = 0, reported = 0, left = 0;
    for (int reason = 1; reason < ASGICORE_DISCONNECT_REASONS; reason++)
        departures += c.disconnects[reason];
    for (auto &r : reqs_) {
        check(r->gone, "a released scope without scope_gone");
        reported += r->reported_left;
        left += r->left;
    }
    check(c.disconnects[0] == 0, "a departure counted without a reason");
    check(departures >= reported && departures <= left,
          "the departures counted by reason are not the scopes whose "
          "client left");
}

Outcome Runner::go()
{
    static const asgicore_callbacks cb = {
        cb_head,      cb_body, cb_trailers, cb_resume, cb_done,
        cb_set_timer, cb_wake, cb_log,      cb_gone,
    };
    static const asgicore_app_callbacks acb = {app_start, app_notify, app_wake};
    asgicore_settings settings;
    asgicore_settings_default(&settings);
    default_grace_ = settings.grace_period_ns;
    settings.body_buffer_limit = 64 + next() % 200;
    settings.send_buffer_limit = next() % 16;
    // set-up: allocation failures here end the program quietly
    int rc = call("asgicore_ctx_new_versioned", [&] {
        return asgicore_ctx_new(&settings, &cb, this, &ctx_);
    });
    if (rc != ASGICORE_OK)
        return out_;
    if (call("asgicore_app_new_versioned",
             [&] {
                 return asgicore_app_new(ctx_, &acb, this, ASGICORE_APP_INLINE,
                                         &apps_[0]);
             }) != ASGICORE_OK ||
        call("asgicore_app_new_versioned", [&] {
            return asgicore_app_new(ctx_, &acb, this, ASGICORE_APP_THREADED,
                                    &apps_[1]);
        }) != ASGICORE_OK)
        return out_;
    while (!exhausted_ && out_.steps < 4096) {
        uint8_t op = next();
        if (trace_)
            std::fprintf(stderr, "step %zu: op %d\n", out_.steps, op % 20);
        step(op);
        out_.steps++;
    }
    finish_up();
    return out_;
}

}  // namespace

Outcome run(const uint8_t *data, size_t size)
{
    Runner runner(data, size);
    return runner.go();
}

}  // namespace fuzz
