#include "static/file_cache.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

#include "net/file.h"

namespace tsgi::files {


bool under_root(const std::string& path, const std::string& root) {
  if (root.empty() || root == "/") return true;
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

FileCache::FileCache(size_t max_entries, uint32_t valid_ms, size_t memory_max)
    : max_entries_(max_entries ? max_entries : 1), valid_ms_(valid_ms), memory_max_(memory_max) {}

FileCache::~FileCache() {
  for (Entry& e : found_) release(e);
}

void FileCache::release(Entry& e) {
  if (e.info.fd >= 0) {
    close(e.info.fd);
    e.info.fd = -1;
    open_fds_--;
  }
}

// One open, one fstat, and the containment check on what was opened.
void FileCache::fill(Entry& e, const std::string& path, const std::string& root, bool follow) {
  release(e);
  FileInfo& f = e.info;
  f = FileInfo();
  // O_NONBLOCK: opening a FIFO someone put under the root must not hang the loop.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    f.err = errno;
    return;
  }
  net::FileStat st;
  if (!net::stat_fd(fd, &st)) {
    f.err = errno;
    close(fd);
    return;
  }
  if (!follow && !root.empty()) {
    std::string real;
    bool known = net::fd_path(fd, &real);
    if (!known) {
      // No kernel name for the descriptor: fall back to resolving the path.
      char buf[PATH_MAX];
      known = realpath(path.c_str(), buf) != nullptr;
      if (known) real = buf;
    }
    if (!known || !under_root(real, root)) {
      f.err = EXDEV;
      close(fd);
      return;
    }
  }
  f.dev = st.dev;
  f.ino = st.ino;
  f.size = st.size;
  f.mtime_ns = st.mtime_ns;
  f.regular = st.regular;
  f.directory = st.directory;
  if (!f.regular) {
    close(fd);
    return;
  }
  f.etag_len = format_etag(f.etag, f.ino, f.size, f.mtime_ns);
  if (f.size <= memory_max_) {
    // Small files are sent from memory with the head, in one writev.
    f.body.resize(static_cast<size_t>(f.size));
    size_t got = 0;
    while (got < f.size) {
      ssize_t n = pread(fd, &f.body[got], f.size - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    f.in_memory = got == f.size;  // else it changed while read: send it from the descriptor
    if (!f.in_memory) f.body.clear();
  }
  f.fd = fd;
  open_fds_++;
}

// The path still names the file we hold: same inode, size and mtime.
bool FileCache::still_valid(const Entry& e, const std::string& path) {
  net::FileStat st;
  if (!net::stat_path(path.c_str(), &st)) return e.info.err != 0 && errno == e.info.err;
  const FileInfo& f = e.info;
  if (f.err != 0) return false;
  return st.dev == f.dev && st.ino == f.ino && st.size == f.size && st.mtime_ns == f.mtime_ns;
}

void FileCache::file_under(std::list<Entry>::iterator e) {
  bool miss = e->info.err != 0;
  if (miss == e->miss) return;
  std::list<Entry>& from = e->miss ? misses_ : found_;
  std::list<Entry>& to = miss ? misses_ : found_;
  to.splice(to.begin(), from, e);  // iterators stay valid across lists
  e->miss = miss;
  trim(to);
}

void FileCache::trim(std::list<Entry>& list) {
  // The bound is at least 1 and the entry in use is at the front: never evicted here.
  while (list.size() > max_entries_) {
    Entry& old = list.back();
    release(old);
    index_.erase(old.key);
    list.pop_back();
  }
}

const FileInfo* FileCache::get(const std::string& path, const std::string& root, bool follow, uint64_t now_ms) {
  key_.assign(root);
  key_.push_back('\0');
  key_.push_back(follow ? '1' : '0');
  key_.append(path);
  auto it = index_.find(key_);
  if (it != index_.end()) {
    auto e = it->second;
    std::list<Entry>& list = e->miss ? misses_ : found_;
    list.splice(list.begin(), list, e);
    if (now_ms - e->checked_ms >= valid_ms_) {
      // A symlink swapped in keeps the same stat only if it leads to the same
      // inode, which was checked when opened.
      if (!still_valid(*e, path)) {
        fill(*e, path, root, follow);
        file_under(e);
      }
      e->checked_ms = now_ms;
    }
    return &e->info;
  }
  found_.emplace_front();
  auto e = found_.begin();
  e->key = key_;
  e->checked_ms = now_ms;
  index_.emplace(e->key, e);
  fill(*e, path, root, follow);
  file_under(e);
  trim(found_);
  return &e->info;
}

}  // namespace tsgi::files
