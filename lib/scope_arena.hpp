// Space after each scope's copied request data, in the same allocation, for
// the small messages most requests consist of (the empty or short request
// body, the response head, a short body): a request costs one heap
// allocation, its scope. A bump allocator: the space is reused once every
// message in it is gone. Guarded by the context's mutex, like the rest of
// the scope.
#pragma once

#include <cstddef>
#include <cstdint>

namespace asgicore {

class ScopeArena {
public:
    static constexpr size_t alignment = alignof(std::max_align_t);

    // The arena's size for a scope whose fixed part and request data take
    // `used` bytes: the rest of a 1 KiB block (malloc's cheapest sizes end
    // a little above it), at least 256 bytes, a multiple of the alignment.
    static size_t size_after(size_t used) noexcept
    {
        size_t rest = used < block - min_size ? block - used : min_size;
        return rest & ~(alignment - 1);
    }

    // One past the arena: the end of its scope's allocation.
    const unsigned char *end() const noexcept { return bytes_ + capacity_; }

    void init(void *bytes, size_t size) noexcept
    {
        bytes_ = static_cast<unsigned char *>(bytes);
        capacity_ = static_cast<uint32_t>(size);
    }

    // Null when `size` does not fit: the caller takes it from the heap.
    void *allocate(size_t size) noexcept
    {
        size = (size + alignment - 1) & ~(alignment - 1);
        if (size > capacity_ - used_)
            return nullptr;
        void *p = bytes_ + used_;
        used_ += static_cast<uint32_t>(size);
        live_++;
        return p;
    }
    void release() noexcept
    {
        if (--live_ == 0)
            used_ = 0;
    }

    // The allocation most scopes take (see size_after).
    static constexpr size_t block = 1024;

private:
    static constexpr size_t min_size = 256;
    unsigned char *bytes_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t used_ = 0;
    uint32_t live_ = 0;
};

}  // namespace asgicore
