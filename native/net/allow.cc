#include "net/allow.h"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tsgi::net {

bool AllowList::add(const std::string& cidr, std::string* error) {
  std::string host = cidr;
  int prefix = -1;
  size_t slash = cidr.find('/');
  if (slash != std::string::npos) {
    host = cidr.substr(0, slash);
    std::string bits = cidr.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos) {
      *error = "bad network " + cidr + ": the prefix length must be a number";
      return false;
    }
    prefix = std::stoi(bits);
  }
  Net n{};
  if (inet_pton(AF_INET, host.c_str(), n.addr) == 1) {
    n.family = AF_INET;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) {
      *error = "bad network " + cidr + ": an IPv4 prefix is at most 32";
      return false;
    }
  } else if (inet_pton(AF_INET6, host.c_str(), n.addr) == 1) {
    n.family = AF_INET6;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) {
      *error = "bad network " + cidr + ": an IPv6 prefix is at most 128";
      return false;
    }
  } else {
    *error = "bad network " + cidr + ": expected an IP address or address/prefix, e.g. 10.0.0.0/8";
    return false;
  }
  n.prefix = prefix;
  nets_.push_back(n);
  return true;
}

static bool prefix_equal(const uint8_t* a, const uint8_t* b, int bits) {
  int bytes = bits / 8;
  if (std::memcmp(a, b, static_cast<size_t>(bytes)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

bool AllowList::match(int family, const uint8_t* addr) const {
  for (const Net& n : nets_) {
    if (n.family == family && prefix_equal(n.addr, addr, n.prefix)) return true;
  }
  return false;
}

bool AllowList::allows(const struct sockaddr_storage& ss) const {
  if (ss.ss_family == AF_UNIX) return true;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&ss);
    return match(AF_INET, reinterpret_cast<const uint8_t*>(&sin->sin_addr));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
    const uint8_t* a = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kMapped, 12) == 0) return match(AF_INET, a + 12);
    return match(AF_INET6, a);
  }
  return false;
}

}  // namespace tsgi::net
