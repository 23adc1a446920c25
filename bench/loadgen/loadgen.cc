// The load generator's engine: see loadgen.h.
//
// One epoll loop per thread, edge-triggered, each connection a small state
// machine. The per-request path is kept to the syscalls the protocol needs:
// uwsgi/SCGI: socket, connect, send (at once: on loopback the handshake is
// done by the time connect returns; EAGAIN falls back to waiting for
// EPOLLOUT), epoll_ctl(ADD), read (one read sees the reply and, with
// EPOLLRDHUP, its end), close. HTTP, FastCGI with FCGI_KEEP_CONN: send, read.
#include "loadgen.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <thread>

#include "fastcgi.h"

namespace tsgi::loadgen {

// ---- names -------------------------------------------------------------------

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kHttp: return "http";
    case Protocol::kUwsgi: return "uwsgi";
    case Protocol::kScgi: return "scgi";
    case Protocol::kFastcgi: return "fastcgi";
  }
  return "?";
}

bool parse_protocol(const std::string& name, Protocol* out) {
  if (name == "http") *out = Protocol::kHttp;
  else if (name == "uwsgi") *out = Protocol::kUwsgi;
  else if (name == "scgi") *out = Protocol::kScgi;
  else if (name == "fastcgi" || name == "fcgi") *out = Protocol::kFastcgi;
  else return false;
  return true;
}

const char* error_name(int kind) {
  static const char* const names[kErrorKinds] = {"connect", "write", "read", "timeout",
                                                 "status", "length", "malformed", "closed", "rejected"};
  return kind >= 0 && kind < kErrorKinds ? names[kind] : "?";
}

// ---- histogram -----------------------------------------------------------------

Histogram::Histogram() : counts_(kBuckets, 0) {}

int Histogram::index(uint64_t v) {
  if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
  int top = 63 - __builtin_clzll(v);  // >= kSubBits
  int shift = top - kSubBits;
  return (shift + 1) * kSub + static_cast<int>((v >> shift) - kSub);
}

uint64_t Histogram::low(int i) {
  if (i < kSub) return static_cast<uint64_t>(i);
  int shift = i / kSub - 1;
  return static_cast<uint64_t>(i % kSub + kSub) << shift;
}

uint64_t Histogram::high(int i) {
  if (i < kSub) return static_cast<uint64_t>(i);
  int shift = i / kSub - 1;
  return ((static_cast<uint64_t>(i % kSub + kSub) + 1) << shift) - 1;
}

void Histogram::record(uint64_t ns) {
  counts_[static_cast<size_t>(index(ns))]++;
  count_++;
  sum_ += ns;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < counts_.size(); i++) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; i++) {
    seen += counts_[static_cast<size_t>(i)];
    if (seen >= rank) {
      uint64_t mid = low(i) + (high(i) - low(i)) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

uint64_t Result::errors_total() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void Result::merge(const Result& o) {
  requests += o.requests;
  for (int i = 0; i < kErrorKinds; i++) errors[static_cast<size_t>(i)] += o.errors[static_cast<size_t>(i)];
  connects += o.connects;
  bytes_out += o.bytes_out;
  bytes_in += o.bytes_in;
  latency.merge(o.latency);
}

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- target ----------------------------------------------------------------------

struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool tcp = false;
  std::string host;  // for Host / SERVER_NAME
  std::string port;  // for SERVER_PORT
};

Target resolve(const std::string& spec) {
  Target t;
  if (spec.rfind("unix:", 0) == 0) {
    std::string path = spec.substr(5);
    auto* un = reinterpret_cast<sockaddr_un*>(&t.addr);
    un->sun_family = AF_UNIX;
    bool abstract = !path.empty() && path[0] == '@';
    if (path.empty() || path.size() + 1 > sizeof(un->sun_path)) {
      throw std::runtime_error("unix socket path empty or too long: " + path);
    }
    std::memcpy(un->sun_path, path.data(), path.size());
    if (abstract) un->sun_path[0] = '\0';
    t.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
    t.host = "localhost";
    t.port = "80";
    return t;
  }
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon + 1 == spec.size()) {
    throw std::runtime_error("target must be host:port or unix:/path: " + spec);
  }
  std::string host = spec.substr(0, colon);
  t.port = spec.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), t.port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) throw std::runtime_error("cannot resolve " + spec + ": " + gai_strerror(rc));
  std::memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
  t.len = res->ai_addrlen;
  freeaddrinfo(res);
  t.tcp = true;
  t.host = host;
  return t;
}

// ---- requests ----------------------------------------------------------------------

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// PATH_INFO is the decoded path, as a web server sends it (RFC 3875 4.1.5).
std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string cgi_header_name(const std::string& name) {
  std::string out = "HTTP_";
  for (char c : name) out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return out;
}

using Vars = std::vector<std::pair<std::string, std::string>>;

