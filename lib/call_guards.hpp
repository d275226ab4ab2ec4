// The guards every library call holds: they take the context's mutex and,
// on the way out, run what the call left for the host and fire wake-ups.
#pragma once

#include "context.hpp"

namespace asgicore {

// Every host-side call holds one. The outermost one runs the host loop
// before returning, so a host-side call leaves nothing queued for the host.
class Context::HostCall {
public:
    explicit HostCall(Context &c)
        : c_(c)
        , lk_(c.mu_)
    {
        outer_ = !c_.in_host_call_;
        c_.in_host_call_ = true;
    }
    ~HostCall()
    {
        if (outer_) {
            c_.run_host_loop(lk_);
            c_.in_host_call_ = false;
            // The loop served what a batch's deferred wake was for.
            if (c_.host_wake_due_) {
                c_.host_wake_due_ = false;
                c_.host_wake_armed_ = false;
            }
        }
        c_.fire_wakes(lk_);
    }
    // Runs the loop now, for a call whose result depends on what its
    // callbacks did; the lock is held from the loop's end to the return.
    void run_loop()
    {
        if (outer_)
            c_.run_host_loop(lk_);
    }
    HostCall(const HostCall &) = delete;
    HostCall &operator=(const HostCall &) = delete;

private:
    Context &c_;
    Lock lk_;
    bool outer_;
};

// Every app-side call holds one; wake-ups it made necessary are fired after
// the mutex is released.
class Context::AppCall {
public:
    explicit AppCall(Context &c)
        : c_(c)
        , lk_(c.mu_)
    {
    }
    ~AppCall() { c_.fire_wakes(lk_); }
    AppCall(const AppCall &) = delete;
    AppCall &operator=(const AppCall &) = delete;

private:
    Context &c_;
    Lock lk_;
};

}  // namespace asgicore
