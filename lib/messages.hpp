// Request body chunks and response messages, each one block holding its
// bytes (in its scope's arena when it fits, else on the heap), queued in
// FIFO order.
#pragma once

#include "asgicore.h"
#include "scope_arena.hpp"

#include <cstddef>

namespace asgicore {

struct BodyChunk {
    BodyChunk *next;
    ScopeArena *arena;  // where it lives; null: the heap
    size_t len;
    bool last;  // the host said the body ends here
    char *data() noexcept { return reinterpret_cast<char *>(this + 1); }

    static BodyChunk *make(ScopeArena *arena, const void *data, size_t len,
                           bool last) noexcept;
    static void destroy(BodyChunk *chunk) noexcept;
};

enum class OutKind : unsigned char { head, body, trailers, raw };

struct OutMessage {
    OutMessage *next;
    ScopeArena *arena;  // where it lives; null: the heap
    OutKind kind;
    bool last;          // the response ends with this message
    bool has_trailers;  // head only
    int status;         // head only
    asgicore_header *headers;
    size_t header_count;
    const char *data;  // body only
    size_t len;

    static OutMessage *make_head(ScopeArena *arena, int status,
                                 const asgicore_header *headers, size_t count,
                                 bool has_trailers) noexcept;
    static OutMessage *make_body(ScopeArena *arena, const void *data,
                                 size_t len, bool last) noexcept;
    // Bytes of a connection taken over (a WebSocket's frames).
    static OutMessage *make_raw(ScopeArena *arena, const void *data, size_t len,
                                bool last) noexcept;
    // The same from two pieces (a frame's header and its payload).
    static OutMessage *make_raw2(ScopeArena *arena, const void *head,
                                 size_t head_len, const void *data,
                                 size_t len) noexcept;
    static OutMessage *make_trailers(ScopeArena *arena,
                                     const asgicore_header *headers,
                                     size_t count, bool last) noexcept;
    static void destroy(OutMessage *msg) noexcept;
};

// FIFO of nodes with a `next` pointer; owns nothing, the caller destroys.
template <class Node>
class Fifo {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    Node *front() const noexcept { return head_; }
    Node *back() const noexcept { return tail_; }

    void push(Node *n) noexcept
    {
        n->next = nullptr;
        if (tail_)
            tail_->next = n;
        else
            head_ = n;
        tail_ = n;
    }

    Node *pop() noexcept
    {
        Node *n = head_;
        if (n) {
            head_ = n->next;
            if (!head_)
                tail_ = nullptr;
            n->next = nullptr;
        }
        return n;
    }

    void clear() noexcept
    {
        while (Node *n = pop())
            Node::destroy(n);
    }

private:
    Node *head_ = nullptr;
    Node *tail_ = nullptr;
};

// The chunks at the front of `body` merged into one, up to `limit` bytes;
// null when fewer than two fit or there is no memory, and then `body` is
// unchanged.
BodyChunk *merge_front(Fifo<BodyChunk> &body, size_t limit,
                       ScopeArena *arena) noexcept;

// Bytes needed to copy a header array (the array, then the name and value
// bytes), and the copy itself into `storage` sized that way.
size_t headers_storage_size(const asgicore_header *headers,
                            size_t count) noexcept;
asgicore_header *copy_headers(const asgicore_header *headers, size_t count,
                              char *storage) noexcept;

}  // namespace asgicore
