// Socket syscalls and their portability fixes (Linux, macOS, the BSDs).
// Addresses as text, both ways (parse_address, sockaddr_name, local_name), are
// in address.cc.
#include "net/socket.h"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/platform.h"

namespace tsgi::net {

namespace {

#ifdef IOV_MAX
constexpr int kIovMax = IOV_MAX;
#else
constexpr int kIovMax = 1024;
#endif

std::string describe(const Address& a) {
  switch (a.kind) {
    case AddrKind::kTcp:
      if (a.host.find(':') != std::string::npos)
        return "[" + a.host + "]:" + std::to_string(a.port);
      return a.host + ":" + std::to_string(a.port);
    case AddrKind::kUnix:
      return a.host;
    case AddrKind::kAbstract:
      return "@" + a.host;
    case AddrKind::kFd:
      return "fd:" + std::to_string(a.fd);
  }
  return "?";
}

std::string reason(int err) {
  std::string s = strerror(err);
  if (!s.empty()) s[0] = char(tolower(static_cast<unsigned char>(s[0])));
  return s;
}

int fail(const Address& a, int err, const std::string& why, std::string* error) {
  if (error) *error = "cannot listen on " + describe(a) + ": " + why;
  return -err;
}

int set_flag(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}

// Literal addresses first, without touching DNS or /etc/hosts; names then
// with AI_ADDRCONFIG, so "localhost" gives no IPv6 address on a host
// without IPv6. The first result wins.
int resolve(const Address& a, struct sockaddr_storage* ss, socklen_t* len,
            std::string* error) {
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
  std::string port = std::to_string(a.port);
  struct addrinfo* res = nullptr;
  int rc = getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res);
  if (rc == EAI_NONAME) {
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG;
    rc = getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res);
  }
  if (rc != 0) {
    // Not an errno: the name gives no address we can bind.
    int err = rc == EAI_MEMORY ? ENOMEM : EADDRNOTAVAIL;
    if (rc == EAI_SYSTEM && errno != 0) err = errno;
    return fail(a, err, "cannot resolve \"" + a.host + "\": " + gai_strerror(rc), error);
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = socklen_t(res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

int reuse_port(int fd) {
#if defined(SO_REUSEPORT_LB)
  // FreeBSD 12+: plain SO_REUSEPORT there does not spread connections.
  return set_flag(fd, SOL_SOCKET, SO_REUSEPORT_LB, 1);
#elif defined(SO_REUSEPORT)
  return set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
#else
  (void)fd;
  return -ENOPROTOOPT;
#endif
}

// Returns 0 or -errno with `step` naming the option that failed.
int tcp_options(int fd, int family, bool any, bool want_reuse_port, const char** step) {
  *step = "SO_REUSEADDR: ";
  int rc = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (rc == 0 && want_reuse_port) {
    *step = "reuse_port: ";
    rc = reuse_port(fd);
  }
  // An explicit IPv6 address, even "[::]", is IPv6 only, so "[::]:80" and
  // "0.0.0.0:80" can be bound side by side.
  if (rc == 0 && family == AF_INET6) {
    *step = "IPV6_V6ONLY: ";
    rc = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, any ? 0 : 1);
  }
  if (rc == 0) *step = "";
  return rc;
}

std::string bind_hint(const Address& a, int err) {
  if (err == EACCES && a.port != 0 && a.port < 1024)
    return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  if (err == EADDRNOTAVAIL) return " (no interface has this address)";
  return "";
}

int listen_tcp(const Address& a, const ListenOptions& o, std::string* error) {
  struct sockaddr_storage ss = {};
  socklen_t len = 0;
  int fd;
  bool any = a.host.empty();
  if (any) {
    // ":port": one IPv6 socket that also takes IPv4 (V6ONLY=0), or plain
    // IPv4 when the kernel has no IPv6 at all.
    auto* s6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_any;
    s6->sin6_port = htons(a.port);
    len = sizeof *s6;
    fd = new_socket(AF_INET6);
    if (fd == -EAFNOSUPPORT) {
      ss = {};
      auto* s4 = reinterpret_cast<struct sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      s4->sin_addr.s_addr = htonl(INADDR_ANY);
      s4->sin_port = htons(a.port);
      len = sizeof *s4;
      fd = new_socket(AF_INET);
    }
  } else {
    int rc = resolve(a, &ss, &len, error);
    if (rc != 0) return rc;
    fd = new_socket(ss.ss_family);
  }
  if (fd < 0) return fail(a, -fd, "cannot create socket: " + reason(-fd), error);

  const char* step = "";
  int rc = tcp_options(fd, ss.ss_family, any, o.reuse_port, &step);
  if (rc == 0 && bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) != 0) rc = -errno;
  if (rc == 0 && listen(fd, o.backlog) != 0) rc = -errno;
  if (rc != 0) {
    close(fd);
    return fail(a, -rc, step + reason(-rc) + bind_hint(a, -rc), error);
  }
  return fd;
}

// A path is NUL-terminated; an abstract name (Linux) has a leading NUL
// instead and no trailing one. Either way: offsetof + 1 + size.
bool unix_sockaddr(const Address& a, struct sockaddr_un* sun, socklen_t* len) {
  *sun = {};
  if (a.host.empty() || a.host.size() > sizeof sun->sun_path - 1) return false;
  sun->sun_family = AF_UNIX;
  size_t at = a.kind == AddrKind::kAbstract ? 1 : 0;
  memcpy(sun->sun_path + at, a.host.data(), a.host.size());
  *len = socklen_t(offsetof(struct sockaddr_un, sun_path) + 1 + a.host.size());
  return true;
}

// The file type at path, not following a symlink: 0 or errno. glibc 2.33
// turned lstat from an inline call of __lxstat64 into a symbol of its own
// (lstat64@GLIBC_2.33) that older glibc lacks; prebuilt binaries must load on
// glibc 2.28, so glibc builds ask statx (GLIBC_2.28) instead.
int path_mode(const char* path, mode_t* mode) {
#ifdef __GLIBC__
  struct statx st;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) != 0) return errno;
  *mode = st.stx_mode;
