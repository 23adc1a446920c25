#include "conn/blocks.h"

#include <cstdlib>
#include <vector>

namespace tsgi::blocks {
namespace {

// The sizes connections use: Connection's first input buffer, OutQueue's
// block, and the input buffer of a burst (a large head or body). Anything
// else goes straight to malloc.
constexpr size_t kSizes[] = {8 * 1024, 16 * 1024, 64 * 1024};
constexpr int kClasses = 3;
// Per size and thread: enough for a burst of a few hundred connections;
// at most 2 + 4 + 4 MiB held.
constexpr size_t kKeep[] = {256, 256, 64};

struct FreeLists {
  std::vector<char*> lists[kClasses];
  ~FreeLists() {
    for (auto& list : lists)
      for (char* b : list) std::free(b);
  }
};

thread_local FreeLists free_lists;

int index_of(size_t size) {
  for (int i = 0; i < kClasses; i++)
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
  if (i >= 0 && free_lists.lists[i].size() < kKeep[i]) {
    free_lists.lists[i].push_back(block);
    return;
  }
  std::free(block);
}

bool pooled(size_t size) { return index_of(size) >= 0; }

size_t release() {
  size_t freed = 0;
  for (int i = 0; i < kClasses; i++) {
    for (char* b : free_lists.lists[i]) std::free(b);
    freed += free_lists.lists[i].size() * kSizes[i];
    free_lists.lists[i].clear();
    free_lists.lists[i].shrink_to_fit();
  }
  return freed;
}

}  // namespace tsgi::blocks
