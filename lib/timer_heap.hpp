// Min-heap of scope deadlines with removal by index: the host has one timer,
// the earliest of these.
#pragma once

#include "asgicore.h"

#include <cstddef>
#include <vector>

namespace asgicore {

struct Scope;

class TimerHeap {
public:
    static constexpr size_t npos = static_cast<size_t>(-1);

    bool empty() const noexcept { return heap_.empty(); }
    asgicore_time earliest() const noexcept;
    Scope *top() const noexcept { return heap_.empty() ? nullptr : heap_[0]; }

    // The scope's deadline and heap_index fields are used.
    void push(Scope *s);  // never allocates after reserve(size() + 1)
    void reserve(size_t n) { heap_.reserve(n); }
    size_t size() const noexcept { return heap_.size(); }
    void remove(Scope *s) noexcept;

private:
    void place(size_t i, Scope *s) noexcept;
    void sift_up(size_t i) noexcept;
    void sift_down(size_t i) noexcept;

    std::vector<Scope *> heap_;
};

}  // namespace asgicore