#else
  struct stat st;
  if (lstat(path, &st) != 0) return errno;
  *mode = st.st_mode;
#endif
  return 0;
}

// An existing socket file is stale when connecting to it is refused: its
// owner is gone, so it is removed. Anything else at the path is left alone.
int clear_stale(const Address& a, const struct sockaddr_un& sun, socklen_t len,
                std::string* error) {
  mode_t mode;
  if (int err = path_mode(a.host.c_str(), &mode); err != 0)
    return err == ENOENT ? 0 : fail(a, err, reason(err), error);
  if (!S_ISSOCK(mode))
    return fail(a, EEXIST, "the path exists and is not a socket (not removed)", error);
  int probe = new_socket(AF_UNIX);
  if (probe < 0) return fail(a, -probe, "cannot create socket: " + reason(-probe), error);
  int err = connect(probe, reinterpret_cast<const struct sockaddr*>(&sun), len) == 0 ? 0 : errno;
  close(probe);
  if (err == ENOENT) return 0;  // removed meanwhile
  if (err == ECONNREFUSED) {
    if (unlink(a.host.c_str()) == 0 || errno == ENOENT) return 0;
    err = errno;
    return fail(a, err, "cannot remove the stale socket: " + reason(err), error);
  }
  // Accepted, or backlog full (EAGAIN), or a datagram socket (EPROTOTYPE):
  // someone is there.
  if (err == 0 || err == EAGAIN || err == EINPROGRESS || err == EPROTOTYPE)
    return fail(a, EADDRINUSE, "the socket is in use by another process", error);
  return fail(a, err, "cannot check whether the existing socket is in use: " + reason(err),
              error);
}

// The mode is applied between bind() and listen(). No umask juggling is
// needed for that window: until listen(), connect() is refused whatever the
// file's mode. (umask is also process-wide, and Node's threads create files.)
int listen_local(const Address& a, const ListenOptions& o, std::string* error) {
  bool abstract = a.kind == AddrKind::kAbstract;
#if !TSGI_HAVE_ABSTRACT_SOCKETS
  if (abstract) return fail(a, EAFNOSUPPORT, "abstract sockets (@name) are Linux-only", error);
#endif
  // No file, so no mode: any process in the network namespace may connect.
  // Refused rather than ignored, since the caller asked for access control.
  if (abstract && o.mode != 0)
    return fail(a, EINVAL, "a mode cannot be applied to an abstract socket", error);
  if (abstract && (o.owner >= 0 || o.group >= 0))
    return fail(a, EINVAL, "an owner cannot be given to an abstract socket", error);
  struct sockaddr_un sun;
  socklen_t len;
  if (!unix_sockaddr(a, &sun, &len))
    return fail(a, ENAMETOOLONG, "empty or longer than " +
                                     std::to_string(sizeof sun.sun_path - 1) + " bytes", error);
  int rc = abstract ? 0 : clear_stale(a, sun, len, error);
  if (rc != 0) return rc;
  int fd = new_socket(AF_UNIX);
  if (fd < 0) return fail(a, -fd, "cannot create socket: " + reason(-fd), error);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sun), len) != 0) {
    int err = errno;
    close(fd);
    // Abstract: a live owner. Path: lost a race with another process.
    if (err == EADDRINUSE) return fail(a, err, "the socket is in use by another process", error);
    return fail(a, err, reason(err), error);
  }
  const char* step = "";
  if (!abstract && o.mode != 0 && chmod(a.host.c_str(), mode_t(o.mode)) != 0) {
    rc = -errno;
    step = "chmod: ";
  }
  if (rc == 0 && !abstract && (o.owner >= 0 || o.group >= 0) &&
      chown(a.host.c_str(), o.owner >= 0 ? uid_t(o.owner) : uid_t(-1), o.group >= 0 ? gid_t(o.group) : gid_t(-1)) != 0) {
    rc = -errno;
    step = "chown: ";
  }
  if (rc == 0 && listen(fd, o.backlog) != 0) rc = -errno;
  if (rc != 0) {
    close(fd);
    if (!abstract) unlink(a.host.c_str());  // ours, bound just above; best effort
    return fail(a, -rc, step + reason(-rc), error);
  }
  return fd;
}

