// The client side of net/: where to connect (the same address forms as a
// listener, parsed by parse_address) and a non-blocking connect. Used by the
// load generator (loadgen/); the server never connects out.
#pragma once

#include <string>
#include <sys/socket.h>

namespace tsgi::net {

struct Peer {
  struct sockaddr_storage addr = {};
  socklen_t len = 0;
  bool tcp = false;
  std::string host;  // "127.0.0.1", "::1", "localhost" for unix sockets
  std::string port;  // "8000"; "80" for unix sockets (SERVER_PORT)
};

// "host:port", "[v6]:port", ":port" and "port" (loopback), "/path",
// "unix:/path", "@name". Names are resolved here (first address).
bool resolve_peer(const std::string& text, Peer* out, std::string* error);

// A non-blocking, close-on-exec stream socket connecting to `peer`: the fd, or
// -errno. *in_progress is true when the handshake is not done yet (EINPROGRESS:
// wait for writability); a refused unix connect (-ECONNREFUSED, -EAGAIN when
// the backlog is full) fails here. TCP_NODELAY when `nodelay`; SO_NOSIGPIPE
// where it exists, so send_iov never raises SIGPIPE.
int connect_to(const Peer& peer, bool nodelay, bool* in_progress);

// The pending error of a socket whose connect was in progress (0 when it
// connected), from SO_ERROR.
int connect_error(int fd);

}  // namespace tsgi::net