// nginx's stock fastcgi.conf (fastcgi_params with SCRIPT_FILENAME first) for
// a GET without a body, as nginx 1.22 fills it in: empty variables are sent
// empty, `HTTPS ... if_not_empty` is left out.
Vars fastcgi_vars(const Options& o, const Target& t, const std::string& host, const std::string& path,
                  const std::string& query) {
  std::string script = percent_decode(path);
  return {{"SCRIPT_FILENAME", "/var/www/html" + script}, {"QUERY_STRING", query}, {"REQUEST_METHOD", o.method},
          {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""}, {"SCRIPT_NAME", script}, {"REQUEST_URI", o.path},
          {"DOCUMENT_URI", script}, {"DOCUMENT_ROOT", "/var/www/html"}, {"SERVER_PROTOCOL", "HTTP/1.1"},
          {"REQUEST_SCHEME", "http"}, {"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_SOFTWARE", "nginx/1.22.1"},
          {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "50000"}, {"REMOTE_USER", ""},
          {"SERVER_ADDR", t.tcp ? t.host : "127.0.0.1"}, {"SERVER_PORT", t.port}, {"SERVER_NAME", host},
          {"REDIRECT_STATUS", "200"}, {"HTTP_HOST", host}};
}

// The variables nginx sends with the stock uwsgi_params / scgi_params /
// fastcgi.conf for the same request, in the same order, so a direct run and
// one through nginx ask the server for the same work.
Vars cgi_vars(const Options& o, const Target& t) {
  std::string host = o.host.empty() ? t.host : o.host;
  size_t q = o.path.find('?');
  std::string path = o.path.substr(0, q);
  std::string query = q == std::string::npos ? "" : o.path.substr(q + 1);
  Vars v;
  if (o.protocol == Protocol::kFastcgi) {
    v = fastcgi_vars(o, t, host, path, query);
  } else if (o.protocol == Protocol::kScgi) {
    v = {{"CONTENT_LENGTH", "0"}, {"REQUEST_METHOD", o.method}, {"REQUEST_URI", o.path},
         {"QUERY_STRING", query}, {"CONTENT_TYPE", ""}, {"DOCUMENT_URI", percent_decode(path)},
         {"PATH_INFO", percent_decode(path)}, {"DOCUMENT_ROOT", "/var/www/html"}, {"SCGI", "1"}};
  } else {
    v = {{"QUERY_STRING", query}, {"REQUEST_METHOD", o.method}, {"CONTENT_TYPE", ""},
         {"CONTENT_LENGTH", ""}, {"REQUEST_URI", o.path}, {"PATH_INFO", percent_decode(path)},
         {"DOCUMENT_ROOT", "/var/www/html"}};
  }
  if (o.protocol != Protocol::kFastcgi) {
    Vars rest = {{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"REMOTE_ADDR", "127.0.0.1"},
                 {"REMOTE_PORT", "50000"}, {"SERVER_PORT", t.port}, {"SERVER_NAME", host},
                 {"HTTP_HOST", host}};
    v.insert(v.end(), rest.begin(), rest.end());
  }
  bool agent = false;
  for (const auto& [name, value] : o.headers) {
    std::string cgi = cgi_header_name(name);
    if (cgi == "HTTP_HOST") continue;  // Options::host
    agent = agent || cgi == "HTTP_USER_AGENT";
    v.emplace_back(cgi, value);
  }
  // A browser or wrk sends one; nginx passes it on as HTTP_USER_AGENT.
  if (o.protocol == Protocol::kFastcgi && !agent) v.emplace_back("HTTP_USER_AGENT", "tsgi-loadgen");
  for (const auto& [name, value] : o.params) {
    auto same = std::find_if(v.begin(), v.end(), [&](const auto& kv) { return kv.first == name; });
    if (same != v.end()) same->second = value;
    else v.emplace_back(name, value);
  }
  return v;
}

void put_u16le(std::string* out, size_t n) {
  out->push_back(static_cast<char>(n & 0xff));
  out->push_back(static_cast<char>((n >> 8) & 0xff));
}

std::string build(const Options& o, const Target& t) {
  if (o.protocol == Protocol::kHttp) {
    std::string host = o.host.empty() ? (t.tcp ? t.host + ":" + t.port : t.host) : o.host;
    std::string r = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + host + "\r\n";
    for (const auto& [name, value] : o.headers) {
      if (strcasecmp(name.c_str(), "host") != 0) r += name + ": " + value + "\r\n";
    }
    return r + "\r\n";
  }
  Vars vars = cgi_vars(o, t);
  if (o.protocol == Protocol::kFastcgi) return fcgi::request(vars, o.keep_conn);
  std::string block;
  if (o.protocol == Protocol::kUwsgi) {
    // u8 modifier1 0 | u16le size of the vars | u8 modifier2 0 | {u16le len, key, u16le len, value}*
    for (const auto& [k, v] : vars) {
      if (k.size() > 0xffff || v.size() > 0xffff) throw std::runtime_error("uwsgi variable too long: " + k);
      put_u16le(&block, k.size());
      block += k;
      put_u16le(&block, v.size());
      block += v;
    }
    if (block.size() > 0xffff) throw std::runtime_error("uwsgi request over 65535 bytes of variables");
    std::string r(1, '\0');
    put_u16le(&r, block.size());
    r.push_back('\0');
    return r + block;
  }
  // SCGI: a netstring of NUL-terminated names and values, CONTENT_LENGTH first.
  for (const auto& [k, v] : vars) {
    block += k;
    block.push_back('\0');
    block += v;
    block.push_back('\0');
  }
  return std::to_string(block.size()) + ":" + block + ",";
}

// ---- replies -------------------------------------------------------------------------

constexpr size_t kMaxHead = 64 * 1024;

struct Head {
  int status = -1;
  int64_t content_length = -1;
  bool chunked = false;
  bool close = false;
  size_t len = 0;  // bytes through the blank line
};

