#include "conn/blocks.h"

#include <cstdlib>
#include <vector>

namespace tsgi::blocks {
namespace {

// The two sizes every connection uses (Connection's first input buffer,
// OutQueue's block). Anything else goes straight to malloc.
constexpr size_t kSizes[] = {8 * 1024, 16 * 1024};
// Per size and thread: enough for a burst of a few hundred connections,
// at most 6 MiB held.
constexpr size_t kKeep = 256;

struct FreeLists {
  std::vector<char*> lists[2];
  ~FreeLists() {
    for (auto& list : lists)
      for (char* b : list) std::free(b);
  }
};

thread_local FreeLists free_lists;

int index_of(size_t size) {
  for (int i = 0; i < 2; i++)
    if (kSizes[i] == size) return i;
  return -1;
}

}  // namespace

char* take(size_t size) {
  int i = index_of(size);
  if (i >= 0 && !free_lists.lists[i].empty()) {
    char* b = free_lists.lists[i].back();
    free_lists.lists[i].pop_back();
    return b;
  }
  return static_cast<char*>(std::malloc(size));
}

void give(char* block, size_t size) {
  if (!block) return;
  int i = index_of(size);
  if (i >= 0 && free_lists.lists[i].size() < kKeep) {
    free_lists.lists[i].push_back(block);
    return;
  }
  std::free(block);
}

}  // namespace tsgi::blocks
