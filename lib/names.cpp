#include "names.hpp"

#include "asgicore.h"

namespace asgicore {

const char *error_text(int code) noexcept
{
    switch (code) {
    case ASGICORE_OK: return "success";
    case ASGICORE_PENDING: return "accepted, completion follows";
    case ASGICORE_ERR_INVALID: return "invalid argument";
    case ASGICORE_ERR_NOMEM: return "out of memory";
    case ASGICORE_ERR_VERSION: return "unsupported struct version";
    case ASGICORE_ERR_STATE: return "call not valid in the scope's state";
    case ASGICORE_ERR_DISCONNECTED: return "client disconnected";
    case ASGICORE_ERR_PROTOCOL:
        return "ASGI message out of order, or beyond the content-length";
    case ASGICORE_ERR_BAD_HEADER: return "invalid header name or value";
    case ASGICORE_ERR_BUSY: return "previous operation still pending";
    case ASGICORE_ERR_FINISHED: return "the app already finished the scope";
    case ASGICORE_ERR_INTERNAL: return "internal error";
    default: return "unknown error code";
    }
}

const char *outcome_name(int outcome) noexcept
{
    switch (outcome) {
    case ASGICORE_OUTCOME_NONE: return "";
    case ASGICORE_OUTCOME_COMPLETE: return "complete";
    case ASGICORE_OUTCOME_CLIENT_DISCONNECTED: return "client_disconnected";
    case ASGICORE_OUTCOME_CANCELLED: return "cancelled_after_grace";
    case ASGICORE_OUTCOME_APP_ERROR: return "app_error";
    default: return "unknown";
    }
}

const char *disconnect_reason_name(int reason) noexcept
{
    switch (reason) {
    case ASGICORE_DISCONNECT_CLOSED: return "client closed the connection";
    case ASGICORE_DISCONNECT_RESET: return "connection reset by client";
    case ASGICORE_DISCONNECT_HALF_CLOSED: return "client closed its side";
    case ASGICORE_DISCONNECT_STREAM_RESET: return "stream reset by client";
    case ASGICORE_DISCONNECT_CONNECTION_LOST: return "connection lost";
    case ASGICORE_DISCONNECT_WRITE_ERROR: return "write to client failed";
    case ASGICORE_DISCONNECT_TIMEOUT: return "client timed out";
    case ASGICORE_DISCONNECT_SERVER: return "server ended the request";
    default: return "unknown reason";
    }
}

}  // namespace asgicore
