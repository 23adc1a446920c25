// Recycled memory blocks for connections. Every connection takes an input
// buffer and an output block; a connection-per-request protocol (uwsgi, SCGI,
// FastCGI without keep-conn) would malloc and free both per request, and the
// heap's top then grows and shrinks under load: page faults and brk calls
// that cost more than the request's own work. So blocks of the two common
// sizes go back to a small per-thread free list instead of to malloc; so
// does the 64 KiB buffer a request with a large head or body grows into.
#pragma once

#include <cstddef>

namespace tsgi::blocks {

// A block of `size` bytes (from the free list when it has one of that size);
// nullptr when memory is exhausted.
char* take(size_t size);
// Returns a block taken with the same size (or malloc'd with it).
void give(char* block, size_t size);
// Whether blocks of this size are recycled (so never realloc'd).
bool pooled(size_t size);
// Frees this thread's free lists (when the process returns idle memory);
// returns the bytes freed.
size_t release();

}  // namespace tsgi::blocks