bool iequals(const char* a, size_t n, const char* lit) {
  size_t m = std::strlen(lit);
  return n == m && strncasecmp(a, lit, n) == 0;
}

bool icontains(const char* a, size_t n, const char* lit) {
  size_t m = std::strlen(lit);
  for (size_t i = 0; i + m <= n; i++) {
    if (strncasecmp(a + i, lit, m) == 0) return true;
  }
  return false;
}

// Three digits at p (n bytes available), then the end or a space.
int parse_status(const char* p, size_t n) {
  if (n < 3) return -1;
  for (int i = 0; i < 3; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
  }
  if (n > 3 && p[3] != ' ') return -1;
  return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

int64_t parse_length(const char* p, size_t n) {
  if (n == 0 || n > 18) return -2;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -2;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

// Parses a reply head in data[0, n). HTTP: a status line, then fields. uwsgi
// and SCGI (cgi = true): a status line or a Status field, as nginx accepts
// from both (CGI's default of 200 when there is neither). Lines may end in
// LF or CRLF. Returns 1 (complete, *h filled), 0 (need more), -1 (malformed).
int parse_head(const char* data, size_t n, bool cgi, Head* h) {
  *h = Head{};
  size_t pos = 0;
  bool first = true;
  while (true) {
    const void* nl = std::memchr(data + pos, '\n', n - pos);
    if (nl == nullptr) return n >= kMaxHead ? -1 : 0;
    size_t end = static_cast<size_t>(static_cast<const char*>(nl) - data);
    size_t line_end = end > pos && data[end - 1] == '\r' ? end - 1 : end;
    const char* line = data + pos;
    size_t len = line_end - pos;
    pos = end + 1;
    if (len == 0) {
      if (first) return -1;
      if (h->status < 0) {
        if (!cgi) return -1;
        h->status = 200;
      }
      h->len = pos;
      return 1;
    }
    if (first && len >= 5 && std::memcmp(line, "HTTP/", 5) == 0) {
      // HTTP/d.d SP 3DIGIT [SP reason]
      if (len < 12 || line[5] < '0' || line[5] > '9' || line[6] != '.' || line[7] < '0' || line[7] > '9' ||
          line[8] != ' ') {
        return -1;
      }
      h->status = parse_status(line + 9, len - 9);
      if (h->status < 0) return -1;
      first = false;
      continue;
    }
    if (first && !cgi) return -1;
    first = false;
    const char* colon = static_cast<const char*>(std::memchr(line, ':', len));
    if (colon == nullptr || colon == line) return -1;
    size_t name_len = static_cast<size_t>(colon - line);
    const char* value = colon + 1;
    size_t value_len = len - name_len - 1;
    while (value_len > 0 && (*value == ' ' || *value == '\t')) value++, value_len--;
    while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t')) value_len--;
    if (iequals(line, name_len, "content-length")) {
      int64_t v = parse_length(value, value_len);
      if (v < 0 || (h->content_length >= 0 && h->content_length != v)) return -1;
      h->content_length = v;
    } else if (iequals(line, name_len, "transfer-encoding")) {
      if (icontains(value, value_len, "chunked")) h->chunked = true;
    } else if (iequals(line, name_len, "connection")) {
      if (icontains(value, value_len, "close")) h->close = true;
    } else if (cgi && iequals(line, name_len, "status") && h->status < 0) {
      h->status = parse_status(value, value_len);
      if (h->status < 0) return -1;
    }
  }
}

// Checks a whole uwsgi/SCGI reply: the stored prefix data[0, stored) of a
// reply `total` bytes long. Returns -1 if valid, else the Error kind.
int check_cgi_reply(const Options& o, const char* data, size_t stored, uint64_t total, std::string* why) {
  Head h;
  int rc = parse_head(data, stored, true, &h);
  if (rc != 1) {
    if (why) *why = total == 0 ? "empty reply" : rc == 0 ? "reply ends inside its head" : "malformed reply head";
    return total == 0 || rc == 0 ? kErrClosed : kErrMalformed;
  }
  uint64_t body = total - h.len;
  if (o.expect_status != 0 && h.status != o.expect_status) {
    if (why) *why = "status " + std::to_string(h.status);
    return kErrStatus;
  }
  if (h.content_length >= 0 && body != static_cast<uint64_t>(h.content_length)) {
    if (why) *why = "body of " + std::to_string(body) + " bytes, Content-Length " + std::to_string(h.content_length);
    return kErrLength;
  }
  if (o.expect_body_length >= 0 && body != static_cast<uint64_t>(o.expect_body_length)) {
    if (why) *why = "body of " + std::to_string(body) + " bytes, expected " + std::to_string(o.expect_body_length);
    return kErrLength;
  }
  return -1;
}

// ---- connections ---------------------------------------------------------------------

// A growable byte buffer: [pos, len) is unread.
struct Buffer {
  std::unique_ptr<char[]> data;
  size_t cap = 0, len = 0, pos = 0;
  void reserve_tail(size_t n) {
    if (cap - len >= n) return;
    if (pos > 0) {
      std::memmove(data.get(), data.get() + pos, len - pos);
      len -= pos;
      pos = 0;
      if (cap - len >= n) return;
    }
    size_t ncap = std::max<size_t>(cap * 2, len + n);
    std::unique_ptr<char[]> d(new char[ncap]);
    if (len) std::memcpy(d.get(), data.get(), len);
    data = std::move(d);
    cap = ncap;
  }
  size_t avail() const { return len - pos; }
  const char* head() const { return data.get() + pos; }
  void reset() { len = pos = 0; }
};

enum class State : uint8_t { kIdle, kConnecting, kSending, kReading, kSleeping };
enum class BodyMode : uint8_t { kNone, kLength, kChunked, kUntilClose };
enum class ChunkState : uint8_t { kSize, kData, kDataEnd, kTrailer };

struct Conn {
  int fd = -1;
  uint32_t gen = 0;
  State state = State::kIdle;
  bool connected = false;
  bool registered = false;      // in the epoll set
  bool registered_out = false;  // ... with EPOLLOUT
  bool rdhup = false;      // the peer's end was seen (EPOLLRDHUP)
  bool readable = false;   // an EPOLLIN edge not yet read to EAGAIN
  uint32_t served = 0;     // replies on this connection (HTTP keep-alive)
  size_t sent = 0;
  uint64_t t0 = 0;         // request start
  uint64_t wake_at = 0;    // kSleeping: when to reconnect
  uint64_t total_in = 0;   // uwsgi/SCGI/FastCGI: reply bytes so far
  Buffer in;
  fcgi::Reader fcgi;       // FastCGI reply state
  // HTTP reply state
  bool head_done = false;
  Head head;
  BodyMode body_mode = BodyMode::kNone;
  uint64_t body_left = 0;
  uint64_t body_seen = 0;
  ChunkState chunk = ChunkState::kSize;
};

constexpr size_t kReadChunk = 16 * 1024;
constexpr uint64_t kRetryNs = 1000000;  // after a failed connect, wait 1 ms

class Worker {
 public:
  Worker(const Options& o, const Target& t, const std::string& request, unsigned conns, uint64_t measure_from,
         uint64_t end, bool sample_cpu)
      : o_(o), t_(t), req_(request), conns_(conns), measure_from_(measure_from), end_(end), sample_cpu_(sample_cpu),
        timeout_ns_(static_cast<uint64_t>(o.timeout_s * 1e9)), http_(o.protocol == Protocol::kHttp),
        fcgi_(o.protocol == Protocol::kFastcgi),
        per_conn_(o.protocol == Protocol::kUwsgi || o.protocol == Protocol::kScgi || (fcgi_ && !o.keep_conn)) {}

  void run();
  Result result;

 private:
  bool counting(uint64_t now) const { return now >= measure_from_ && now < end_; }
  void error(Conn* c, Error kind, uint64_t now);
  void close_fd(Conn* c);
  void open(Conn* c, uint64_t now);
  void send_request(Conn* c, uint64_t now);
  void on_event(Conn* c, uint32_t ev, uint64_t now);
  void read(Conn* c, uint64_t now);
  void read_cgi(Conn* c, uint64_t now);
  void read_http(Conn* c, uint64_t now);
  void read_fcgi(Conn* c, uint64_t now);
  bool retry_kept(Conn* c, uint64_t now);
  int step_http(Conn* c);  // 1 reply complete, 0 need more, -1 malformed
  void done(Conn* c, uint64_t now);
  void sweep(uint64_t now, bool timeouts);
  void cpu_sample(double* user, double* sys);

  const Options& o_;
  const Target& t_;
  const std::string& req_;
  std::vector<Conn> conns_;
  uint64_t measure_from_, end_;
  bool sample_cpu_;
  uint64_t timeout_ns_;
  bool http_;
  bool fcgi_;
  bool per_conn_;  // one request per connection: uwsgi, SCGI, FastCGI without FCGI_KEEP_CONN
  int ep_ = -1;
  unsigned sleeping_ = 0;
  uint64_t next_wake_ = UINT64_MAX;  // earliest wake_at of a sleeping connection
  char scratch_[kReadChunk];
};

void Worker::cpu_sample(double* user, double* sys) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  *user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
  *sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
}

void Worker::close_fd(Conn* c) {
  if (c->fd >= 0) ::close(c->fd);  // also leaves the epoll set
  c->fd = -1;
  c->gen++;
  c->state = State::kIdle;
}

void Worker::error(Conn* c, Error kind, uint64_t now) {
  if (counting(now)) result.errors[kind]++;
  close_fd(c);
  // The loop opens the replacement: no recursion from inside open(), and no
  // spinning on a refused connect (or a unix socket's full backlog).
  c->state = State::kSleeping;
  c->wake_at = now + (kind == kErrConnect ? kRetryNs : 0);
  next_wake_ = std::min(next_wake_, c->wake_at);
  sleeping_++;
}

void Worker::open(Conn* c, uint64_t now) {
  c->connected = false;
  c->registered = c->registered_out = false;
  c->rdhup = c->readable = false;
  c->served = 0;
  c->in.reset();
  c->total_in = 0;
  int fd = ::socket(t_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  c->fd = fd;
  uint32_t gen = c->gen;
  if (counting(now)) result.connects++;
  if (t_.tcp && !per_conn_) {
    // Keep-alive: a request must not wait behind Nagle for the last reply's ACK.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  c->state = State::kConnecting;
  c->t0 = now;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&t_.addr), t_.len) == 0) {
    c->connected = true;
  } else if (errno != EINPROGRESS) {
    error(c, kErrConnect, now);  // ECONNREFUSED, EAGAIN (unix backlog full), ...
    return;
  }
  // Try to send now: on loopback the handshake usually completed inside
  // connect(); if not, send fails with EAGAIN and EPOLLOUT tells us when.
  send_request(c, now);
  if (c->gen != gen) return;  // failed: error() closed it
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (c->state == State::kReading ? 0u : static_cast<uint32_t>(EPOLLOUT));
  c->registered = true;
  c->registered_out = (ev.events & EPOLLOUT) != 0;
  ev.data.u64 = (static_cast<uint64_t>(c->gen) << 32) | static_cast<uint64_t>(c - conns_.data());
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
}

