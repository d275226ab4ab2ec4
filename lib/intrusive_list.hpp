// Intrusive doubly linked list: queue membership costs no allocation.
#pragma once

namespace asgicore {

template <class T>
struct ListLink {
    ListLink *prev = nullptr;
    ListLink *next = nullptr;
    T *owner = nullptr;
    bool linked() const noexcept { return prev != nullptr; }
};

template <class T, ListLink<T> T::*Link>
class IntrusiveList {
public:
    IntrusiveList() noexcept { head_.prev = head_.next = &head_; }
    IntrusiveList(const IntrusiveList &) = delete;
    IntrusiveList &operator=(const IntrusiveList &) = delete;

    bool empty() const noexcept { return head_.next == &head_; }

    void push_back(T *item) noexcept
    {
        ListLink<T> &l = item->*Link;
        l.owner = item;
        l.prev = head_.prev;
        l.next = &head_;
        head_.prev->next = &l;
        head_.prev = &l;
    }

    static void remove(T *item) noexcept
    {
        ListLink<T> &l = item->*Link;
        l.prev->next = l.next;
        l.next->prev = l.prev;
        l.prev = l.next = nullptr;
    }

    T *front() const noexcept { return empty() ? nullptr : head_.next->owner; }

    T *pop_front() noexcept
    {
        T *item = front();
        if (item)
            remove(item);
        return item;
    }

    // Moves every element of `from` to the end of this list.
    void splice_back(IntrusiveList &from) noexcept
    {
        if (from.empty())
            return;
        ListLink<T> *first = from.head_.next;
        ListLink<T> *last = from.head_.prev;
        from.head_.prev = from.head_.next = &from.head_;
        first->prev = head_.prev;
        head_.prev->next = first;
        last->next = &head_;
        head_.prev = last;
    }

private:
    ListLink<T> head_;
};

}  // namespace asgicore
