// The memory of finished scopes of the common size (ScopeArena::block),
// kept for the next ones. The host thread opens scopes and an app thread
// often lets go of them last: with malloc's per-thread caches that pair
// costs a trip through the shared heap per request (~0.3 us measured on
// nginx's thread). Guarded by the context's mutex. Under ASan nothing is
// kept: a call with a stale handle must stay a use after free it reports,
// not a call on the next request's scope.
#pragma once

#include "scope_arena.hpp"

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define ASGICORE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASGICORE_ASAN 1
#endif
#endif

namespace asgicore {

class ScopeBlocks {
public:
    static constexpr size_t size = ScopeArena::block;
    // More would be memory an idle server keeps after a burst.
    static constexpr unsigned max_kept = 64;

    ScopeBlocks() = default;
    ScopeBlocks(const ScopeBlocks &) = delete;
    ScopeBlocks &operator=(const ScopeBlocks &) = delete;
    ~ScopeBlocks()
    {
        while (void *p = take())
            ::operator delete(p);
    }

    // A kept block, or null.
    void *take() noexcept
    {
        Kept *k = kept_;
        if (!k)
            return nullptr;
        kept_ = k->next;
        count_--;
        return k;
    }

    // Keeps a block of `size` bytes; false when enough are kept already.
    bool keep(void *p) noexcept
    {
#ifdef ASGICORE_ASAN
        (void)p;
        return false;
#else
        if (count_ == max_kept)
            return false;
        Kept *k = static_cast<Kept *>(p);
        k->next = kept_;
        kept_ = k;
        count_++;
        return true;
#endif
    }

private:
    struct Kept {
        Kept *next;
    };

    Kept *kept_ = nullptr;
    unsigned count_ = 0;
};

}  // namespace asgicore
