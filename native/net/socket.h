// Socket calls and their portability fixes; nothing above net/ includes
// <sys/socket.h> directly. Every function returns a descriptor / 0 on success
// or -errno on failure, and sets `error` (when given) to a one-line message a
// user can act on.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>  // struct iovec: declared here it would be tsgi::net::iovec

namespace tsgi::net {

enum class AddrKind : uint8_t { kTcp, kUnix, kAbstract, kFd };

// A parsed listening address:
//   "127.0.0.1:8000", "[::1]:8000", ":8000" (all interfaces, IPv6 dual-stack
//   where available, else IPv4), "localhost:8000" (resolved, first address),
//   "/path/app.sock" or "unix:/path/app.sock", "@name" (Linux abstract socket),
//   "fd:3" (an already-listening inherited descriptor).
struct Address {
  AddrKind kind = AddrKind::kTcp;
  std::string host;   // kTcp: literal or name ("" = any); kUnix/kAbstract: path/name
  uint16_t port = 0;  // kTcp
  int fd = -1;        // kFd
};

// Parses only; names are resolved by listen_on(). A bare number is a port,
// a string with '/' a unix path. Control characters are refused.
bool parse_address(const std::string& text, Address* out, std::string* error);

struct ListenOptions {
  int backlog = 1024;
  // Unix sockets: mode applied with chmod() after bind, before listen (0 =
  // leave umask's). Refused (EINVAL) for abstract sockets, which have no file.
  uint32_t mode = 0;
  // Unix sockets: owner and group set with chown() after bind, before listen
  // (-1 = leave as created). Refused for abstract sockets, as mode is.
  int64_t owner = -1;
  int64_t group = -1;
  // SO_REUSEPORT (SO_REUSEPORT_LB on FreeBSD); ENOPROTOOPT where missing.
  bool reuse_port = false;
};

// Creates, binds and listens; the descriptor is non-blocking and close-on-exec.
// A stale unix socket file (nothing accepting on it) is removed first; a live
// one gives EADDRINUSE; a path that is not a socket gives EEXIST and is never
// removed. A name that does not resolve gives EADDRNOTAVAIL. kFd returns the
// inherited fd itself once inspect_listening() accepts it. The caller unlinks
// a unix socket's path when it closes the listener.
int listen_on(const Address& addr, const ListenOptions& opts, std::string* error);

// Accepts one connection, non-blocking and close-on-exec. Returns the fd, or
// -EAGAIN when the queue is empty, or another -errno. Errors that concern only
// the accepted connection (ECONNABORTED, EPROTO...) come back as -ECONNABORTED
// so the caller just tries again. EMFILE, ENFILE, ENOBUFS and ENOMEM are
// returned as they are: the caller backs off.
// `peer` (may be null) receives the peer's address: no getpeername() later.
int accept_conn(int listen_fd, struct sockaddr_storage* peer);

// TCP_NODELAY on TCP sockets; SO_NOSIGPIPE where it exists (Apple, BSDs).
void tune_accepted(int fd, bool is_tcp);

// Peer and local address of a connected socket as text ("127.0.0.1", "::1",
// or "" for unix sockets) and port (0 for unix).
// The same for an address already at hand (from accept_conn).
void sockaddr_name(const struct sockaddr_storage& ss, std::string* host, uint16_t* port);
void local_name(int fd, std::string* host, uint16_t* port);

// writev that never raises SIGPIPE. Returns bytes written or -errno (-EAGAIN
// when full). Past IOV_MAX entries, the rest is left for the next call.
// more: more bytes or a FIN follow at once (MSG_MORE: a TCP sender holds a
// partial segment for them; ignored where the flag does not exist).
ssize_t send_iov(int fd, const struct iovec* iov, int count, bool more = false);
// TCP_DEFER_ACCEPT (Linux): accept() only once the client has sent bytes.
// A no-op elsewhere. For listeners whose clients are web servers.
void set_defer_accept(int fd);
// read() returning bytes, 0 at EOF, or -errno.
ssize_t recv_some(int fd, char* buf, size_t len);

// shutdown(SHUT_WR): our side is done sending; the peer sees EOF.
int shutdown_write(int fd);

// TCP_NODELAY; on a listener, Linux passes it on to every accepted socket.
int set_nodelay(int fd);

int set_nonblocking(int fd);
int set_cloexec(int fd);
// socket(family, SOCK_STREAM), non-blocking and close-on-exec: the fd or -errno.
int new_socket(int family);

// Kind of the listening socket behind an inherited descriptor: true for
// AF_INET/AF_INET6 (so TCP_NODELAY applies). Fails if fd is not a listening
// stream socket.
int inspect_listening(int fd, bool* is_tcp, std::string* error);

// A second descriptor for the listening socket behind fd, close-on-exec, so
// that each of several servers (one per --threads thread) owns and closes its
// own copy while the socket lives on. The new fd, or -errno (fd is not a
// listening stream socket: -ENOTSOCK).
int dup_listener(int fd, std::string* error);

}  // namespace tsgi::net
