// The load engine of `tsgi bench` (and of bench/loadgen's standalone binary):
// a client for the four protocols tsgi serves, HTTP/1.1 (keep-alive, optional
// pipelining), uwsgi and SCGI (one request per connection: connect, send,
// read to EOF), FastCGI (FCGI_KEEP_CONN by default, optionally several
// requests multiplexed on one connection, or one request per connection).
//
// One event loop (poller/) per thread, each with its share of the
// connections. Closed loop: every connection keeps `depth` requests in flight
// (1, or --pipeline / --multiplex). Open loop (rate > 0): requests are due on
// a fixed schedule spread over the connections, and latency is measured from
// the time a request was due, not from when a busy connection got round to
// sending it, so a stalled server shows up in the percentiles (no coordinated
// omission). Every reply is checked (status, framing, body length) before it
// counts; failures are counted by kind. Runs stop by themselves at the
// duration or the request count, or when `stop` is raised.
//
// WebSocket (protocol ws, RFC 6455): every connection does the HTTP/1.1
// Upgrade handshake (a random key, 101 and Sec-WebSocket-Accept checked),
// then either echoes (`pipeline` messages in flight, each reply's opcode and
// length checked, its latency recorded) or, in subscribe mode, only receives:
// one more connection, the publisher, sends messages the server relays to
// every subscriber, closed loop (`pipeline` messages not yet delivered to all)
// or at `rate` messages/s. There a "request" is one delivered message, and
// its latency runs from the publisher's send to that delivery.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/histogram.h"

namespace tsgi::loadgen {

enum class Protocol : uint8_t { kHttp, kUwsgi, kScgi, kFastcgi, kWs };
enum class WsMode : uint8_t { kEcho, kSubscribe };

const char* protocol_name(Protocol p);
bool parse_protocol(const std::string& name, Protocol* out);

struct Options {
  Protocol protocol = Protocol::kHttp;
  // As a listener's: "host:port", "[v6]:port", ":port", "/path", "unix:/path", "@name".
  std::string target;
  std::string method = "GET";
  std::string path = "/";  // the request target, query included
  // Host header (HTTP) / SERVER_NAME and HTTP_HOST (CGI protocols); empty:
  // the target's host ("localhost" for unix sockets).
  std::string host;
  // Extra request headers: sent as they are (HTTP) or as HTTP_* variables
  // (Content-Type as CONTENT_TYPE).
  std::vector<std::pair<std::string, std::string>> headers;
  // CGI variables that replace the default of the same name or are added.
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;  // request body (Content-Length / CONTENT_LENGTH follow)
  bool keep_conn = true;   // FastCGI: FCGI_KEEP_CONN
  unsigned connections = 64;
  unsigned threads = 1;
  double duration_s = 10;  // 0: until `requests`
  uint64_t requests = 0;   // 0: until `duration_s`
  double warmup_s = 0;     // load before measuring, not counted
  double timeout_s = 10;   // a request without its reply this long is an error
  double rate = 0;         // requests/s over all connections; 0: closed loop
  unsigned pipeline = 1;   // HTTP, WebSocket: requests (messages) in flight per connection
  unsigned multiplex = 1;  // FastCGI: requests in flight per connection (request ids 1..N)
  int expect_status = 200;         // 0: any
  int64_t expect_body_length = -1;  // -1: any
  // WebSocket: the message each connection sends (echo) or the publisher
  // sends (subscribe: it starts with ws_prefix and its sequence number in 16
  // hex digits, by which a server tells a publish from an echo).
  WsMode ws_mode = WsMode::kEcho;
  uint64_t ws_message_size = 32;
  bool ws_binary = false;
  std::string ws_prefix = "pub:";
};

// Why a request did not count. The connection is closed and replaced; every
// request in flight on it counts as one error of that kind.
enum Error : uint8_t {
  kErrConnect,    // connect failed (refused, unreachable, backlog full)
  kErrWrite,      // sending failed on an established connection
  kErrRead,       // reset, or closed before any byte of the reply
  kErrTimeout,    // no complete reply within Options::timeout_s
  kErrStatus,     // a well-formed reply with another status
  kErrFraming,    // not a parsable head, chunk, record; bytes nobody asked for
  kErrShortBody,  // closed inside the reply (body shorter than declared)
  kErrLength,     // body length not the declared or the expected one
  kErrProtocol,   // FastCGI: END_REQUEST not REQUEST_COMPLETE, a record for a request id not in flight;
                  // WebSocket: a reply of the other opcode (text for binary)
  kErrHandshake,  // WebSocket: no 101, or a wrong Sec-WebSocket-Accept, Upgrade or Connection
  kErrClosed,     // WebSocket: the server sent a close frame, or closed after the 101
  kErrorKinds,
};
const char* error_name(int kind);

struct Result {
  uint64_t requests = 0;  // valid replies to requests started inside the measured window
  std::array<uint64_t, kErrorKinds> errors{};
  std::map<int, uint64_t> statuses;  // the kErrStatus replies by the status they had
  uint64_t connects = 0;
  uint64_t published = 0;  // WebSocket subscribe: messages the publisher sent inside the window
  uint64_t bytes_out = 0, bytes_in = 0;
  double elapsed_s = 0;                     // the measured window
  double cpu_user_s = 0, cpu_system_s = 0;  // this process's, over the window
  Histogram latency;                        // ns, per valid reply
  // Requests and errors in each second of the window (the last may be partial).
  std::vector<std::pair<uint64_t, uint64_t>> per_second;
  bool stopped = false;                     // ended by `stop`, not by duration or count
  uint64_t errors_total() const;
  void merge(const Result& other);
};

struct Progress {
  double elapsed_s = 0;  // since the start (warm-up included)
  bool measuring = false;
  uint64_t requests = 0, errors = 0, bytes_in = 0;  // so far in the window
};
using ProgressFn = std::function<void(const Progress&)>;

// Runs the load on `threads` new threads; the caller's thread waits and calls
// `progress` about once a second. Throws std::runtime_error for options it
// cannot use (an unresolvable target, a request too large for the protocol).
Result run(const Options& options, const ProgressFn& progress = {}, const std::atomic<bool>* stop = nullptr);

// One request on one connection (a run with --requests 1): -1 when the reply
// is valid, else the Error kind, its name in *problem.
int run_once(const Options& options, std::string* problem);

// The options and result as one JSON object on one line.
std::string to_json(const Options& options, const Result& result);

}  // namespace tsgi::loadgen
