#include "static/file_cache.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tsgi::files {

namespace {

struct Stat {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  bool regular = false, directory = false;
};

// statx(2) on Linux: glibc 2.28 has it, where stat and fstat are versioned
// 2.33 in a newer glibc's headers and the prebuilt addon must load on 2.28.
#if defined(__linux__) && defined(STATX_BASIC_STATS)
bool stat_at(int dirfd, const char* path, int flags, Stat* out) {
  struct statx sx;
  if (statx(dirfd, path, flags, STATX_TYPE | STATX_INO | STATX_SIZE | STATX_MTIME, &sx) != 0) return false;
  out->dev = (static_cast<uint64_t>(sx.stx_dev_major) << 32) | sx.stx_dev_minor;
  out->ino = sx.stx_ino;
  out->size = sx.stx_size;
  out->mtime_ns = static_cast<int64_t>(sx.stx_mtime.tv_sec) * 1000000000 + sx.stx_mtime.tv_nsec;
  out->regular = S_ISREG(sx.stx_mode);
  out->directory = S_ISDIR(sx.stx_mode);
  return true;
}
bool stat_fd(int fd, Stat* out) { return stat_at(fd, "", AT_EMPTY_PATH, out); }
bool stat_path(const char* path, Stat* out) { return stat_at(AT_FDCWD, path, 0, out); }
#else
void convert(const struct stat& st, Stat* out) {
  out->dev = static_cast<uint64_t>(st.st_dev);
  out->ino = static_cast<uint64_t>(st.st_ino);
  out->size = static_cast<uint64_t>(st.st_size);
#if defined(__APPLE__)
  out->mtime_ns = static_cast<int64_t>(st.st_mtimespec.tv_sec) * 1000000000 + st.st_mtimespec.tv_nsec;
#else
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
#endif
  out->regular = S_ISREG(st.st_mode);
  out->directory = S_ISDIR(st.st_mode);
}
bool stat_fd(int fd, Stat* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  convert(st, out);
  return true;
}
bool stat_path(const char* path, Stat* out) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  convert(st, out);
  return true;
}
#endif

}  // namespace

bool fd_path(int fd, std::string* out) {
  char buf[PATH_MAX + 1];
#if defined(__APPLE__)
  if (fcntl(fd, F_GETPATH, buf) != 0) return false;
  out->assign(buf);
  return true;
#else
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, PATH_MAX);
  if (n <= 0) return false;
  out->assign(buf, static_cast<size_t>(n));
  return true;
#endif
}

bool under_root(const std::string& path, const std::string& root) {
  if (root.empty() || root == "/") return true;
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

FileCache::FileCache(size_t max_entries, uint32_t valid_ms, size_t memory_max)
    : max_entries_(max_entries ? max_entries : 1), valid_ms_(valid_ms), memory_max_(memory_max) {}

FileCache::~FileCache() {
  for (Entry& e : lru_) release(e);
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
  Stat st;
  if (!stat_fd(fd, &st)) {
    f.err = errno;
    close(fd);
    return;
  }
  if (!follow && !root.empty()) {
    std::string real;
    bool known = fd_path(fd, &real);
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
  Stat st;
  if (!stat_path(path.c_str(), &st)) return e.info.err != 0 && errno == e.info.err;
  const FileInfo& f = e.info;
  if (f.err != 0) return false;
  return st.dev == f.dev && st.ino == f.ino && st.size == f.size && st.mtime_ns == f.mtime_ns;
}

const FileInfo* FileCache::get(const std::string& path, const std::string& root, bool follow, uint64_t now_ms) {
  key_.assign(root);
  key_.push_back('\0');
  key_.push_back(follow ? '1' : '0');
  key_.append(path);
  auto it = index_.find(key_);
  if (it != index_.end()) {
    Entry& e = *it->second;
    lru_.splice(lru_.begin(), lru_, it->second);
    if (now_ms - e.checked_ms >= valid_ms_) {
      // A symlink swapped in keeps the same stat only if it leads to the same
      // inode, which was checked when opened.
      if (!still_valid(e, path)) fill(e, path, root, follow);
      e.checked_ms = now_ms;
    }
    return &e.info;
  }
  if (index_.size() >= max_entries_) {
    Entry& old = lru_.back();
    release(old);
    index_.erase(old.key);
    lru_.pop_back();
  }
  lru_.emplace_front();
  Entry& e = lru_.front();
  e.key = key_;
  e.checked_ms = now_ms;
  index_.emplace(e.key, lru_.begin());
  fill(e, path, root, follow);
  return &e.info;
}

}  // namespace tsgi::files