void Worker::send_request(Conn* c, uint64_t now) {
  if (c->state != State::kSending) {
    c->state = State::kSending;
    c->sent = 0;
    c->total_in = 0;
  }
  while (c->sent < req_.size()) {
    ssize_t n = ::send(c->fd, req_.data() + c->sent, req_.size() - c->sent, MSG_NOSIGNAL);
    if (n > 0) {
      c->connected = true;
      c->sent += static_cast<size_t>(n);
      if (counting(now)) result.bytes_out += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->registered || c->registered_out) return;  // open() registers EPOLLOUT, or it is watched
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = (static_cast<uint64_t>(c->gen) << 32) | static_cast<uint64_t>(c - conns_.data());
      epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
      c->registered_out = true;
      return;
    }
    if (fcgi_ && retry_kept(c, now)) return;
    error(c, c->connected ? kErrWrite : kErrConnect, now);
    return;
  }
  c->state = State::kReading;
  c->head_done = false;
  c->in.reset();
  c->total_in = 0;
  if (fcgi_) c->fcgi.reset(kMaxHead);
  if (c->readable || c->rdhup) read(c, now);
}

void Worker::read(Conn* c, uint64_t now) {
  if (http_) read_http(c, now);
  else if (fcgi_) read_fcgi(c, now);
  else read_cgi(c, now);
}

