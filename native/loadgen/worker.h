// One event loop of the load generator: its share of the connections, each
// a small state machine over a non-blocking socket (see loadgen.h). Runs on
// its own thread; the engine reads `live` while it runs and `result` after.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/fastcgi.h"
#include "loadgen/loadgen.h"
#include "loadgen/reply.h"
#include "net/connect.h"
#include "poller/poller.h"

namespace tsgi::loadgen {

// What every worker of a run shares, read-only.
struct Plan {
  Options o;
  net::Peer peer;
  // The request bytes: one for HTTP, uwsgi and SCGI, one per request id
  // (1..depth) for FastCGI; WebSocket: the handshake without its key line,
  // then the masked frame of the message (echo) or its unmasked payload
  // (subscribe: the publisher writes each sequence number in).
  std::vector<std::string> requests;
  unsigned depth = 1;       // requests in flight per connection
  uint8_t ws_mask[4] = {};  // WebSocket: the masking key of the run's frames
  uint64_t start = 0;       // ns, monotonic clock
  uint64_t measure_from = 0;
  uint64_t end = UINT64_MAX;  // UINT64_MAX: until the request count
  const std::atomic<bool>* stop = nullptr;
};

// Counters the engine reads once a second while the worker runs.
struct Live {
  std::atomic<uint64_t> requests{0}, errors{0}, bytes_in{0}, last_done{0};
  std::atomic<bool> finished{false};
};

uint64_t now_ns();

// A connect the server refused (ECONNREFUSED; a unix socket path that does
// not exist): nobody listens, and the run stops with this error at once
// rather than reconnecting every millisecond until its end. `err` is the
// errno; anything else (a full backlog: EAGAIN) is an ordinary connect error.
void stop_if_refused(const Options& o, int err);

// One event loop of a run: the engine starts run() on its own thread, reads
// `live` while it runs and `result` after.
class Loop {
 public:
  virtual ~Loop() = default;
  virtual void run() = 0;  // throws std::runtime_error when the poller fails

  Result result;
  Live live;
};

class Worker : public Loop {
 public:
  // `budget`: requests to complete (0: no limit); `rate`: this worker's
  // requests/s (0: closed loop), the first due `phase_ns` after the start.
  Worker(const Plan& plan, unsigned connections, uint64_t budget, double rate, uint64_t phase_ns);
  ~Worker() override;
  void run() override;

 private:
  struct Slot;
  struct Conn;

  bool counting(uint64_t now) const { return now >= plan_.measure_from && now < plan_.end; }
  bool can_issue(const Conn& c) const;
  void fill(Conn* c, uint64_t now);
  void open(Conn* c, uint64_t now);
  void transmit(Conn* c, const struct iovec* iov, int count, uint64_t now);
  void flush(Conn* c, uint64_t now);
  void send_failed(Conn* c, int err, uint64_t now);
  void set_interest(Conn* c, uint32_t interest);
  void on_event(Conn* c, uint32_t flags, uint64_t now);
  void read(Conn* c, uint64_t now);
  bool take_http(Conn* c, size_t n, uint64_t now);
  bool take_fcgi(Conn* c, const char* data, size_t n, uint64_t now);
  void at_eof(Conn* c, uint64_t now);
  // `status`: the reply's, for an error of kErrStatus (0: none).
  void finish_slot(Conn* c, unsigned slot, int error, uint64_t now, int status = 0);
  void error(Conn* c, Error kind, uint64_t now);
  bool retry_kept(Conn* c, uint64_t now);
  void close_fd(Conn* c);
  void issue_due(uint64_t now);
  void sweep(uint64_t now, bool timeouts);
  void publish();
  void* tag(const Conn& c) const;

  const Plan& plan_;
  const Options& o_;
  Poller poller_;
  std::vector<Conn> conns_;
  bool http_, fcgi_, per_conn_, head_request_;
  uint64_t budget_, issued_ = 0, done_ = 0;
  bool open_loop_;
  double interval_ns_ = 0;
  uint64_t phase_ns_;
  uint64_t next_n_ = 0;  // open loop: the next request on the schedule
  uint64_t next_due_ = UINT64_MAX;
  uint64_t timeout_ns_;
  unsigned sleeping_ = 0;
  uint64_t next_wake_ = UINT64_MAX;
  std::unique_ptr<char[]> scratch_;
};

}  // namespace tsgi::loadgen
