#include "net/notify.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace tsgi::net {

int sd_notify(const std::string& socket_path, const std::string& message) {
  struct sockaddr_un sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (socket_path.size() < 2 || socket_path.size() >= sizeof sa.sun_path) return -EINVAL;
  if (socket_path[0] != '/' && socket_path[0] != '@') return -EINVAL;
  std::memcpy(sa.sun_path, socket_path.data(), socket_path.size());
  if (socket_path[0] == '@') sa.sun_path[0] = '\0';  // abstract namespace (Linux)
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + socket_path.size() +
                                         (socket_path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) return -errno;
  (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  ssize_t n;
  do {
    n = sendto(fd, message.data(), message.size(), 0, reinterpret_cast<struct sockaddr*>(&sa), len);
  } while (n < 0 && errno == EINTR);
  int rc = n < 0 ? -errno : 0;
  close(fd);
  return rc;
}

}  // namespace tsgi::net