void Worker::on_event(Conn* c, uint32_t ev, uint64_t now) {
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) c->readable = true;
  if (ev & EPOLLRDHUP) c->rdhup = true;
  if (c->state == State::kConnecting || c->state == State::kSending) {
    if (!c->connected && (ev & (EPOLLERR | EPOLLHUP))) {
      error(c, kErrConnect, now);
      return;
    }
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) send_request(c, now);
    return;  // send_request reads on if the reply is already there
  }
  if (c->state == State::kReading && c->readable) read(c, now);
}

// uwsgi/SCGI: keep the head (and as much as fits of the body) and read to EOF.
void Worker::read_cgi(Conn* c, uint64_t now) {
  while (true) {
    char* dst;
    size_t room;
    if (c->in.len < kMaxHead) {
      c->in.reserve_tail(std::min(kReadChunk, kMaxHead - c->in.len));
      dst = c->in.data.get() + c->in.len;
      room = std::min(c->in.cap - c->in.len, kMaxHead - c->in.len);
    } else {
      dst = scratch_;  // past what a head may need: count the bytes only
      room = sizeof scratch_;
    }
    ssize_t n = ::read(c->fd, dst, room);
    if (n > 0) {
      if (dst != scratch_) c->in.len += static_cast<size_t>(n);
      c->total_in += static_cast<uint64_t>(n);
      if (counting(now)) result.bytes_in += static_cast<uint64_t>(n);
      // The peer's FIN was seen before this read and the read came short: the
      // queue is empty, so this is the end; skip the read that returns 0.
      if (c->rdhup && static_cast<size_t>(n) < room) break;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->readable = false;
      return;  // the rest (and the FIN) comes with the next edge
    }
    error(c, kErrRead, now);
    return;
  }
  int bad = check_cgi_reply(o_, c->in.data.get(), c->in.len, c->total_in, nullptr);
  if (bad >= 0) {
    error(c, static_cast<Error>(bad), now);
    return;
  }
  done(c, now);
}

// FastCGI: records as they come, to END_REQUEST; then the STDOUT stream is
// checked as a CGI reply (a Status field, or 200). With FCGI_KEEP_CONN the next
// request follows on the same connection; nothing may come after END_REQUEST.
void Worker::read_fcgi(Conn* c, uint64_t now) {
  while (true) {
    ssize_t n = ::read(c->fd, scratch_, sizeof scratch_);
    if (n > 0) {
      c->total_in += static_cast<uint64_t>(n);
      if (counting(now)) result.bytes_in += static_cast<uint64_t>(n);
      // A short read emptied the socket; the rest brings a new edge.
      bool drained = static_cast<size_t>(n) < sizeof scratch_;
      if (drained) c->readable = false;
      size_t used = 0;
      fcgi::Reader::Rc rc = c->fcgi.feed(scratch_, static_cast<size_t>(n), &used, nullptr);
      if (rc == fcgi::Reader::kError || (rc == fcgi::Reader::kEnd && used < static_cast<size_t>(n))) {
        error(c, kErrMalformed, now);
        return;
      }
      if (rc == fcgi::Reader::kEnd) {
        if (c->fcgi.protocol_status != fcgi::kRequestComplete) {
          error(c, kErrRejected, now);
          return;
        }
        const std::string& head = c->fcgi.head;
        int bad = check_cgi_reply(o_, head.data(), head.size(), c->fcgi.stdout_bytes, nullptr);
        if (bad >= 0) {
          error(c, static_cast<Error>(bad), now);
          return;
        }
        done(c, now);
        return;
      }
      if (drained && !c->rdhup) return;  // (the peer has closed: read on to see the 0)
      continue;
    }
    if (n == 0) {
      if (!retry_kept(c, now)) error(c, kErrClosed, now);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->readable = false;
      return;
    }
    if (!retry_kept(c, now)) error(c, kErrRead, now);
    return;
  }
}

