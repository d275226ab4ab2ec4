#pragma once

#include <pthread.h>

namespace asgicore {

// The context's lock. The host's thread and the app's take it many times
// per request, each time for a few hundred nanoseconds: a waiter that
// slept on a futex and was woken cost two system calls and often a
// context switch, more than the wait. So a waiter first retries a few
// times, briefly (about a microsecond); then it sleeps, as a body copy
// may hold the lock for tens of microseconds and spinning through that
// takes the CPU from the thread that holds it (glibc's adaptive mutex
// spins up to 100 rounds: uploads slowed by 8%).
class BriefSpinMutex {
public:
    BriefSpinMutex() noexcept { pthread_mutex_init(&m_, nullptr); }
    ~BriefSpinMutex() { pthread_mutex_destroy(&m_); }
    BriefSpinMutex(const BriefSpinMutex &) = delete;
    BriefSpinMutex &operator=(const BriefSpinMutex &) = delete;

    void lock() noexcept
    {
        for (int i = 0; i < kSpins; i++) {
            if (pthread_mutex_trylock(&m_) == 0)
                return;
            pause();
        }
        pthread_mutex_lock(&m_);
    }
    bool try_lock() noexcept { return pthread_mutex_trylock(&m_) == 0; }
    void unlock() noexcept { pthread_mutex_unlock(&m_); }

private:
    static constexpr int kSpins = 32;

    static void pause() noexcept
    {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }

    pthread_mutex_t m_;
};

}  // namespace asgicore
