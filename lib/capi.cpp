// Every extern "C" definition of the library. Each one checks its arguments
// and catches everything: no exception crosses the C boundary.
#include "asgicore.h"
#include "context.hpp"
#include "names.hpp"

#include <cstddef>
#include <cstring>
#include <new>

using asgicore::Context;

namespace {

template <class F>
int guarded(F &&f) noexcept
{
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return ASGICORE_ERR_NOMEM;
    } catch (...) {
        return ASGICORE_ERR_INTERNAL;
    }
}

Context &ctx_of(asgicore_scope *scope) noexcept
{
    return *scope->ctx;
}

}  // namespace

extern "C" {

const char *asgicore_strerror(int code)
{
    return asgicore::error_text(code);
}

const char *asgicore_version(void)
{
    return ASGICORE_VERSION_STRING;
}

unsigned asgicore_version_number(void)
{
    return ASGICORE_VERSION_NUM;
}

const char *asgicore_outcome_name(int outcome)
{
    return asgicore::outcome_name(outcome);
}

const char *asgicore_disconnect_reason_name(int reason)
{
    return asgicore::disconnect_reason_name(reason);
}

int asgicore_settings_default_versioned(int settings_version,
                                        asgicore_settings *s)
{
    if (!s)
        return ASGICORE_ERR_INVALID;
    if (settings_version != ASGICORE_SETTINGS_V1)
        return ASGICORE_ERR_VERSION;
    s->grace_period_ns = 3000000000ull;
    s->body_buffer_limit = 64 * 1024;
    s->send_buffer_limit = 64 * 1024;
    return ASGICORE_OK;
}

int asgicore_ctx_new_versioned(int settings_version,
                               const asgicore_settings *settings,
                               int callbacks_version,
                               const asgicore_callbacks *callbacks, void *user,
                               asgicore_ctx **out)
{
    if (!callbacks || !out)
        return ASGICORE_ERR_INVALID;
    if (settings_version != ASGICORE_SETTINGS_V1 ||
        callbacks_version < ASGICORE_CALLBACKS_V1 ||
        callbacks_version > ASGICORE_CALLBACKS_V3)
        return ASGICORE_ERR_VERSION;
    // An older caller's struct ends before the later members: read only its
    // layout.
    asgicore_callbacks cb{};
    std::memcpy(&cb, callbacks,
                callbacks_version == ASGICORE_CALLBACKS_V1
                    ? offsetof(asgicore_callbacks, scope_gone)
                : callbacks_version == ASGICORE_CALLBACKS_V2
                    ? offsetof(asgicore_callbacks, send_raw)
                    : sizeof cb);
    asgicore_settings s;
    if (settings)
        s = *settings;
    else
        asgicore_settings_default(&s);
    if (s.body_buffer_limit == 0)
        return ASGICORE_ERR_INVALID;
    auto *ctx = new (std::nothrow) asgicore_ctx(s, cb, user);
    if (!ctx)
        return ASGICORE_ERR_NOMEM;
    *out = ctx;
    return ASGICORE_OK;
}

void asgicore_ctx_free(asgicore_ctx *ctx)
{
    delete ctx;
}

int asgicore_ctx_process(asgicore_ctx *ctx)
{
    if (!ctx)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx->process(); });
}

asgicore_time asgicore_ctx_get_expiry(asgicore_ctx *ctx)
{
    if (!ctx)
        return ASGICORE_TIME_NEVER;
    try {
        return ctx->expiry();
    } catch (...) {
        return ASGICORE_TIME_NEVER;
    }
}

int asgicore_ctx_handle_expiry(asgicore_ctx *ctx, asgicore_time now)
{
    if (!ctx)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx->handle_expiry(now); });
}

