/* Prints the layout of every public struct and the value of every public
 * constant: the parts of the C ABI that symbol names do not show. Compared
 * with abi/layout.txt by tools/check-abi. */
#include <stddef.h>
#include <stdio.h>

#include "asgicore.h"

#define S(type) printf("sizeof %s %zu\n", #type, sizeof(type))
#define F(type, field)                                                         \
    printf("offsetof %s.%s %zu\n", #type, #field, offsetof(type, field))
#define C(name) printf("const %s %lld\n", #name, (long long)(name))

int main(void)
{
    S(asgicore_str);
    F(asgicore_str, data);
    F(asgicore_str, len);
    S(asgicore_header);
    F(asgicore_header, name);
    F(asgicore_header, value);
    S(asgicore_addr);
    F(asgicore_addr, host);
    F(asgicore_addr, port);
    S(asgicore_settings);
    F(asgicore_settings, grace_period_ns);
    F(asgicore_settings, body_buffer_limit);
    F(asgicore_settings, send_buffer_limit);
    S(asgicore_callbacks);
    F(asgicore_callbacks, send_head);
    F(asgicore_callbacks, send_body);
    F(asgicore_callbacks, send_trailers);
    F(asgicore_callbacks, resume_body);
    F(asgicore_callbacks, done);
    F(asgicore_callbacks, set_timer);
    F(asgicore_callbacks, wake);
    F(asgicore_callbacks, log);
    F(asgicore_callbacks, scope_gone);
    F(asgicore_callbacks, send_raw);
    S(asgicore_counters);
    F(asgicore_counters, opened);
    F(asgicore_counters, live);
    F(asgicore_counters, completed);
    F(asgicore_counters, disconnected);
    F(asgicore_counters, cancelled);
    F(asgicore_counters, app_errors);
    F(asgicore_counters, not_dispatched);
    F(asgicore_counters, running_apps);
    F(asgicore_counters, abandoned);
    F(asgicore_counters, disconnects);
    S(asgicore_scope_info);
    F(asgicore_scope_info, method);
    F(asgicore_scope_info, scheme);
    F(asgicore_scope_info, http_version);
    F(asgicore_scope_info, path);
    F(asgicore_scope_info, raw_path);
    F(asgicore_scope_info, query_string);
    F(asgicore_scope_info, root_path);
    F(asgicore_scope_info, headers);
    F(asgicore_scope_info, header_count);
    F(asgicore_scope_info, client);
    F(asgicore_scope_info, server);
    F(asgicore_scope_info, grace_period_ns);
    F(asgicore_scope_info, flags);
    F(asgicore_scope_info, websocket_max_message);
    F(asgicore_scope_info, websocket_ping_interval_ns);
    F(asgicore_scope_info, websocket_close_timeout_ns);
    S(asgicore_app_callbacks);
    F(asgicore_app_callbacks, start);
    F(asgicore_app_callbacks, notify);
    F(asgicore_app_callbacks, wake);
    S(asgicore_event_v2);
    F(asgicore_event_v2, type);
    F(asgicore_event_v2, data);
    F(asgicore_event_v2, len);
    F(asgicore_event_v2, more_body);
    F(asgicore_event_v2, text);
    F(asgicore_event_v2, code);
    S(asgicore_event);
    F(asgicore_event, type);
    F(asgicore_event, body);
    F(asgicore_event, body_len);
    F(asgicore_event, more_body);

    S(asgicore_native_app);
    F(asgicore_native_app, abi_version);
    F(asgicore_native_app, callbacks);
    F(asgicore_native_app, create);
    F(asgicore_native_app, attach);
    F(asgicore_native_app, destroy);
    C(ASGICORE_NATIVE_APP_V1);

    C(ASGICORE_OK);
    C(ASGICORE_PENDING);
    C(ASGICORE_ERR_INVALID);
    C(ASGICORE_ERR_NOMEM);
    C(ASGICORE_ERR_VERSION);
    C(ASGICORE_ERR_STATE);
    C(ASGICORE_ERR_DISCONNECTED);
    C(ASGICORE_ERR_PROTOCOL);
    C(ASGICORE_ERR_BAD_HEADER);
    C(ASGICORE_ERR_BUSY);
    C(ASGICORE_ERR_FINISHED);
    C(ASGICORE_ERR_INTERNAL);
    C(ASGICORE_LOG_ERROR);
    C(ASGICORE_LOG_WARN);
    C(ASGICORE_LOG_INFO);
    C(ASGICORE_LOG_DEBUG);
    C(ASGICORE_OUTCOME_NONE);
    C(ASGICORE_OUTCOME_COMPLETE);
    C(ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    C(ASGICORE_OUTCOME_CANCELLED);
    C(ASGICORE_OUTCOME_APP_ERROR);
    C(ASGICORE_DISCONNECT_CLOSED);
    C(ASGICORE_DISCONNECT_RESET);
    C(ASGICORE_DISCONNECT_HALF_CLOSED);
    C(ASGICORE_DISCONNECT_STREAM_RESET);
    C(ASGICORE_DISCONNECT_CONNECTION_LOST);
    C(ASGICORE_DISCONNECT_WRITE_ERROR);
    C(ASGICORE_DISCONNECT_TIMEOUT);
    C(ASGICORE_DISCONNECT_SERVER);
    C(ASGICORE_DISCONNECT_REASONS);
    C(ASGICORE_NOTIFY_RECEIVE_READY);
    C(ASGICORE_NOTIFY_SEND_READY);
    C(ASGICORE_NOTIFY_CANCEL);
    C(ASGICORE_APP_INLINE);
    C(ASGICORE_APP_THREADED);
    C(ASGICORE_APP_WEBSOCKET);
    C(ASGICORE_APP_READY);
    C(ASGICORE_APP_LOADING);
    C(ASGICORE_APP_FAILED);
    C(ASGICORE_SCOPE_IGNORE_CLIENT_ABORT);
    C(ASGICORE_SCOPE_BODY_ON_DEMAND);
    C(ASGICORE_SCOPE_CLIENT_GONE);
    C(ASGICORE_SCOPE_WEBSOCKET);
    C(ASGICORE_EVENT_HTTP_REQUEST);
    C(ASGICORE_EVENT_HTTP_DISCONNECT);
    C(ASGICORE_EVENT_WEBSOCKET_CONNECT);
    C(ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    C(ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    C(ASGICORE_EVENT_V1);
    C(ASGICORE_EVENT_V2);
    C(ASGICORE_SETTINGS_V1);
    C(ASGICORE_CALLBACKS_V1);
    C(ASGICORE_CALLBACKS_V2);
    C(ASGICORE_CALLBACKS_V3);
    C(ASGICORE_COUNTERS_V1);
    C(ASGICORE_COUNTERS_V2);
    C(ASGICORE_SCOPE_INFO_V1);
    C(ASGICORE_SCOPE_INFO_V2);
    C(ASGICORE_APP_CALLBACKS_V1);
    return 0;
}
