// Which peers may talk to a listener: a list of networks ("127.0.0.1",
// "10.0.0.0/8", "::1", "fd00::/8"). The binary protocols (uwsgi, SCGI,
// FastCGI) carry no authentication, so their TCP listeners accept only
// listed peers; unix sockets are governed by file permissions instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/socket.h>

namespace tsgi::net {

class AllowList {
 public:
  // Adds one network; false with *error set if it does not parse.
  bool add(const std::string& cidr, std::string* error);
  bool empty() const { return nets_.empty(); }
  // True if the peer (as accept() gave it) is in a listed network. Unix
  // peers are always allowed. IPv4-mapped IPv6 peers match IPv4 networks.
  bool allows(const struct sockaddr_storage& peer) const;

 private:
  struct Net {
    int family;
    uint8_t addr[16];
    int prefix;
  };
  bool match(int family, const uint8_t* addr) const;
  std::vector<Net> nets_;
};

}  // namespace tsgi::net
