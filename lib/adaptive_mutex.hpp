#pragma once

#include <pthread.h>

namespace asgicore {

// The context's lock. The host's thread and the app's take it many times
// per request, each time briefly: a waiter that slept on a futex and was
// woken cost two system calls and often a context switch, more than the
// wait. glibc's adaptive mutex spins a little first; elsewhere this is a
// plain mutex.
class AdaptiveMutex {
public:
    AdaptiveMutex() noexcept
    {
        pthread_mutexattr_t attr;
        pthread_mutexattr_init(&attr);
#if defined(__GLIBC__)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
        pthread_mutex_init(&m_, &attr);
        pthread_mutexattr_destroy(&attr);
    }
    ~AdaptiveMutex()
    {
        pthread_mutex_destroy(&m_);
    }
    AdaptiveMutex(const AdaptiveMutex &) = delete;
    AdaptiveMutex &operator=(const AdaptiveMutex &) = delete;

    void lock() noexcept
    {
        pthread_mutex_lock(&m_);
    }
    bool try_lock() noexcept
    {
        return pthread_mutex_trylock(&m_) == 0;
    }
    void unlock() noexcept
    {
        pthread_mutex_unlock(&m_);
    }

private:
    pthread_mutex_t m_;
};

}  // namespace asgicore