// A kept connection the application closed after its last reply (FIN, or a
// reset because our next request arrived after its close): reconnect and send
// the request again, as nginx does with a cached upstream connection. Not an
// error; `connects` shows it. Only once per request: a new connection has
// served nothing. The request keeps its start time.
bool Worker::retry_kept(Conn* c, uint64_t now) {
  if (per_conn_ || c->served == 0 || c->total_in > 0) return false;
  uint64_t t0 = c->t0;
  close_fd(c);
  open(c, now);
  if (c->state != State::kSleeping) c->t0 = t0;
  return true;
}

// HTTP: parse as bytes come; a complete reply starts the next request.
void Worker::read_http(Conn* c, uint64_t now) {
  while (true) {
    c->in.reserve_tail(kReadChunk);
    size_t room = c->in.cap - c->in.len;
    ssize_t n = ::read(c->fd, c->in.data.get() + c->in.len, room);
    if (n > 0) {
      c->in.len += static_cast<size_t>(n);
      // A short read emptied the socket; the next reply brings a new edge.
      if (static_cast<size_t>(n) < room) c->readable = false;
      if (counting(now)) result.bytes_in += static_cast<uint64_t>(n);
      int rc = step_http(c);
      if (rc < 0) {
        error(c, kErrMalformed, now);
        return;
      }
      if (rc == 1) {
        if (c->in.avail() > 0) {  // bytes nobody asked for
          error(c, kErrMalformed, now);
          return;
        }
        done(c, now);
        return;
      }
      continue;
    }
    if (n == 0) {
      if (c->head_done && c->body_mode == BodyMode::kUntilClose) {
        c->head.close = true;
        done(c, now);
      } else if (!c->head_done && c->in.avail() == 0 && c->served > 0) {
        // A kept-alive connection the server closed between replies: reconnect
        // and ask again, not an error.
        close_fd(c);
        open(c, now);
      } else {
        error(c, kErrClosed, now);
      }
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->readable = false;
      return;
    }
    error(c, kErrRead, now);
    return;
  }
}

