#include "net/sendfile.h"

#include <cerrno>

#if defined(__linux__)
#include <sys/sendfile.h>
#elif defined(__APPLE__)
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#else
#include <unistd.h>
#endif

namespace tsgi::net {

#if defined(__linux__)

ssize_t send_file(int sock, int file, uint64_t offset, size_t len) {
  off_t off = static_cast<off_t>(offset);
  for (;;) {
    ssize_t n = ::sendfile(sock, file, &off, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

#elif defined(__APPLE__)

// macOS: sendfile(file, socket, offset, &len, headers, flags). On EAGAIN and
// EINTR it may still have sent part, reported through len.
ssize_t send_file(int sock, int file, uint64_t offset, size_t len) {
  for (;;) {
    off_t sent = static_cast<off_t>(len);  // 0 would mean "to the end of the file"
    int rc = ::sendfile(file, sock, static_cast<off_t>(offset), &sent, nullptr, 0);
    if (rc == 0) return static_cast<ssize_t>(sent);
    if (sent > 0 && (errno == EAGAIN || errno == EINTR)) return static_cast<ssize_t>(sent);
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

#else

// Elsewhere: pread into a buffer and write it. Correct, not zero-copy.
ssize_t send_file(int sock, int file, uint64_t offset, size_t len) {
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

#endif

}  // namespace tsgi::net
