// Client connections for the load generator: see connect.h.
#include "net/connect.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/platform.h"
#include "net/socket.h"

namespace tsgi::net {

bool resolve_peer(const std::string& text, Peer* out, std::string* error) {
  Address a;
  if (!parse_address(text, &a, error)) return false;
  Peer p;
  if (a.kind == AddrKind::kFd) {
    if (error) *error = "cannot connect to " + text + ": fd:N is for listeners";
    return false;
  }
  if (a.kind == AddrKind::kUnix || a.kind == AddrKind::kAbstract) {
    auto* un = reinterpret_cast<sockaddr_un*>(&p.addr);
    un->sun_family = AF_UNIX;
    bool abstract = a.kind == AddrKind::kAbstract;
    // An abstract name is a leading NUL then the name, not NUL-terminated.
    std::memcpy(un->sun_path + (abstract ? 1 : 0), a.host.data(), a.host.size());
    p.len = socklen_t(offsetof(sockaddr_un, sun_path) + a.host.size() + 1);
    p.host = "localhost";
    p.port = "80";
    *out = p;
    return true;
  }
  // ":8000" listens on every interface; a client means this machine.
  std::string host = a.host.empty() ? "127.0.0.1" : a.host;
  p.port = std::to_string(a.port);
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), p.port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    if (error) *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&p.addr, res->ai_addr, res->ai_addrlen);
  p.len = res->ai_addrlen;
  freeaddrinfo(res);
  p.tcp = true;
  p.host = host;
  *out = p;
  return true;
}

int connect_to(const Peer& peer, bool nodelay, bool* in_progress) {
  *in_progress = false;
  int fd = new_socket(peer.addr.ss_family);
  if (fd < 0) return fd;
  // Results ignored: a socket these fail on fails its connect or first send.
  if (peer.tcp && nodelay) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
#if !TSGI_HAVE_MSG_NOSIGNAL && defined(SO_NOSIGPIPE)
  // macOS setsockopt(2) SO_NOSIGPIPE: send_iov's writev must not raise SIGPIPE.
  {
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
  }
#endif
  for (;;) {
    if (connect(fd, reinterpret_cast<const sockaddr*>(&peer.addr), peer.len) == 0) return fd;
    if (errno == EINTR) continue;
    if (errno == EINPROGRESS) {
      *in_progress = true;
      return fd;
    }
    int e = errno;
    close(fd);
    return -e;
  }
}

int connect_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

}  // namespace tsgi::net
