// The core of one JS thread: a poller, its listeners and connections, and the
// part of the request cycle every protocol shares (accept, read, flush,
// settle, sweep, close, timers). Each protocol's part is its Exchange
// (core/exchange.h), one per protocol, which the loop calls without asking
// which protocol it serves. It knows nothing of JavaScript: requests and body
// data go out through a Sink (the N-API boundary implements it and batches
// them into one call), replies come in through respond()/write()/end().
//
// Life of a batch: the addon calls run_ready() when libuv says the poller fd is
// readable; socket events are turned into Sink events; the addon hands them to
// JS in one call; JS replies synchronously or later; the addon then calls
// flush_dirty(), which writes every touched connection once (one writev) and
// resumes pipelined input, possibly producing the next batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conn/connection.h"
#include "conn/out_queue.h"
#include "core/exchange.h"
#include "core/handle.h"
#include "napi/abi.h"
#include "net/allow.h"
#include "net/socket.h"
#include "poller/poller.h"
#include "proto/http1/parser.h"
#include "proto/http1/writer.h"
#include "proto/cgi/vars.h"

namespace tsgi {

struct LoopOptions {
  http1::Limits limits;
  uint64_t max_body = 100ull * 1024 * 1024;  // -> 413
  uint32_t header_timeout_ms = 60000;        // accept/previous reply -> full head, else 408
  uint32_t keepalive_timeout_ms = 15000;     // idle between requests
  uint32_t io_timeout_ms = 60000;            // body bytes or send progress stalled
  uint32_t max_connections = 10000;
  uint32_t max_cgi_block = 64 * 1024;        // uwsgi/SCGI variable block, FastCGI PARAMS (--buffer-size)
  uint32_t max_cgi_vars = 256;               // uwsgi/SCGI/FastCGI variables: --max-headers and the CGI ones
  uint32_t fcgi_max_reqs_per_conn = 64;      // concurrent FastCGI requests on one connection
  size_t in_buffer = 64 * 1024;          // request bytes buffered ahead of the app
  size_t out_high_water = 256 * 1024;    // write() says "wait for drain" above this
  size_t out_low_water = 64 * 1024;      // drain is reported below this
  size_t discard_limit = 256 * 1024;     // unread body drained to keep the connection
  uint64_t ws_max_message = 16u << 20;   // a WebSocket message, inflated; past it: close 1009
  uint32_t ws_idle_timeout_ms = 120000;  // nothing from the client this long: ping; again: close (0: never)
  uint32_t ws_close_timeout_ms = 5000;   // our close frame sent: the client's answer within this
  ws::DeflateConfig ws_deflate = {false};  // permessage-deflate (--ws-compression): off unless asked
};

// What a listener speaks: Protocol, in napi/abi.h (listen()'s protocol),
// numbered from 0 without gaps; each has its Exchange (exchange/registry.cc).
#define TSGI_PROTOCOL_ONE(name, key, value) +1
constexpr size_t kProtocolCount = 0 TSGI_ABI_PROTOCOLS(TSGI_PROTOCOL_ONE);
#undef TSGI_PROTOCOL_ONE
#define TSGI_UPGRADE_ONE(name, key, value) +1

struct Listener {
  int fd = -1;
  uint32_t index = 0;
  Exchange* exchange = nullptr;  // its protocol's, owned by the loop
  bool is_tcp = false;
  bool exclusive = false;
  bool watching = false;
  std::string name;       // as given by the user, for logs
  std::string unix_path;  // unlinked on close (not for abstract or inherited)
  std::string bound_host; // TCP: the address actually bound, and its port
  uint16_t bound_port = 0;
  net::AllowList allow;   // TCP peers accepted; empty = everyone
  uint64_t refused = 0;   // peers turned away by `allow`
};

class Connection;

// Events toward the app. `handle` identifies one request on one connection; a
// stale handle (the request ended) is refused by the reply calls.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void on_request(Connection& c, double handle, const http1::RequestHead& head,
                          const char* head_bytes, uint32_t rec_flags) = 0;
  // uwsgi and SCGI: the variables as sent; `head_bytes` spans the whole block.
  virtual void on_cgi_request(Connection& c, double handle, const cgi::VarTable& vars,
                              const char* head_bytes, uint32_t head_len, uint64_t content_length,
                              uint32_t rec_flags) = 0;
  virtual void on_body(double handle, const char* data, size_t len) = 0;
  // Where the next body bytes of `handle` may be read to straight from the
  // socket, and how many fit (*room): the app's own memory for a body it
  // reads whole; null when it gave none. Bytes read there are then passed
  // to on_body() at that very address, which takes them without a copy.
  virtual char* body_room(double handle, size_t* room) {
    (void)handle;
    *room = 0;
    return nullptr;
  }
  virtual void on_body_end(double handle) = 0;
  virtual void on_body_error(double handle, int status) = 0;
  virtual void on_abort(double handle) = 0;  // the client left before the reply ended
  virtual void on_drain(double handle) = 0;
  // FastCGI FILTER: the DATA stream (the file to filter), like the body.
  virtual void on_data(double handle, const char* data, size_t len) = 0;
  virtual void on_data_end(double handle) = 0;
  virtual void on_data_error(double handle, int status) = 0;
  // A WebSocket's whole message, and its end: the code received (1005: none;
  // 1006: the connection ended without a close frame) or sent on an error.
  virtual void on_ws_message(double handle, const char* data, size_t len, bool binary) = 0;
  virtual void on_ws_close(double handle, uint16_t code, const char* reason, size_t reason_len) = 0;
  virtual void log(const std::string& line) = 0;
  // The request just passed on with kRecServed was answered by the core (a
  // static file) with this status and body bytes: for the access log and
  // the counters only. Sinks that do not count ignore it.
  virtual void on_served(double handle, int status, uint64_t body_bytes) {
    (void)handle, (void)status, (void)body_bytes;
  }
};

