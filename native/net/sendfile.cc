#include "net/sendfile.h"

#include <cerrno>
#include <unistd.h>

#include "net/platform.h"

#if TSGI_HAVE_LINUX_SENDFILE
#include <sys/sendfile.h>
#elif TSGI_HAVE_DARWIN_SENDFILE
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#endif

namespace tsgi::net {

namespace {

// pread into a buffer and write it: correct, not zero-copy. The whole path
// where there is no sendfile (and in the forced portable build); elsewhere
// the fallback for files sendfile refuses. Bytes read but not taken by the
// socket are read again on the next call, from the offset the caller keeps.
// write(2) may raise SIGPIPE where the socket has no SO_NOSIGPIPE; see
// send_iov in socket.cc for why that is safe under Node.
ssize_t read_write(int sock, int file, uint64_t offset, size_t len) {
  char buf[64 * 1024];
  if (len > sizeof buf) len = sizeof buf;
  ssize_t got;
  do {
    got = ::pread(file, buf, len, static_cast<off_t>(offset));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return got < 0 ? -errno : 0;
  for (;;) {
    ssize_t n = ::write(sock, buf, static_cast<size_t>(got));
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

#if TSGI_HAVE_LINUX_SENDFILE || TSGI_HAVE_DARWIN_SENDFILE
// The errnos with which sendfile refuses this kind of file or socket rather
// than failing the transfer; libuv (uv__fs_sendfile) falls back to read +
// write on the same ones. Linux: files without splice support (some /proc
// files) give EINVAL. macOS sendfile(2): ENOTSUP when the file is not a
// regular file or the socket not a stream socket.
bool refused(int err) {
  switch (err) {
    case EINVAL:
    case ENOSYS:
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
      return true;
    default:
      return false;
  }
}
#endif

}  // namespace

#if TSGI_HAVE_LINUX_SENDFILE

ssize_t send_file(int sock, int file, uint64_t offset, size_t len) {
  off_t off = static_cast<off_t>(offset);
  for (;;) {
    ssize_t n = ::sendfile(sock, file, &off, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (refused(errno)) return read_write(sock, file, offset, len);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

#elif TSGI_HAVE_DARWIN_SENDFILE

// macOS sendfile(2): sendfile(file, socket, offset, &len, headers, flags). On
// EAGAIN and EINTR it may still have sent part, reported through len.
ssize_t send_file(int sock, int file, uint64_t offset, size_t len) {
  for (;;) {
    off_t sent = static_cast<off_t>(len);  // 0 would mean "to the end of the file"
    int rc = ::sendfile(file, sock, static_cast<off_t>(offset), &sent, nullptr, 0);
    if (rc == 0) return static_cast<ssize_t>(sent);
    if (sent > 0 && (errno == EAGAIN || errno == EINTR)) return static_cast<ssize_t>(sent);
    if (errno == EINTR) continue;
    if (refused(errno)) return read_write(sock, file, offset, len);
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

#else

ssize_t send_file(int sock, int file, uint64_t offset, size_t len) {
  return read_write(sock, file, offset, len);
}

#endif

}  // namespace tsgi::net
