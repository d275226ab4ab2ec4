// Microbenchmarks of libasgicore through its public header, with an inline
// app and a host whose callbacks do nothing:
//   lifecycle: open, body, receive, response start + body, finish, release
//   abort:     open, disconnect, grace expiry, cancel, finish, release
// Reports time per scope and heap allocations per scope (operator new is
// counted: the library is linked statically, so its allocations are too).
#include <benchmark/benchmark.h>

#include "asgicore.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<unsigned long> allocations{0};

}  // namespace

void *operator new(std::size_t n)
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void *p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n ? n : 1);
}
void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}

namespace {

const asgicore_header kHeaders[] = {
    {{"content-type", 12}, {"text/plain", 10}},
};
const asgicore_header kRequestHeaders[] = {
    {{"host", 4}, {"localhost:8080", 14}},
    {{"user-agent", 10}, {"bench", 5}},
    {{"accept", 6}, {"*/*", 3}},
};

struct Host {
    asgicore_ctx *ctx = nullptr;
    asgicore_time now = 1000000000ull;
    asgicore_scope *released = nullptr;
};

int head(void *, asgicore_scope *, void *, int, const asgicore_header *, size_t,
         int)
{
    return ASGICORE_OK;
}
int body(void *, asgicore_scope *, void *, const void *, size_t, int)
{
    return ASGICORE_OK;
}
void done(void *user, asgicore_scope *scope, void *, int, int)
{
    auto *h = static_cast<Host *>(user);
    asgicore_scope_release(scope, h->now);
}
void set_timer(void *, asgicore_time) {}

// The hello app: answers when its body has arrived.
void app_start(void *, asgicore_scope *scope)
{
    asgicore_event ev;
    asgicore_receive(scope, &ev);  // PENDING: the body comes next
}
void app_notify(void *, asgicore_scope *scope, int event, int)
{
    asgicore_event ev;
    if (event == ASGICORE_NOTIFY_CANCEL) {
        asgicore_finish(scope, 0, nullptr);
        return;
    }
    if (asgicore_receive(scope, &ev) != ASGICORE_OK ||
        ev.type != ASGICORE_EVENT_HTTP_REQUEST)
        return;  // a disconnect: this app ignores it until cancelled
    asgicore_send_start(scope, 200, kHeaders, 1, 0);
    asgicore_send_body(scope, "Hello, world!\n", 14, 0);
    asgicore_finish(scope, 0, nullptr);
}

asgicore_scope_info request_info()
{
    asgicore_scope_info info{};
    info.method = {"GET", 3};
    info.scheme = {"http", 4};
    info.http_version = {"1.1", 3};
    info.path = {"/hello", 6};
    info.raw_path = {"/hello", 6};
    info.headers = kRequestHeaders;
    info.header_count = 3;
    info.client = {{"127.0.0.1", 9}, 40000};
    info.server = {{"127.0.0.1", 9}, 8080};
    info.grace_period_ns = -1;
    return info;
}

struct Fixture {
    Host host;
    asgicore_app *app = nullptr;
    asgicore_scope_info info = request_info();

    Fixture()
    {
        static const asgicore_callbacks cb = {
            head,      body,    nullptr, nullptr, done,
            set_timer, nullptr, nullptr, nullptr, nullptr};
        static const asgicore_app_callbacks acb = {app_start, app_notify,
                                                   nullptr};
        asgicore_ctx_new(nullptr, &cb, &host, &host.ctx);
        asgicore_app_new(host.ctx, &acb, nullptr, ASGICORE_APP_INLINE, &app);
    }
    ~Fixture()
    {
        asgicore_app_free(app);
        asgicore_ctx_free(host.ctx);
    }
};

void check_balanced(benchmark::State &state, asgicore_ctx *ctx, bool cancelled)
{
    asgicore_counters c;
    asgicore_ctx_counters(ctx, &c);
    if (c.live != 0 || c.running_apps != 0 ||
        (cancelled ? c.cancelled : c.completed) != c.opened)
        state.SkipWithError("counters do not balance: the bench is wrong");
}

void BM_lifecycle(benchmark::State &state)
{
    Fixture f;
    asgicore_scope *scope;
    unsigned long before = allocations.load();
    for (auto _ : state) {
        asgicore_scope_open(f.host.ctx, f.app, &f.info, nullptr, &scope);
        asgicore_scope_feed_body(scope, "name=value", 10, 0);
    }
    state.counters["allocs_per_scope"] =
        benchmark::Counter(double(allocations.load() - before),
                           benchmark::Counter::kAvgIterations);
    check_balanced(state, f.host.ctx, false);
}
BENCHMARK(BM_lifecycle);

// The same for a request without a body (a GET): the host feeds its end.
void BM_lifecycle_no_body(benchmark::State &state)
{
    Fixture f;
    asgicore_scope *scope;
    unsigned long before = allocations.load();
    for (auto _ : state) {
        asgicore_scope_open(f.host.ctx, f.app, &f.info, nullptr, &scope);
        asgicore_scope_feed_body(scope, nullptr, 0, 0);
    }
    state.counters["allocs_per_scope"] =
        benchmark::Counter(double(allocations.load() - before),
                           benchmark::Counter::kAvgIterations);
    check_balanced(state, f.host.ctx, false);
}
BENCHMARK(BM_lifecycle_no_body);

void BM_abort_path(benchmark::State &state)
{
    Fixture f;
    asgicore_scope *scope;
    unsigned long before = allocations.load();
    for (auto _ : state) {
        asgicore_scope_open(f.host.ctx, f.app, &f.info, nullptr, &scope);
        asgicore_scope_disconnect(scope, ASGICORE_DISCONNECT_RESET, f.host.now);
        f.host.now += 3000000000ull;  // the grace period passes
        asgicore_ctx_handle_expiry(f.host.ctx, f.host.now);
    }
    state.counters["allocs_per_scope"] =
        benchmark::Counter(double(allocations.load() - before),
                           benchmark::Counter::kAvgIterations);
    check_balanced(state, f.host.ctx, true);
}
BENCHMARK(BM_abort_path);

}  // namespace

BENCHMARK_MAIN();