// The flags added to RequestHead::flags in the record sent to JS
// (RecordFlags) and the results of the reply calls (ReplyStatus) are in
// napi/abi.h: JS reads the same numbers.

class Loop {
 public:
  Loop(Sink* sink, const LoopOptions& opts);
  ~Loop();
  bool ok() const { return poller_.ok(); }
  int poll_fd() const { return poller_.fd(); }
  const LoopOptions& options() const { return opts_; }

  // Returns the listener index or -errno with *error set.
  struct ListenSpec {
    std::string address;
    Protocol protocol = Protocol::kHttp;
    uint32_t mode = 0;
    int64_t owner = -1;  // unix sockets: chown() before listen(); -1 = unchanged
    int64_t group = -1;
    bool exclusive = false;
    std::vector<std::string> allow;  // TCP peers; empty = everyone
  };
  int listen(const ListenSpec& spec, std::string* error);
  void stop_listening();
  // Graceful close: idle keep-alive connections close now, busy ones after
  // their current reply. Returns the number of connections still open.
  // closing false: only the idle ones close (node's closeIdleConnections()).
  size_t close_idle(bool closing = true);
  void destroy_all();
  size_t connection_count() const { return live_; }
  const Listener* listener(uint32_t i) const { return i < listeners_.size() ? &listeners_[i] : nullptr; }

  // Drains ready poller events. Returns the number handled.
  int run_ready();
  // Writes touched connections and resumes their input. Returns true if that
  // produced new Sink events (the caller should deliver them and call again).
  // With `gather`, a connection with pipelined input parses its next request
  // first and stays dirty: its replies leave together, in one writev, once no
  // further request is answered within the turn (the caller ends the turn
  // with a call without it).
  bool flush_dirty(bool gather = false);
  bool has_dirty() const { return !dirty_.empty(); }
  // Inside run_ready(): the Sink events of this turn have not reached the
  // app yet (flush_dirty() runs after they did).
  bool reading() const { return in_run_ready_; }
  // Monotonic milliseconds, set by the addon before each batch.
  void set_now(uint64_t now_ms) { now_ms_ = now_ms; }
  // Once a second: timeouts, paused listeners, deferred frees.
  void sweep(uint64_t now_ms);

  // Replies. `headers` is the app's validated header block ("Name: value\r\n"…).
  // content_length < 0 means unknown. Flags below.
  enum ReplyFlags : uint32_t { kEnd = kReplyEnd, kClose = kReplyClose, kNoDate = kReplyNoDate };
  int respond(double handle, int status, const char* headers, size_t headers_len,
              const char* body, size_t body_len, int64_t content_length, uint32_t flags);
  // Body bytes. They are never kept past the call: small ones are copied;
  // large ones are written to the socket at once and only what the socket
  // did not take is copied (so an app may reuse its buffer, as PEP 3333 lets it).
  int write(double handle, const char* data, size_t len);
  // `len` bytes of the open file `file` from `offset`, sent with sendfile
  // (HTTP, uwsgi, SCGI; FastCGI's records need the bytes: kReplyGone there).
  // The loop owns `file` from the call on, whatever it returns.
  int write_file(double handle, int file, uint64_t offset, uint64_t len);
  int end(double handle);
  int read_body(double handle, bool flowing);
  // FastCGI FILTER's DATA stream: deliver (true) or hold it. Elsewhere: gone.
  int read_data(double handle, bool flowing);
  // The app's error stream: FastCGI STDERR records for the request; over
  // the other protocols kReplyGone (the caller logs the text instead).
  int write_stderr(double handle, const char* data, size_t len);
  int abort(double handle);
  // A reply that began and of which nothing was written yet is withdrawn.
  int retract(double handle) {
    Connection* c = find(handle);
    return c ? c->exchange->retract(c, handle) : kReplyGone;
  }
  // Switches the request's connection to another protocol (UpgradeKind).
  int upgrade(double handle, int kind, const char* headers, size_t headers_len);
  int ws_send(double handle, const char* data, size_t len, uint32_t flags);
  int ws_close(double handle, uint16_t code, const char* reason, size_t reason_len);
  // Bytes queued toward the handle's client, not yet taken by it (0: gone).
  size_t queued(double handle) {
    Connection* c = find(handle);
    return c && c->handle == handle ? c->out.size() : 0;
  }
  // Whether the handle's protocol sends a file's bytes unframed, so that
  // write_file works (1), or not (0: FastCGI); -1: the handle is gone.
  int sends_files(double handle) {
    Connection* c = find(handle);
    return c ? (c->exchange->sends_files() ? 1 : 0) : -1;
  }
  // WebSocket messages and their payload bytes, each way (--stats).
  struct WsCounters {
    uint64_t messages_in = 0, messages_out = 0, bytes_in = 0, bytes_out = 0;
  };
  WsCounters& ws_counters() { return ws_counters_; }
  // One message to many WebSockets, framed once; returns how many took it.
  size_t ws_publish(const double* handles, size_t count, const char* data, size_t len, uint32_t flags);

