#pragma once

#include <atomic>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace asgicore {

// The context's lock. The host's thread and the app's take it many times
// per request, each time for a few hundred nanoseconds: a waiter that
// slept on a futex and was woken cost two system calls and often a
// context switch, more than the wait. So a waiter first retries a few
// times, briefly (about a microsecond); then it sleeps, as a body copy
// may hold the lock for tens of microseconds and spinning through that
// takes the CPU from the thread that holds it (glibc's adaptive mutex
// spins up to 100 rounds: uploads slowed by 8%).
//
// An atomic word rather than a pthread mutex: uncontended, a lock and an
// unlock are one atomic instruction each (pthread_mutex_trylock and
// _unlock cost about 60 instructions a pair, and a request takes the lock
// about a dozen times). The word is 0 (free), 1 (held) or 2 (held, a
// thread may sleep on it: the unlock must wake one).
class BriefSpinMutex {
public:
    BriefSpinMutex() noexcept = default;
    BriefSpinMutex(const BriefSpinMutex &) = delete;
    BriefSpinMutex &operator=(const BriefSpinMutex &) = delete;

    void lock() noexcept
    {
        int free = kFree;
        if (word_.compare_exchange_strong(free, kHeld,
                                          std::memory_order_acquire,
                                          std::memory_order_relaxed))
            return;
        lock_slowly();
    }

    bool try_lock() noexcept
    {
        int free = kFree;
        return word_.compare_exchange_strong(
            free, kHeld, std::memory_order_acquire, std::memory_order_relaxed);
    }

    void unlock() noexcept
    {
        if (word_.exchange(kFree, std::memory_order_release) == kSleepers)
            wake_one();
    }

private:
    static constexpr int kFree = 0;
    static constexpr int kHeld = 1;
    static constexpr int kSleepers = 2;
    static constexpr int kSpins = 32;

    void lock_slowly() noexcept
    {
        for (int i = 0; i < kSpins; i++) {
            pause();
            if (word_.load(std::memory_order_relaxed) == kFree && try_lock())
                return;
        }
        // Marked as slept on, whoever holds it wakes a sleeper when it
        // lets go; taken with that mark, as another may still sleep.
        while (word_.exchange(kSleepers, std::memory_order_acquire) != kFree)
            sleep_while_marked();
    }

    void sleep_while_marked() noexcept
    {
#if defined(__linux__)
        // returns at once if the word changed since the exchange
        syscall(SYS_futex, reinterpret_cast<int *>(&word_), FUTEX_WAIT_PRIVATE,
                kSleepers, nullptr, nullptr, 0);
#else
        word_.wait(kSleepers, std::memory_order_relaxed);
#endif
    }

    void wake_one() noexcept
    {
#if defined(__linux__)
        syscall(SYS_futex, reinterpret_cast<int *>(&word_), FUTEX_WAKE_PRIVATE,
                1, nullptr, nullptr, 0);
#else
        word_.notify_one();
#endif
    }

    static void pause() noexcept
    {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }

    static_assert(sizeof(std::atomic<int>) == sizeof(int) &&
                      std::atomic<int>::is_always_lock_free,
                  "the futex is the atomic's int");
    std::atomic<int> word_{kFree};
};

}  // namespace asgicore
