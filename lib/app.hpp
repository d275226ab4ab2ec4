// A registered application: its callbacks and, for threaded apps, the queue
// of scopes with notifications waiting for asgicore_app_dispatch.
#pragma once

#include "asgicore.h"
#include "intrusive_list.hpp"
#include "scope.hpp"

#include <string>

namespace asgicore {

using ScopeQueue = IntrusiveList<Scope, &Scope::app_link>;

struct App {
    Context *ctx;
    asgicore_app_callbacks cb;
    void *user;
    bool threaded;
    bool websocket = false;   // takes websocket scopes (ASGICORE_APP_WEBSOCKET)
    bool wake_armed = false;  // threaded: wake called, dispatch not yet run
    size_t owned_scopes = 0;  // started and not finished
    int state = ASGICORE_APP_READY;  // asgicore_app_set_state
    std::string state_message;
    ScopeQueue *pending;  // threaded: `queue`; inline: the context's
    ScopeQueue queue;
    ListLink<App> link;
};

}  // namespace asgicore

struct asgicore_app : asgicore::App {};
