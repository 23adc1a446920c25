// Addresses as text, both ways: parse_address() for listening addresses (no
// name resolution here; listen_on() resolves names such as "localhost"), and
// sockaddr_name()/local_name() for connected sockets.
#include "net/socket.h"

#include <arpa/inet.h>
#include <climits>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "net/platform.h"

namespace tsgi::net {

namespace {

// sun_path must keep room for the terminating NUL; an abstract name gives
// that byte to its leading NUL instead. 107 on Linux, 103 on macOS/BSD.
constexpr size_t kMaxSunPath = sizeof(sockaddr_un::sun_path) - 1;

// Host names and IPv6 zones: letters, digits, '.', '-', '_'.
const char kNameChars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

const char kForms[] =
    "expected PORT, HOST:PORT, [IPV6]:PORT, a unix socket path containing '/', "
    "unix:PATH, @NAME or fd:N";

// The input echoed on one line: control bytes, quotes and backslashes escaped.
std::string quote(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string q = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      q += "\\x";
      q += kHex[c >> 4];
      q += kHex[c & 15];
    } else {
      q += char(c);
    }
  }
  return q + "\"";
}

bool fail(const std::string& text, const std::string& why, std::string* error) {
  if (error) *error = "invalid address " + quote(text) + ": " + why;
  return false;
}

bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// Decimal with an overflow guard; false when above `max`.
bool to_number(const std::string& s, unsigned long max, unsigned long* out) {
  unsigned long v = 0;
  for (char c : s) {
    v = v * 10 + unsigned(c - '0');
    if (v > max) return false;
  }
  *out = v;
  return true;
}

// 0 is allowed: ":0" asks the kernel for an ephemeral port.
bool parse_port(const std::string& s, uint16_t* port, std::string* why) {
  unsigned long v;
  if (s.empty()) {
    *why = "missing port after ':'";
  } else if (!all_digits(s)) {
    *why = "port " + quote(s) + " is not a number";
  } else if (!to_number(s, 65535, &v)) {
    *why = "port " + s + " is out of range (0-65535)";
  } else {
    *port = uint16_t(v);
    return true;
  }
  return false;
}

bool is_ipv4(const std::string& s) {
  struct in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

// "fe80::1%eth0": whether the zone exists is for getaddrinfo() in listen_on().
bool is_ipv6(const std::string& s) {
  struct in6_addr a;
  size_t pct = s.find('%');
  std::string addr = s.substr(0, pct);
  if (inet_pton(AF_INET6, addr.c_str(), &a) != 1) return false;
  if (pct == std::string::npos) return true;
  std::string zone = s.substr(pct + 1);
  return !zone.empty() && zone.find_first_not_of(kNameChars) == std::string::npos;
}

bool check_host(const std::string& host, std::string* why) {
  if (host.empty() || is_ipv4(host)) return true;
  if (host == "*") {
    *why = "write \":PORT\" to listen on all interfaces";
  } else if (host.find_first_not_of("0123456789.") == std::string::npos) {
    *why = quote(host) + " is not a valid IPv4 address";
  } else if (host.size() > 253 || host.find_first_not_of(kNameChars) != std::string::npos) {
    *why = quote(host) + " is not a valid host name or IPv4 address";
  } else {
    return true;
  }
  return false;
}

bool parse_unix(const std::string& text, const std::string& path, Address* out,
                std::string* error) {
  bool abstract = !path.empty() && path[0] == '@';
  std::string name = abstract ? path.substr(1) : path;
  if (name.empty()) return fail(text, abstract ? "missing name after '@'" : "empty path", error);
#if !TSGI_HAVE_ABSTRACT_SOCKETS
  if (abstract) return fail(text, "abstract sockets (@name) are Linux-only", error);
#endif
  // Legal in a path, but nearly always a stray newline from a config file.
  if (has_control(name))
    return fail(text, std::string("the ") + (abstract ? "name" : "path") +
                          " contains a control character", error);
  if (name.size() > kMaxSunPath)
    return fail(text, std::string(abstract ? "abstract name" : "unix socket path") + " is " +
                          std::to_string(name.size()) + " bytes; the maximum is " +
                          std::to_string(kMaxSunPath),
                error);
  out->kind = abstract ? AddrKind::kAbstract : AddrKind::kUnix;
  out->host = name;
  return true;
}

// Two or more ':' without brackets: "::1:80" could be [::1]:80 or [::1:80].
bool reject_bare_ipv6(const std::string& text, std::string* error) {
  size_t colon = text.rfind(':');
  std::string head = text.substr(0, colon), tail = text.substr(colon + 1);
  if (is_ipv6(head) && all_digits(tail))
    return fail(text, "IPv6 addresses need brackets: write \"[" + head + "]:" + tail + "\"",
                error);
  if (is_ipv6(text))
    return fail(text, "IPv6 addresses need brackets and a port: write \"[" + text + "]:PORT\"",
                error);
  return fail(text, kForms, error);
}

// A dotted quad as inet_ntop writes it, without the sprintf inet_ntop uses
// for it: every TCP accept formats its peer (1,900 instructions of 33,000
// per uwsgi request went there).
void format_ipv4(const unsigned char* a, char* out) {
  char* p = out;
  for (int i = 0; i < 4; i++) {
    unsigned v = a[i];
    if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
    *p++ = static_cast<char>('0' + v % 10);
    if (i < 3) *p++ = '.';
  }
  *p = '\0';
}

// IPv4-mapped IPv6 ("::ffff:1.2.3.4") is shown as plain IPv4, as nginx does.
void format(const struct sockaddr_storage& ss, std::string* host, uint16_t* port) {
  char buf[INET6_ADDRSTRLEN] = "";
  uint16_t p = 0;
  if (ss.ss_family == AF_INET) {
    auto* s4 = reinterpret_cast<const struct sockaddr_in*>(&ss);
    format_ipv4(reinterpret_cast<const unsigned char*>(&s4->sin_addr), buf);
    p = ntohs(s4->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      format_ipv4(s6->sin6_addr.s6_addr + 12, buf);
    } else if (!inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf)) {
      buf[0] = '\0';
    }
    p = ntohs(s6->sin6_port);
  }
  if (host) *host = buf;
  if (port) *port = p;
}

}  // namespace