int asgicore_ctx_counters_versioned(asgicore_ctx *ctx, int counters_version,
                                    asgicore_counters *out)
{
    if (!ctx || !out)
        return ASGICORE_ERR_INVALID;
    if (counters_version != ASGICORE_COUNTERS_V1 &&
        counters_version != ASGICORE_COUNTERS_V2)
        return ASGICORE_ERR_VERSION;
    return guarded([&] {
        asgicore_counters all;
        ctx->counters(all);
        // A version 1 caller's struct ends after `abandoned`.
        std::memcpy(out, &all,
                    counters_version == ASGICORE_COUNTERS_V1
                        ? offsetof(asgicore_counters, disconnects)
                        : sizeof all);
        return ASGICORE_OK;
    });
}

int asgicore_scope_open_versioned(asgicore_ctx *ctx, asgicore_app *app,
                                  int info_version,
                                  const asgicore_scope_info *info,
                                  void *host_data, asgicore_scope **out)
{
    if (!ctx || !app || !info || !out)
        return ASGICORE_ERR_INVALID;
    size_t given;
    switch (info_version) {
    // A V1 caller's struct ends at flags: the WebSocket limits default.
    case ASGICORE_SCOPE_INFO_V1:
        given = offsetof(asgicore_scope_info, websocket_max_message);
        break;
    case ASGICORE_SCOPE_INFO_V2:
        given = offsetof(asgicore_scope_info, capabilities);
        break;
    case ASGICORE_SCOPE_INFO_V3: given = sizeof(asgicore_scope_info); break;
    default: return ASGICORE_ERR_VERSION;
    }
    asgicore_scope_info copy{};
    std::memcpy(&copy, info, given);
    // Hosts before V3 wrote trailers when asked to
    if (info_version < ASGICORE_SCOPE_INFO_V3)
        copy.capabilities = ASGICORE_CAP_TRAILERS;
    return guarded([&] { return ctx->open_scope(app, copy, host_data, out); });
}

int asgicore_scope_feed_body(asgicore_scope *scope, const void *data,
                             size_t len, int more)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return ctx_of(scope).feed_body(scope, data, len, more != 0); });
}

int asgicore_scope_feed_raw(asgicore_scope *scope, const void *data, size_t len,
                            asgicore_time now)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return ctx_of(scope).feed_raw(scope, data, len, now); });
}

int asgicore_scope_going_away(asgicore_scope *scope, asgicore_time now)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).going_away(scope, now); });
}

int asgicore_scope_disconnect(asgicore_scope *scope, int reason,
                              asgicore_time now)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return ctx_of(scope).disconnect(scope, reason, now); });
}

int asgicore_scope_write_ready(asgicore_scope *scope)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).write_ready(scope); });
}

int asgicore_scope_reframed(asgicore_scope *scope)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).reframed(scope); });
}

int asgicore_scope_release(asgicore_scope *scope, asgicore_time now)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).release(scope, now); });
}

int asgicore_scope_outcome(asgicore_scope *scope)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).outcome(scope); });
}

int asgicore_app_new_versioned(asgicore_ctx *ctx, int callbacks_version,
                               const asgicore_app_callbacks *callbacks,
                               void *app_user, int mode, asgicore_app **out)
{
    if (!ctx || !callbacks || !out)
        return ASGICORE_ERR_INVALID;
    if (callbacks_version != ASGICORE_APP_CALLBACKS_V1)
        return ASGICORE_ERR_VERSION;
    int kind = mode & ~ASGICORE_APP_WEBSOCKET;
    if (kind != ASGICORE_APP_INLINE && kind != ASGICORE_APP_THREADED)
        return ASGICORE_ERR_INVALID;
    return guarded([&] {
        asgicore::App *app = nullptr;
        int rc = ctx->new_app(*callbacks, app_user,
                              kind == ASGICORE_APP_THREADED, &app);
        if (rc == ASGICORE_OK) {
            app->websocket = (mode & ASGICORE_APP_WEBSOCKET) != 0;
            *out = static_cast<asgicore_app *>(app);
        }
        return rc;
    });
}

int asgicore_app_free(asgicore_app *app)
{
    if (!app)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return app->ctx->free_app(app); });
}

int asgicore_app_dispatch(asgicore_app *app)
{
    if (!app)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return app->ctx->dispatch(app); });
}