int Worker::step_http(Conn* c) {
  Buffer& b = c->in;
  if (!c->head_done) {
    int rc = parse_head(b.head(), b.avail(), false, &c->head);
    if (rc <= 0) return rc;
    if (c->head.status >= 100 && c->head.status < 200) {  // 1xx: the real reply follows
      b.pos += c->head.len;
      return step_http(c);
    }
    b.pos += c->head.len;
    c->head_done = true;
    c->body_seen = 0;
    c->chunk = ChunkState::kSize;
    bool no_body = c->head.status == 204 || c->head.status == 304 || o_.method == "HEAD";
    if (no_body) c->body_mode = BodyMode::kNone;
    else if (c->head.chunked) c->body_mode = BodyMode::kChunked;
    else if (c->head.content_length >= 0) c->body_mode = BodyMode::kLength, c->body_left = static_cast<uint64_t>(c->head.content_length);
    else c->body_mode = BodyMode::kUntilClose;
  }
  switch (c->body_mode) {
    case BodyMode::kNone:
      return 1;
    case BodyMode::kLength: {
      uint64_t take = std::min<uint64_t>(b.avail(), c->body_left);
      b.pos += take;
      c->body_left -= take;
      c->body_seen += take;
      return c->body_left == 0 ? 1 : 0;
    }
    case BodyMode::kUntilClose:
      c->body_seen += b.avail();
      b.pos = b.len;
      return 0;
    case BodyMode::kChunked:
      while (true) {
        if (c->chunk == ChunkState::kData) {
          uint64_t take = std::min<uint64_t>(b.avail(), c->body_left);
          b.pos += take;
          c->body_left -= take;
          c->body_seen += take;
          if (c->body_left > 0) return 0;
          c->chunk = ChunkState::kDataEnd;
        }
        if (c->chunk == ChunkState::kDataEnd) {
          if (b.avail() < 1) return 0;
          if (b.head()[0] == '\r') {
            if (b.avail() < 2) return 0;
            if (b.head()[1] != '\n') return -1;
            b.pos += 2;
          } else if (b.head()[0] == '\n') {
            b.pos += 1;
          } else {
            return -1;
          }
          c->chunk = ChunkState::kSize;
        }
        const char* p = b.head();
        const void* nl = std::memchr(p, '\n', b.avail());
        if (nl == nullptr) return b.avail() > 4096 ? -1 : 0;
        size_t line = static_cast<size_t>(static_cast<const char*>(nl) - p);
        if (c->chunk == ChunkState::kTrailer) {
          b.pos += line + 1;
          if (line == 0 || (line == 1 && p[0] == '\r')) return 1;
          continue;
        }
        uint64_t size = 0;
        size_t i = 0;
        for (; i < line && hex(p[i]) >= 0; i++) {
          if (i >= 15) return -1;
          size = size * 16 + static_cast<uint64_t>(hex(p[i]));
        }
        if (i == 0 || (i < line && p[i] != ';' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t')) return -1;
        b.pos += line + 1;
        c->body_left = size;
        c->chunk = size == 0 ? ChunkState::kTrailer : ChunkState::kData;
      }
  }
  return -1;
}

void Worker::done(Conn* c, uint64_t now) {
  if (http_) {
    // Status and length checks for HTTP (uwsgi/SCGI/FastCGI are checked in read_cgi/read_fcgi).
    if (o_.expect_status != 0 && c->head.status != o_.expect_status) {
      error(c, kErrStatus, now);
      return;
    }
    if (o_.expect_body_length >= 0 && c->body_seen != static_cast<uint64_t>(o_.expect_body_length)) {
      error(c, kErrLength, now);
      return;
    }
  }
  if (counting(now) && c->t0 >= measure_from_) {
    result.requests++;
    result.latency.record(now - c->t0);
  } else if (counting(now)) {
    result.requests++;  // started during the warm-up: counts, its latency does not
  }
  c->served++;
  if (per_conn_ || (http_ && c->head.close)) {
    close_fd(c);
    open(c, now);
    return;
  }
  c->t0 = now;
  c->head_done = false;
  c->in.reset();
  send_request(c, now);
}

void Worker::sweep(uint64_t now, bool timeouts) {
  next_wake_ = UINT64_MAX;
  for (Conn& c : conns_) {
    if (c.state == State::kSleeping) {
      if (now >= c.wake_at) {
        sleeping_--;
        open(&c, now);
      } else {
        next_wake_ = std::min(next_wake_, c.wake_at);
      }
    } else if (timeouts && c.state != State::kIdle && now - c.t0 > timeout_ns_) {
      error(&c, kErrTimeout, now);
    }
  }
}

void Worker::run() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  uint64_t now = now_ns();
  for (Conn& c : conns_) open(&c, now);
  std::vector<epoll_event> events(256);
  uint64_t next_sweep = now + 100000000;
  bool sampled = false;
  double u0 = 0, s0 = 0;
  if (sample_cpu_ && now >= measure_from_) {
    cpu_sample(&u0, &s0);
    sampled = true;
  }
  while (true) {
    now = now_ns();
    if (now >= end_) break;
    if (sample_cpu_ && !sampled && now >= measure_from_) {
      cpu_sample(&u0, &s0);
      sampled = true;
    }
    if (now >= next_sweep) {
      sweep(now, true);
      next_sweep = now + 100000000;
    } else if (sleeping_ > 0 && now >= next_wake_) {
      sweep(now, false);
    }
    uint64_t wake = std::min(end_, next_sweep);
    if (sleeping_ > 0) wake = std::min(wake, next_wake_);
    if (sample_cpu_ && !sampled) wake = std::min(wake, measure_from_);
    uint64_t wait_ns = wake > now ? wake - now : 0;
    int timeout_ms = static_cast<int>((wait_ns + 999999) / 1000000);
    int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[static_cast<size_t>(i)].data.u64;
      Conn* c = &conns_[static_cast<size_t>(tag & 0xffffffffu)];
      if (c->gen != static_cast<uint32_t>(tag >> 32) || c->fd < 0) continue;  // a closed predecessor
      // One clock read per event: latency is per request, and a batch of
      // replies can take a while to work through.
      on_event(c, events[static_cast<size_t>(i)].events, now_ns());
    }
  }
  if (sample_cpu_ && sampled) {
    double u1, s1;
    cpu_sample(&u1, &s1);
    result.cpu_user_s = u1 - u0;
    result.cpu_system_s = s1 - s0;
  }
  for (Conn& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
  }
  ::close(ep_);
}

}  // namespace

std::string build_request(const Options& options) {
  return build(options, resolve(options.target));
}

Result run(const Options& o) {
  if (o.connections == 0) throw std::runtime_error("connections must be at least 1");
  unsigned threads = std::max(1u, std::min(o.threads, o.connections));
  Target target = resolve(o.target);
  std::string request = build(o, target);
  uint64_t start = now_ns();
  uint64_t measure_from = start + static_cast<uint64_t>(o.warmup_s * 1e9);
  uint64_t end = measure_from + static_cast<uint64_t>(o.duration_s * 1e9);
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < threads; i++) {
    unsigned n = o.connections / threads + (i < o.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(o, target, request, n, measure_from, end, i == 0));
  }
  std::vector<std::thread> pool;
  std::vector<std::string> failures(threads);
  for (unsigned i = 1; i < threads; i++) {
    pool.emplace_back([&, i] {
      try {
        workers[i]->run();
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    });
  }
  try {
    workers[0]->run();
  } catch (const std::exception& e) {
    failures[0] = e.what();
  }
  for (auto& t : pool) t.join();
  for (const auto& f : failures) {
    if (!f.empty()) throw std::runtime_error(f);
  }
  Result r;
  for (auto& w : workers) r.merge(w->result);
  r.cpu_user_s = workers[0]->result.cpu_user_s;
  r.cpu_system_s = workers[0]->result.cpu_system_s;
  r.elapsed_s = static_cast<double>(end - measure_from) / 1e9;
  return r;
}

