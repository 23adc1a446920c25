// The open-file cache: what a request for a static file needs of it (an open
// descriptor, size, times, entity tag; a small file's bytes), kept between
// requests so a hot file costs no open(2) or fstat(2). Bounded by a count of
// entries, least recently used out first; an entry older than the validity
// interval is checked against the path with one stat(2) before use and
// reopened if the file there changed, as nginx's open_file_cache does. A
// failed open (no such file) is cached too: --check-static asks about every
// path the app serves. Failures have a list and a bound of their own, so a
// flood of requests for missing paths (or an app's many routes under
// --check-static) never pushes a hot file out of the cache.
//
// Containment: a file is served only when the descriptor opened lies under
// its root, checked on the descriptor itself (its path from the kernel, not
// the name asked), so a symlink swapped in between a check and the open
// cannot redirect it. `follow` lifts the rule for symlinks that leave.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "static/rules.h"

namespace tsgi::files {

struct FileInfo {
  int err = 0;          // 0, or the errno of a failed open (ENOENT, EACCES, ...);
                        // EXDEV: it lies outside its root
  bool regular = false;
  bool directory = false;
  int fd = -1;          // regular files: open, owned by the cache
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  char etag[kEtagMax];
  size_t etag_len = 0;
  bool in_memory = false;  // small files: body holds the whole file
  std::string body;
};

class FileCache {
 public:
  FileCache(size_t max_entries, uint32_t valid_ms, size_t memory_max);
  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // The file at `path` (absolute), opened under `root` (a real path, no
  // trailing slash; "" for none), revalidated when older than valid_ms.
  // The pointer is good until the next call.
  const FileInfo* get(const std::string& path, const std::string& root, bool follow, uint64_t now_ms);

  size_t size() const { return index_.size(); }
  size_t open_fds() const { return open_fds_; }

 private:
  struct Entry {
    std::string key;
    FileInfo info;
    uint64_t checked_ms = 0;
    bool miss = false;  // in misses_ (info.err != 0), else in found_
  };
  void fill(Entry& e, const std::string& path, const std::string& root, bool follow);
  bool still_valid(const Entry& e, const std::string& path);
  void release(Entry& e);
  // Moves e (at the front of its list) to the list its info now belongs to.
  void file_under(std::list<Entry>::iterator e);
  void trim(std::list<Entry>& list);

  size_t max_entries_;
  uint32_t valid_ms_;
  size_t memory_max_;
  size_t open_fds_ = 0;
  // Most recent first; each at most max_entries_ long.
  std::list<Entry> found_;   // files and directories
  std::list<Entry> misses_;  // failed opens
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::string key_;  // scratch
};

// Whether `path` is `root` or lies under it (both real paths).
bool under_root(const std::string& path, const std::string& root);

}  // namespace tsgi::files
