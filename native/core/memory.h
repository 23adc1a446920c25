// Giving memory back to the operating system once a burst of work is over.
// Under load the C heap grows to hold what requests had in flight (request
// bodies, replies, the core's blocks) and keeps the freed pages when the load
// ends: glibc returns only the top of its heap, and only past a threshold that
// grows with the largest block ever freed. trim() hands every whole free page
// back. It costs a walk of the heap (about a millisecond for 100 MB), so it is
// for idle moments, never for the request path.
#pragma once

#include <cstddef>

namespace tsgi::memory {

struct Trimmed {
  size_t blocks = 0;  // bytes of the core's free lists freed (this thread's)
  bool heap = false;  // whether the C library was asked to return free pages
};

// Frees this thread's recycled blocks, then asks the C library to return its
// free pages: malloc_trim(0) on glibc, malloc_zone_pressure_relief on macOS;
// elsewhere (musl, which returns large frees by itself) only the blocks.
Trimmed trim();

}  // namespace tsgi::memory