int run_once(const Options& o, std::string* raw, std::string* problem) {
  Target t = resolve(o.target);
  std::string request = build(o, t);
  raw->clear();
  int fd = ::socket(t.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(o.timeout_s);
  tv.tv_usec = static_cast<suseconds_t>((o.timeout_s - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto fail = [&](int kind, const std::string& why) {
    *problem = why;
    ::close(fd);
    return kind;
  };
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) < 0) {
    return fail(kErrConnect, std::string("connect: ") + std::strerror(errno));
  }
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return fail(kErrWrite, std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  char buf[16384];
  Head h;
  if (o.protocol == Protocol::kFastcgi) {
    // The decoded STDOUT stream in *raw; stop at END_REQUEST (with
    // FCGI_KEEP_CONN the application does not close).
    fcgi::Reader reader;
    reader.reset(SIZE_MAX);
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(errno == EAGAIN ? kErrTimeout : kErrRead, std::string("read: ") + std::strerror(errno));
      }
      if (n == 0) return fail(kErrClosed, "closed before END_REQUEST");
      size_t used = 0;
      fcgi::Reader::Rc rc = reader.feed(buf, static_cast<size_t>(n), &used, problem);
      *raw = reader.head;
      if (rc == fcgi::Reader::kError) return fail(kErrMalformed, *problem);
      if (rc == fcgi::Reader::kAgain) continue;
      if (used < static_cast<size_t>(n)) return fail(kErrMalformed, "bytes after END_REQUEST");
      if (reader.protocol_status != fcgi::kRequestComplete) {
        return fail(kErrRejected, "END_REQUEST protocolStatus " + std::to_string(reader.protocol_status));
      }
      ::close(fd);
      return check_cgi_reply(o, raw->data(), raw->size(), raw->size(), problem);
    }
  }
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno == EAGAIN ? kErrTimeout : kErrRead, std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    raw->append(buf, static_cast<size_t>(n));
    if (o.protocol == Protocol::kHttp && parse_head(raw->data(), raw->size(), false, &h) == 1) {
      // HTTP: stop at the end of the reply instead of waiting for keep-alive to time out.
      if (!h.chunked && h.content_length >= 0 && raw->size() >= h.len + static_cast<size_t>(h.content_length)) break;
      if (h.chunked && raw->size() >= 5 && raw->compare(raw->size() - 5, 5, "0\r\n\r\n") == 0) break;
    }
  }
  ::close(fd);
  if (o.protocol != Protocol::kHttp) {
    int bad = check_cgi_reply(o, raw->data(), raw->size(), raw->size(), problem);
    return bad;
  }
  int rc = parse_head(raw->data(), raw->size(), false, &h);
  if (rc != 1) {
    *problem = "malformed or incomplete reply head";
    return rc == 0 ? kErrClosed : kErrMalformed;
  }
  if (o.expect_status != 0 && h.status != o.expect_status) {
    *problem = "status " + std::to_string(h.status);
    return kErrStatus;
  }
  if (!h.chunked && o.expect_body_length >= 0 && raw->size() - h.len != static_cast<size_t>(o.expect_body_length)) {
    *problem = "body of " + std::to_string(raw->size() - h.len) + " bytes";
    return kErrLength;
  }
  return -1;
}

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", ch);
      out += esc;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

std::string num(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

}  // namespace

std::string to_json(const Options& o, const Result& r) {
  const Histogram& h = r.latency;
  auto us = [](uint64_t ns) { return num(static_cast<double>(ns) / 1000.0, 1); };
  std::string errors = "{\"total\":" + std::to_string(r.errors_total());
  for (int i = 0; i < kErrorKinds; i++) {
    errors += ",\"" + std::string(error_name(i)) + "\":" + std::to_string(r.errors[static_cast<size_t>(i)]);
  }
  errors += "}";
  double cpu = r.cpu_user_s + r.cpu_system_s;
  return std::string("{\"tool\":\"tsgi-loadgen\",\"protocol\":\"") + protocol_name(o.protocol) + "\"" +
         ",\"target\":" + json_string(o.target) + ",\"method\":" + json_string(o.method) +
         ",\"path\":" + json_string(o.path) + ",\"connections\":" + std::to_string(o.connections) +
         (o.protocol == Protocol::kFastcgi ? std::string(",\"keep_conn\":") + (o.keep_conn ? "true" : "false") : "") +
         ",\"threads\":" + std::to_string(o.threads) + ",\"duration_s\":" + num(o.duration_s, 3) +
         ",\"warmup_s\":" + num(o.warmup_s, 3) + ",\"elapsed_s\":" + num(r.elapsed_s, 3) +
         ",\"requests\":" + std::to_string(r.requests) +
         ",\"rps\":" + num(r.elapsed_s > 0 ? static_cast<double>(r.requests) / r.elapsed_s : 0, 1) +
         ",\"connects\":" + std::to_string(r.connects) + ",\"bytes_out\":" + std::to_string(r.bytes_out) +
         ",\"bytes_in\":" + std::to_string(r.bytes_in) + ",\"errors\":" + errors +
         ",\"latency_us\":{\"count\":" + std::to_string(h.count()) + ",\"min\":" + us(h.min()) +
         ",\"mean\":" + num(h.mean() / 1000.0, 1) + ",\"p50\":" + us(h.percentile(50)) +
         ",\"p90\":" + us(h.percentile(90)) + ",\"p99\":" + us(h.percentile(99)) +
         ",\"p99_9\":" + us(h.percentile(99.9)) + ",\"max\":" + us(h.max()) + "}" +
         ",\"client_cpu\":{\"user_s\":" + num(r.cpu_user_s, 3) + ",\"system_s\":" + num(r.cpu_system_s, 3) +
         ",\"use\":" + num(r.elapsed_s > 0 ? cpu / r.elapsed_s : 0, 3) +
         ",\"us_per_request\":" + num(r.requests ? cpu * 1e6 / static_cast<double>(r.requests) : 0, 2) + "}}";
}

}  // namespace tsgi::loadgen
