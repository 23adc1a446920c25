#include "core/memory.h"

#include "conn/blocks.h"

#if defined(__GLIBC__)
#include <malloc.h>
#elif defined(__APPLE__)
#include <malloc/malloc.h>
#endif

namespace tsgi::memory {

Trimmed trim() {
  Trimmed t;
  t.blocks = blocks::release();
#if defined(__GLIBC__)
  malloc_trim(0);
  t.heap = true;
#elif defined(__APPLE__)
  malloc_zone_pressure_relief(nullptr, 0);
  t.heap = true;
#endif
  return t;
}

}  // namespace tsgi::memory
