#include "net/file.h"

#include <climits>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/platform.h"

namespace tsgi::net {

#if TSGI_HAVE_STATX && defined(STATX_BASIC_STATS)

static bool stat_at(int dirfd, const char* path, int flags, FileStat* out) {
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

bool stat_fd(int fd, FileStat* out) { return stat_at(fd, "", AT_EMPTY_PATH, out); }
bool stat_path(const char* path, FileStat* out) { return stat_at(AT_FDCWD, path, 0, out); }

#else

static void convert(const struct stat& st, FileStat* out) {
  out->dev = static_cast<uint64_t>(st.st_dev);
  out->ino = static_cast<uint64_t>(st.st_ino);
  out->size = static_cast<uint64_t>(st.st_size);
#if TSGI_HAVE_STAT_MTIMESPEC
  out->mtime_ns = static_cast<int64_t>(st.st_mtimespec.tv_sec) * 1000000000 + st.st_mtimespec.tv_nsec;
#else
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
#endif
  out->regular = S_ISREG(st.st_mode);
  out->directory = S_ISDIR(st.st_mode);
}

bool stat_fd(int fd, FileStat* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  convert(st, out);
  return true;
}

bool stat_path(const char* path, FileStat* out) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  convert(st, out);
  return true;
}

#endif

bool fd_path(int fd, std::string* out) {
  char buf[PATH_MAX + 1];
#if TSGI_HAVE_F_GETPATH
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

}  // namespace tsgi::net