bool parse_address(const std::string& text, Address* out, std::string* error) {
  Address a;
  std::string why;
  if (text.empty()) return fail(text, "empty address", error);

  if (text.compare(0, 3, "fd:") == 0) {
    std::string n = text.substr(3);
    unsigned long v;
    if (!all_digits(n) || !to_number(n, INT_MAX, &v))
      return fail(text, "expected a descriptor number after \"fd:\"", error);
    a.kind = AddrKind::kFd;
    a.fd = int(v);
  } else if (text.compare(0, 5, "unix:") == 0) {
    if (!parse_unix(text, text.substr(5), &a, error)) return false;
  } else if (text.find("://") != std::string::npos) {
    return fail(text, "a URL is not an address: write HOST:PORT, without a scheme", error);
  } else if (text[0] == '@' || text.find('/') != std::string::npos) {
    if (!parse_unix(text, text, &a, error)) return false;
  } else if (all_digits(text)) {
    if (!parse_port(text, &a.port, &why)) return fail(text, why, error);
  } else if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return fail(text, "missing ']'", error);
    a.host = text.substr(1, close - 1);
    if (!is_ipv6(a.host)) return fail(text, quote(a.host) + " is not an IPv6 address", error);
    if (close + 1 == text.size() || text[close + 1] != ':')
      return fail(text, "expected \":PORT\" after ']'", error);
    if (!parse_port(text.substr(close + 2), &a.port, &why)) return fail(text, why, error);
  } else {
    size_t colon = text.find(':');
    if (colon == std::string::npos) return fail(text, kForms, error);
    if (text.find(':', colon + 1) != std::string::npos) return reject_bare_ipv6(text, error);
    a.host = text.substr(0, colon);
    if (!check_host(a.host, &why)) return fail(text, why, error);
    if (!parse_port(text.substr(colon + 1), &a.port, &why)) return fail(text, why, error);
  }
  *out = a;
  return true;
}

void sockaddr_name(const struct sockaddr_storage& ss, std::string* host, uint16_t* port) {
  format(ss, host, port);
}

void local_name(int fd, std::string* host, uint16_t* port) {
  struct sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) ss.ss_family = 0;
  format(ss, host, port);
}

}  // namespace tsgi::net