int why_fail(int err, const std::string& text, std::string* why) {
  *why = text;
  return -err;
}

// Returns 0 or -errno with `why` set.
int inspect(int fd, bool* is_tcp, std::string* why) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    int err = errno;
    if (err == ENOTSOCK) return why_fail(err, "not a socket", why);
    if (err == EBADF) return why_fail(err, "not an open descriptor", why);
    return why_fail(err, reason(err), why);
  }
  if (type != SOCK_STREAM) return why_fail(EINVAL, "not a stream socket", why);
#ifdef SO_ACCEPTCONN
  int listening = 0;
  len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    int err = errno;
    return why_fail(err, "SO_ACCEPTCONN: " + reason(err), why);
  }
  if (!listening) return why_fail(EINVAL, "the socket is not listening", why);
#endif
  struct sockaddr_storage ss = {};
  len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    int err = errno;
    return why_fail(err, "getsockname: " + reason(err), why);
  }
  int family = ss.ss_family;
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
    return why_fail(EAFNOSUPPORT, "unsupported address family " + std::to_string(family), why);
  *is_tcp = family != AF_UNIX;
  return 0;
}

int listen_fd(const Address& a, std::string* error) {
  bool is_tcp;
  std::string why;
  int rc = inspect(a.fd, &is_tcp, &why);
  if (rc != 0) return fail(a, -rc, why, error);
  if ((rc = set_nonblocking(a.fd)) != 0 || (rc = set_cloexec(a.fd)) != 0)
    return fail(a, -rc, reason(-rc), error);
  return a.fd;
}

}  // namespace

// Non-blocking and close-on-exec from the start where the kernel allows it;
// macOS socket(2) has no such type flags, so fcntl follows there.
int new_socket(int family) {
#if TSGI_HAVE_SOCK_FLAGS
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
#else
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  int rc = set_nonblocking(fd);
  if (rc == 0) rc = set_cloexec(fd);
  if (rc != 0) close(fd);
  return rc != 0 ? rc : fd;
#endif
}

int listen_on(const Address& addr, const ListenOptions& opts, std::string* error) {
  switch (addr.kind) {
    case AddrKind::kTcp:
      return listen_tcp(addr, opts, error);
    case AddrKind::kUnix:
    case AddrKind::kAbstract:
      return listen_local(addr, opts, error);
    case AddrKind::kFd:
      return listen_fd(addr, error);
  }
  return fail(addr, EINVAL, "unknown address kind", error);
}

