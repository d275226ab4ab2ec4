#include "timer_heap.hpp"

#include "scope.hpp"

namespace asgicore {

asgicore_time TimerHeap::earliest() const noexcept
{
    return heap_.empty() ? ASGICORE_TIME_NEVER : heap_[0]->deadline;
}

void TimerHeap::place(size_t i, Scope *s) noexcept
{
    heap_[i] = s;
    s->heap_index = i;
}

void TimerHeap::push(Scope *s)
{
    heap_.push_back(s);
    s->heap_index = heap_.size() - 1;
    sift_up(s->heap_index);
}

void TimerHeap::remove(Scope *s) noexcept
{
    size_t i = s->heap_index;
    Scope *last = heap_.back();
    heap_.pop_back();
    s->heap_index = npos;
    if (i == heap_.size())
        return;
    place(i, last);
    sift_up(i);
    sift_down(last->heap_index);
}

void TimerHeap::sift_up(size_t i) noexcept
{
    Scope *s = heap_[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap_[parent]->deadline <= s->deadline)
            break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, s);
}

void TimerHeap::sift_down(size_t i) noexcept
{
    Scope *s = heap_[i];
    size_t n = heap_.size();
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n &&
            heap_[child + 1]->deadline < heap_[child]->deadline)
            child++;
        if (s->deadline <= heap_[child]->deadline)
            break;
        place(i, heap_[child]);
        i = child;
    }
    place(i, s);
}

}  // namespace asgicore
