#include "messages.hpp"

#include <cstring>
#include <new>

namespace asgicore {

namespace {

// From the arena when it fits, else from the heap; `*from` says which.
void *allocate(ScopeArena *arena, size_t size, ScopeArena **from) noexcept
{
    if (arena) {
        if (void *p = arena->allocate(size)) {
            *from = arena;
            return p;
        }
    }
    *from = nullptr;
    return ::operator new(size, std::nothrow);
}

void release(ScopeArena *from, void *block) noexcept
{
    if (from)
        from->release();
    else
        ::operator delete(block);
}

}  // namespace

BodyChunk *BodyChunk::make(ScopeArena *arena, const void *data, size_t len,
                           bool last) noexcept
{
    ScopeArena *from;
    void *mem = allocate(arena, sizeof(BodyChunk) + len, &from);
    if (!mem)
        return nullptr;
    auto *chunk = new (mem) BodyChunk{nullptr, from, len, last};
    if (len && data)  // without data: the caller fills it
        std::memcpy(chunk->data(), data, len);
    return chunk;
}

void BodyChunk::destroy(BodyChunk *chunk) noexcept
{
    ScopeArena *from = chunk->arena;
    chunk->~BodyChunk();
    release(from, chunk);
}

BodyChunk *merge_front(Fifo<BodyChunk> &body, size_t limit,
                       ScopeArena *arena) noexcept
{
    size_t total = 0;
    size_t count = 0;
    for (BodyChunk *c = body.front(); c && total + c->len <= limit;
         c = c->next) {
        total += c->len;
        count++;
        if (c->last)
            break;
    }
    if (count < 2)
        return nullptr;
    BodyChunk *merged = BodyChunk::make(arena, nullptr, total, false);
    if (!merged)
        return nullptr;
    char *to = merged->data();
    while (count--) {
        BodyChunk *c = body.pop();
        if (c->len)
            std::memcpy(to, c->data(), c->len);
        to += c->len;
        merged->last = c->last;
        BodyChunk::destroy(c);
    }
    return merged;
}

size_t headers_storage_size(const asgicore_header *headers,
                            size_t count) noexcept
{
    size_t size = count * sizeof(asgicore_header);
    for (size_t i = 0; i < count; i++)
        size += headers[i].name.len + headers[i].value.len;
    return size;
}

asgicore_header *copy_headers(const asgicore_header *headers, size_t count,
                              char *storage) noexcept
{
    auto *copy = reinterpret_cast<asgicore_header *>(storage);
    char *bytes = storage + count * sizeof(asgicore_header);
    for (size_t i = 0; i < count; i++) {
        const asgicore_str *from[2] = {&headers[i].name, &headers[i].value};
        asgicore_str *to[2] = {&copy[i].name, &copy[i].value};
        for (int k = 0; k < 2; k++) {
            if (from[k]->len)
                std::memcpy(bytes, from[k]->data, from[k]->len);
            to[k]->data = bytes;
            to[k]->len = from[k]->len;
            bytes += from[k]->len;
        }
    }
    return count ? copy : nullptr;
}

namespace {

OutMessage *make_message(ScopeArena *arena, OutKind kind, size_t extra) noexcept
{
    ScopeArena *from;
    void *mem = allocate(arena, sizeof(OutMessage) + extra, &from);
    if (!mem)
        return nullptr;
    return new (mem) OutMessage{nullptr, from,    kind, false,   false,
                                0,       nullptr, 0,    nullptr, 0};
}

char *storage_of(OutMessage *msg) noexcept
{
    return reinterpret_cast<char *>(msg + 1);
}

}  // namespace

OutMessage *OutMessage::make_head(ScopeArena *arena, int status,
                                  const asgicore_header *headers, size_t count,
                                  bool has_trailers) noexcept
{
    OutMessage *msg = make_message(arena, OutKind::head,
                                   headers_storage_size(headers, count));
    if (!msg)
        return nullptr;
    msg->status = status;
    msg->has_trailers = has_trailers;
    msg->headers = copy_headers(headers, count, storage_of(msg));
    msg->header_count = count;
    return msg;
}

OutMessage *OutMessage::make_body(ScopeArena *arena, const void *data,
                                  size_t len, bool last) noexcept
{
    OutMessage *msg = make_message(arena, OutKind::body, len);
    if (!msg)
        return nullptr;
    if (len)
        std::memcpy(storage_of(msg), data, len);
    msg->data = storage_of(msg);
    msg->len = len;
    msg->last = last;
    return msg;
}

OutMessage *OutMessage::make_raw(ScopeArena *arena, const void *data,
                                 size_t len, bool last) noexcept
{
    OutMessage *msg = make_body(arena, data, len, last);
    if (msg)
        msg->kind = OutKind::raw;
    return msg;
}

OutMessage *OutMessage::make_raw2(ScopeArena *arena, const void *head,
                                  size_t head_len, const void *data,
                                  size_t len) noexcept
{
    OutMessage *msg = make_message(arena, OutKind::raw, head_len + len);
    if (!msg)
        return nullptr;
    std::memcpy(storage_of(msg), head, head_len);
    if (len)
        std::memcpy(storage_of(msg) + head_len, data, len);
    msg->data = storage_of(msg);
    msg->len = head_len + len;
    msg->last = false;
    return msg;
}

OutMessage *OutMessage::make_trailers(ScopeArena *arena,
                                      const asgicore_header *headers,
                                      size_t count, bool last) noexcept
{
    OutMessage *msg = make_message(arena, OutKind::trailers,
                                   headers_storage_size(headers, count));
    if (!msg)
        return nullptr;
    msg->headers = copy_headers(headers, count, storage_of(msg));
    msg->header_count = count;
    msg->last = last;
    return msg;
}

void OutMessage::destroy(OutMessage *msg) noexcept
{
    ScopeArena *from = msg->arena;
    msg->~OutMessage();
    release(from, msg);
}

}  // namespace asgicore