int accept_conn(int listen_fd, struct sockaddr_storage* peer) {
  for (;;) {
    socklen_t peer_len = sizeof(struct sockaddr_storage);
    struct sockaddr* sa = reinterpret_cast<struct sockaddr*>(peer);
    if (peer) peer->ss_family = AF_UNSPEC;
#if TSGI_HAVE_ACCEPT4
    int fd = accept4(listen_fd, sa, peer ? &peer_len : nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return fd;
#else
    // macOS accept(2): no accept4, and the new socket does not inherit
    // O_NONBLOCK on every BSD, so both flags are set here. A fork+exec on
    // another thread between accept and fcntl could inherit it; tsgi's own
    // children are spawned by Node, which closes what it does not pass.
    int fd = accept(listen_fd, sa, peer ? &peer_len : nullptr);
    if (fd >= 0) {
      int rc = set_nonblocking(fd);
      if (rc == 0) rc = set_cloexec(fd);
      if (rc == 0) return fd;
      // Not seen in practice; lose this one connection, keep the listener.
      close(fd);
      return -ECONNABORTED;
    }
#endif
    switch (errno) {
      case EINTR:
        continue;
#if EWOULDBLOCK != EAGAIN
      case EWOULDBLOCK:
#endif
      case EAGAIN:
        return -EAGAIN;
      // Errors of the one connection, not of the listener. Linux passes the
      // new socket's pending network errors through accept4() (see its man
      // page); EPERM is a firewall refusing it.
      case ECONNABORTED:
      case EPROTO:
      case EPERM:
      case ENOPROTOOPT:
      case EHOSTDOWN:
#ifdef ENONET
      case ENONET:
#endif
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
      case ENETDOWN:
        return -ECONNABORTED;
      default:  // EMFILE, ENFILE, ENOBUFS, ENOMEM...: the caller backs off
        return -errno;
    }
  }
}

void tune_accepted(int fd, bool is_tcp) {
  // Results ignored on purpose: nothing to report them to, and a socket that
  // failed here (reset already) reports it on its first read.
#if !TSGI_HAVE_INHERITED_NODELAY
  if (is_tcp) (void)set_flag(fd, IPPROTO_TCP, TCP_NODELAY, 1);
#else
  (void)is_tcp;
#endif
#if !TSGI_HAVE_MSG_NOSIGNAL && defined(SO_NOSIGPIPE)
  // macOS setsockopt(2) SO_NOSIGPIPE: where send(2) has no MSG_NOSIGNAL, the
  // socket itself is told not to raise SIGPIPE.
  (void)set_flag(fd, SOL_SOCKET, SO_NOSIGPIPE, 1);
#endif
  (void)fd;
}

ssize_t send_iov(int fd, const struct iovec* iov, int count, bool more) {
  if (count < 0) return -EINVAL;
  // More would fail with EMSGSIZE/EINVAL; a short write the caller handles.
  if (count > kIovMax) count = kIovMax;
  for (;;) {
#if TSGI_HAVE_MSG_NOSIGNAL
    struct msghdr msg = {};
    msg.msg_iov = const_cast<struct iovec*>(iov);
    msg.msg_iovlen = count;
    int flags = MSG_NOSIGNAL;
#if TSGI_HAVE_MSG_MORE
    if (more) flags |= MSG_MORE;
#else
    (void)more;
#endif
    ssize_t n = sendmsg(fd, &msg, flags);
#else
    (void)more;
    // macOS: no MSG_NOSIGNAL (macOS send(2)); SO_NOSIGPIPE was set on the
    // socket (tune_accepted, connect_to), so writev cannot raise SIGPIPE.
    // The forced portable build on Linux takes this path too, where
    // SO_NOSIGPIPE does not exist: there a write to a reset peer raises
    // SIGPIPE, which Node ignores process-wide from start-up (its
    // signal(SIGPIPE, SIG_IGN); a JS 'SIGPIPE' listener is a handler, not the
    // default action), so writev fails with EPIPE as on macOS.
    ssize_t n = writev(fd, iov, count);
#endif
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

ssize_t recv_some(int fd, char* buf, size_t len) {
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

int set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  if ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
  return 0;
}

int set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return -errno;
  if ((flags & FD_CLOEXEC) == 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return -errno;
  return 0;
}

int inspect_listening(int fd, bool* is_tcp, std::string* error) {
  std::string why;
  int rc = inspect(fd, is_tcp, &why);
  if (rc != 0 && error) *error = "fd:" + std::to_string(fd) + ": " + why;
  return rc;
}

int dup_listener(int fd, std::string* error) {
  bool is_tcp = false;
  if (inspect_listening(fd, &is_tcp, error) != 0) return -ENOTSOCK;
  // F_DUPFD_CLOEXEC: no window in which a fork+exec elsewhere inherits it.
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    int e = errno;
    if (error) *error = "fd:" + std::to_string(fd) + ": dup: " + std::strerror(e);
    return -e;
  }
  return copy;
}

void set_defer_accept(int fd) {
#if TSGI_HAVE_TCP_DEFER_ACCEPT
  // Seconds a silent client stays unaccepted; after it the kernel hands the
  // connection over anyway (and our header timeout applies).
  (void)set_flag(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
#else
  (void)fd;
#endif
}

int shutdown_write(int fd) {
  return ::shutdown(fd, SHUT_WR) == 0 ? 0 : -errno;
}

int set_nodelay(int fd) {
  return set_flag(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

}  // namespace tsgi::net