int asgicore_app_log(asgicore_app *app, asgicore_scope *scope, int level,
                     const char *message)
{
    if (!app || !message)
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return app->ctx->app_log(app, scope, level, message); });
}

int asgicore_app_set_state(asgicore_app *app, int state, const char *message)
{
    if (!app)
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return app->ctx->set_app_state(app, state, message); });
}

int asgicore_app_get_state(asgicore_app *app, char *buf, size_t size)
{
    if (!app)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return app->ctx->app_state(app, buf, size); });
}

int asgicore_app_batch(asgicore_app *app, int on)
{
    if (!app)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return app->ctx->app_batch(app, on != 0); });
}

int asgicore_scope_hold(asgicore_scope *scope)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).hold(scope); });
}

int asgicore_scope_drop(asgicore_scope *scope)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).drop(scope); });
}

const asgicore_scope_info *asgicore_scope_get_info(asgicore_scope *scope)
{
    return scope ? &scope->info : nullptr;
}

void asgicore_scope_set_app_data(asgicore_scope *scope, void *data)
{
    if (scope)
        scope->app_data = data;
}

void *asgicore_scope_get_app_data(asgicore_scope *scope)
{
    return scope ? scope->app_data : nullptr;
}

int asgicore_receive(asgicore_scope *scope, asgicore_event *event)
{
    if (!scope || !event)
        return ASGICORE_ERR_INVALID;
    return guarded([&] { return ctx_of(scope).receive_v1(scope, *event); });
}

int asgicore_receive_versioned(asgicore_scope *scope, int event_version,
                               void *event)
{
    if (!scope || !event)
        return ASGICORE_ERR_INVALID;
    if (event_version == ASGICORE_EVENT_V1)
        return guarded([&] {
            return ctx_of(scope).receive_v1(
                scope, *static_cast<asgicore_event *>(event));
        });
    if (event_version != ASGICORE_EVENT_V2)
        return ASGICORE_ERR_VERSION;
    return guarded([&] {
        return ctx_of(scope).receive_v2(
            scope, *static_cast<asgicore_event_v2 *>(event));
    });
}

int asgicore_websocket_accept(asgicore_scope *scope,
                              const asgicore_str *subprotocol,
                              const asgicore_header *headers,
                              size_t header_count)
{
    if (!scope || (header_count && !headers) ||
        (subprotocol && subprotocol->len && !subprotocol->data))
        return ASGICORE_ERR_INVALID;
    return guarded([&] {
        return ctx_of(scope).ws_accept(scope, subprotocol, headers,
                                       header_count);
    });
}

int asgicore_websocket_send(asgicore_scope *scope, int text, const void *data,
                            size_t len)
{
    if (!scope || (len && !data))
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return ctx_of(scope).ws_send(scope, text != 0, data, len); });
}

int asgicore_websocket_close(asgicore_scope *scope, int code,
                             const char *reason, size_t reason_len)
{
    if (!scope || (reason_len && !reason))
        return ASGICORE_ERR_INVALID;
    return guarded([&] {
        return ctx_of(scope).ws_close(scope, code, reason, reason_len);
    });
}

int asgicore_send_start(asgicore_scope *scope, int status,
                        const asgicore_header *headers, size_t header_count,
                        int trailers)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] {
        return ctx_of(scope).send_start(scope, status, headers, header_count,
                                        trailers != 0);
    });
}

int asgicore_send_body(asgicore_scope *scope, const void *data, size_t len,
                       int more_body)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] {
        return ctx_of(scope).send_body(scope, data, len, more_body != 0);
    });
}

int asgicore_send_trailers(asgicore_scope *scope,
                           const asgicore_header *trailers, size_t count,
                           int more_trailers)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded([&] {
        return ctx_of(scope).send_trailers(scope, trailers, count,
                                           more_trailers != 0);
    });
}

int asgicore_finish(asgicore_scope *scope, int failed, const char *message)
{
    if (!scope)
        return ASGICORE_ERR_INVALID;
    return guarded(
        [&] { return ctx_of(scope).finish(scope, failed != 0, message); });
}

}  // extern "C"