  // The services the exchanges build their part of the cycle from.
  Sink& sink() { return *sink_; }
  bool closing() const { return closing_; }  // close() was called: no keep-alive from now on
  // stop_listening() was called (a draining worker): a kept FastCGI
  // connection ends after its requests, as an HTTP one does on its
  // Connection: close reply, so the web server never reuses it.
  bool stopped() const { return stopped_; }
  uint64_t now() const { return now_ms_; }
  const char* date_line() { return date_.line(); }
  // The handle of a new request on c. (Inline, as the calls below: each
  // runs once or more per request, from the exchanges' files.)
  double next_handle(const Connection* c) {
    uint32_t request = ++next_request_;
    if (request == 0) request = ++next_request_;  // 0 is no request
    return handle::pack(request, c->slot);
  }
  // c is to be written (and its input resumed) at the batch's end.
  void mark_dirty(Connection* c) {
    if (c->dirty || c->closed) return;
    c->dirty = true;
    dirty_.push_back(c);
  }
  // Writes c's output now (a large borrowed body). May close c.
  void flush(Connection* c);
  // After such a flush: what the socket did not take of the borrowed bytes
  // is pinned where it lies if the caller's memory can be (set_pins), else
  // copied.
  void own_refs(Connection* c) { c->out.own_refs(pins_); }
  // Who can keep a reply call's memory alive (the addon: a whole body's
  // Buffer, a string it encoded into memory of its own).
  void set_pins(PinSource* pins) { pins_ = pins; }
  // After a reply call queued output: kReplyFull when the app should wait
  // for on_drain (the exchange records that on its reply), else kReplyOk.
  int backpressure(Connection* c) {
    mark_dirty(c);
    return c->out.size() > opts_.out_high_water ? kReplyFull : kReplyOk;
  }
  // A canned reply in another protocol than the listener's (an HTTP client
  // on a uwsgi socket), then close; nothing more is read.
  void send_raw_and_close(Connection* c, const char* data, size_t len);
  void close_conn(Connection* c);
  // The exchange an upgraded connection continues with (UpgradeKind), or null.
  Exchange* upgrade_exchange(int kind) {
    return kind >= 0 && kind < kUpgradeKinds ? upgrades_[kind].get() : nullptr;
  }

 private:
  // The open connection a handle's slot names; its exchange checks that the
  // handle names a live request of it.
  Connection* find(double handle) {
    uint32_t slot = 0;
    if (!handle::slot_of(handle, &slot) || slot >= slots_.size()) return nullptr;
    Connection* c = slots_[slot];
    return c && !c->closed ? c : nullptr;
  }
  void on_listener_ready(Listener& l);
  size_t reclaim_idle();
  // Whether a connection could be closed to make room (into *out when given).
  bool reclaimable(std::vector<std::pair<uint64_t, Connection*>>* out);
  void on_conn_event(Connection* c, uint32_t flags);
  // Reads what c's socket holds (a few reads at most); *got: something
  // was. False when c closed.
  bool read_input(Connection* c, bool* got = nullptr);
  void watch_listeners(bool on);
  void settle(Connection* c);

  Sink* sink_;
  PinSource* pins_ = nullptr;
  WsCounters ws_counters_;
  LoopOptions opts_;
  Poller poller_;
  http1::DateCache date_;
  std::vector<Listener> listeners_;
  std::vector<Connection*> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<Connection*> dirty_;
  std::vector<Connection*> graveyard_;  // freed after the batch that closed them
  size_t live_ = 0;
  uint32_t next_request_ = 0;
  uint64_t now_ms_ = 0;
  bool accepting_ = true;   // false while stopped or at max_connections
  bool closing_ = false;    // close() was called: no keep-alive from now on
  bool stopped_ = false;    // stop_listening() was called
  bool accept_backoff_ = false;
  uint64_t reclaimed_ = 0;          // idle connections closed at max_connections
  uint64_t reclaim_logged_ms_ = 0;
  std::unique_ptr<Exchange> exchanges_[kProtocolCount];
  static constexpr int kUpgradeKinds = 0 TSGI_ABI_UPGRADES(TSGI_UPGRADE_ONE);
  std::unique_ptr<Exchange> upgrades_[kUpgradeKinds];
  bool in_run_ready_ = false;
};

}  // namespace tsgi
