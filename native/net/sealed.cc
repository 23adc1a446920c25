#include "net/sealed.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "net/platform.h"

#if TSGI_LINUX_PATHS
#include <sys/mman.h>
#endif

namespace tsgi::net {

namespace {

// Writes all of [data, data+len) from offset 0. False with errno set.
bool write_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

int close_keeping_errno(int fd) {
  int err = errno;
  ::close(fd);
  return -err;
}

#if TSGI_LINUX_PATHS && defined(MFD_ALLOW_SEALING) && defined(F_ADD_SEALS)
#define TSGI_SEAL_MEMFD 1
// -ENOSYS or -EINVAL where the kernel has no memfd or no sealing (before
// 3.17): the caller then takes the file.
int seal_memfd(const char* data, size_t len) {
  int fd = ::memfd_create("tsgi-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  if (!write_all(fd, data, len)) return close_keeping_errno(fd);
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return close_keeping_errno(fd);
  }
  return fd;
}
#else
#define TSGI_SEAL_MEMFD 0
#endif

// The file: made 0600 by mkstemp, opened a second time read-only, unlinked,
// filled through the first descriptor, which is then closed. From then on
// the only way to the bytes is the read-only descriptor.
int seal_file(const char* data, size_t len, const char* tmpdir) {
  std::string dir = tmpdir && *tmpdir ? tmpdir : "";
  if (dir.empty()) {
    const char* env = std::getenv("TMPDIR");
    dir = env && *env ? env : "/tmp";
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string path = dir + "/tsgi-sealed-XXXXXX";
  int w = ::mkstemp(path.data());
  if (w < 0) return -errno;
  int r = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  int err = r < 0 ? errno : 0;
  ::unlink(path.c_str());
  if (r < 0) {
    ::close(w);
    return -err;
  }
  if (!write_all(w, data, len)) {
    err = errno;
    ::close(w);
    ::close(r);
    return -err;
  }
  ::close(w);
  return r;
}

}  // namespace

int seal_bytes(const void* data, size_t len, const char* tmpdir) {
  const char* bytes = static_cast<const char*>(data);
#if TSGI_SEAL_MEMFD
  int fd = seal_memfd(bytes, len);
  if (fd >= 0 || (fd != -ENOSYS && fd != -EINVAL)) return fd;
#endif
  return seal_file(bytes, len, tmpdir);
}

const char* seal_kind() {
  return TSGI_SEAL_MEMFD ? "memfd" : "file";
}

}  // namespace tsgi::net
