// A closed-loop load generator for the protocols tsgi serves: HTTP/1.1 with
// keep-alive, uwsgi and SCGI, which carry one request per connection
// (connect, send, read the reply until the server closes, reconnect), and
// FastCGI, with FCGI_KEEP_CONN (one request at a time on a kept connection,
// as nginx's `fastcgi_keep_conn on`) or one request per connection.
//
// N connections each keep exactly one request outstanding for a fixed time;
// every reply is checked (status, body length, framing) before it counts.
// The engine is this header and loadgen.cc (no dependency beyond the C++17
// standard library and Linux: epoll, sockets); main.cc is the command line.
// It is written to move into the addon later as `tsgi bench`.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tsgi::loadgen {

enum class Protocol : uint8_t { kHttp, kUwsgi, kScgi, kFastcgi };

const char* protocol_name(Protocol p);
bool parse_protocol(const std::string& name, Protocol* out);

struct Options {
  Protocol protocol = Protocol::kHttp;
  // "host:port", "[v6addr]:port", ":port" (127.0.0.1), "unix:/path" or
  // "unix:@abstract".
  std::string target;
  std::string method = "GET";
  // The request target, query included ("/", "/search?q=1").
  std::string path = "/";
  // Host header (HTTP) / SERVER_NAME and HTTP_HOST (uwsgi, SCGI, FastCGI).
  // Empty: the target's host ("localhost" for unix sockets).
  std::string host;
  // Extra request headers, sent as-is (HTTP) or as HTTP_* variables.
  std::vector<std::pair<std::string, std::string>> headers;
  // CGI variables (uwsgi, SCGI, FastCGI) that replace the default one of the
  // same name or, if there is none, are added: SCRIPT_FILENAME, DOCUMENT_ROOT...
  std::vector<std::pair<std::string, std::string>> params;
  // FastCGI: set FCGI_KEEP_CONN and send the next request on the same
  // connection; false: the application closes after each reply, we reconnect.
  bool keep_conn = true;
  unsigned connections = 64;
  unsigned threads = 1;
  double duration_s = 5;
  // Run this long first without counting anything.
  double warmup_s = 0;
  // A request that takes longer is counted as a timeout and its connection
  // replaced.
  double timeout_s = 10;
  // The status every reply must have; 0 accepts any.
  int expect_status = 200;
  // The body length every reply must have; -1 accepts any.
  int64_t expect_body_length = -1;
};

// Why a request did not count. Each is counted, the connection is closed and a
// new one opened in its place.
enum Error : uint8_t {
  kErrConnect,    // connect failed (refused, backlog full, ...)
  kErrWrite,      // sending the request failed
  kErrRead,       // reading the reply failed (reset, ...)
  kErrTimeout,    // no complete reply within Options::timeout_s
  kErrStatus,     // a well-formed reply with another status
  kErrLength,     // body length differs from the expected or declared one
  kErrMalformed,  // not a parsable reply head or framing
  kErrClosed,     // the server closed before the reply was complete
  kErrRejected,   // FastCGI END_REQUEST with a protocolStatus other than REQUEST_COMPLETE
  kErrorKinds,
};
const char* error_name(int kind);

// Latency histogram: 64 logarithmic sub-buckets per power of two, so a
// percentile is reported within 1/64 (1.6%) of the true value. Values in ns.
class Histogram {
 public:
  Histogram();
  void record(uint64_t ns);
  void merge(const Histogram& other);
  void clear();
  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }
  // The value at percentile p (0 < p <= 100), ns; 0 when empty.
  uint64_t percentile(double p) const;

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
  static int index(uint64_t v);
  static uint64_t low(int index);
  static uint64_t high(int index);
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0, sum_ = 0, min_ = UINT64_MAX, max_ = 0;
};

struct Result {
  uint64_t requests = 0;  // valid replies completed inside the measured window
  std::array<uint64_t, kErrorKinds> errors{};
  uint64_t connects = 0;  // connections opened inside the window
  uint64_t bytes_out = 0, bytes_in = 0;
  double elapsed_s = 0;   // length of the measured window
  double cpu_user_s = 0, cpu_system_s = 0;  // the load generator's, over the window
  Histogram latency;      // per valid reply, ns: from connect (one request per connection) or send (kept
                          // connections: HTTP, FastCGI with keep_conn) to the reply's end
  uint64_t errors_total() const;
  void merge(const Result& other);
};

// The request bytes every connection sends (built once).
std::string build_request(const Options& options);

// Runs the load. Throws std::runtime_error for options it cannot use (an
// unresolvable target, a request too large for the protocol).
Result run(const Options& options);

// One request on one connection, blocking; the raw reply in *raw. Returns -1
// when the reply is valid, else the Error kind, with a reason in *problem.
int run_once(const Options& options, std::string* raw, std::string* problem);

// The result as one JSON object (one line).
std::string to_json(const Options& options, const Result& result);

}  // namespace tsgi::loadgen
