// One protocol's side of the request cycle, behind the interface the loop
// calls: the loop accepts, polls, reads into the connection's buffer,
// flushes its output queue, settles its poller interest and deadlines,
// sweeps and closes; the connection's Exchange parses what arrived, hands
// requests and body bytes to the sink, and writes the app's replies into the
// output queue in its protocol's framing. The loop never asks which protocol
// a connection speaks.
//
// One Exchange object per protocol per loop, shared by all its connections:
// the state of a connection's requests lives in the Connection (one request
// at a time) or in an ExchangeState (conn/connection.h) the exchange hangs on it (FastCGI's
// request table), so serving a request costs no allocation here.
//
// A new protocol implements this class in one file in exchange/ and adds one
// line to exchange/registry.cc (docs/design.md, "Adding a protocol").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tsgi {

class Connection;
class Loop;
enum class Protocol : uint8_t;

class Exchange {
 public:
  explicit Exchange(Loop& loop) : loop_(loop) {}
  virtual ~Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // write_file() sends the file's bytes as they are (sendfile); false where
  // the protocol frames them (FastCGI): the bytes must be read and written.
  virtual bool sends_files() const { return true; }
  // The client sends its request with the connect (web servers do): a TCP
  // listener may wake for a connection once its bytes are there.
  virtual bool client_speaks_first() const = 0;
  // A connection of this protocol was accepted (before its first read).
  virtual void on_accept(Connection* c) { (void)c; }
  // Bytes arrived in c's input buffer, or room was made for more output:
  // parse and dispatch what can be. May close c.
  virtual void on_input(Connection* c) = 0;
  // The output queue is at or below the low-water mark: report the drains
  // the app waits for.
  virtual void on_drain(Connection* c) = 0;
  // c is closing: every request in flight on it is aborted (Sink::on_abort).
  virtual void on_close(Connection* c) = 0;
  // Where the next input bytes of c go instead of its buffer, and how many
  // (*room): the app's memory for a body of stated length it reads whole,
  // asked only while the buffer is empty. Null: into the buffer.
  virtual char* read_target(Connection* c, size_t* room) {
    (void)c;
    *room = 0;
    return nullptr;
  }
  // n bytes were read to the address read_target() gave: take them as
  // body. Returns whether more body is expected there.
  virtual bool target_filled(Connection* c, const char* data, size_t n) {
    (void)c, (void)data, (void)n;
    return false;
  }
  // c's deadline passed. True when the exchange answered (an HTTP 408) and
  // keeps the connection a little longer; false: the loop closes it.
  virtual bool on_timeout(Connection* c) { (void)c; return false; }
  // A deadline the exchange keeps against the client while a request is in
  // progress and the loop has none (FastCGI's PARAMS and STDIN); 0: none.
  virtual uint64_t client_deadline(const Connection* c) const { (void)c; return 0; }

  // The app's calls, for a handle whose slot is c (Loop finds it); each
  // refuses a handle that is not a live request of c with kReplyGone.
  // Semantics as Loop's calls of the same names (core/loop.h).
  virtual int respond(Connection* c, double handle, int status, const char* headers, size_t headers_len,
                      const char* body, size_t body_len, int64_t content_length, uint32_t flags) = 0;
  virtual int write(Connection* c, double handle, const char* data, size_t len) = 0;
  virtual int write_file(Connection* c, double handle, int file, uint64_t offset, uint64_t len) = 0;
  virtual int end(Connection* c, double handle) = 0;
  virtual int read_body(Connection* c, double handle, bool flowing) = 0;
  virtual int read_data(Connection* c, double handle, bool flowing);
  virtual int write_stderr(Connection* c, double handle, const char* data, size_t len);
  virtual int abort(Connection* c, double handle) = 0;
  // The reply began but none of it was written: forget it, so another may
  // be given (kReplyOk), else kReplyGone.
  virtual int retract(Connection* c, double handle);
  // The request switches protocols (UpgradeKind, napi/abi.h): the HTTP
  // exchange answers and hands c to the upgraded kind's exchange. Elsewhere
  // kReplyGone.
  virtual int upgrade(Connection* c, double handle, int kind, const char* headers, size_t headers_len);
  // A WebSocket's messages (WsFlags) and its closing; kReplyGone elsewhere.
  virtual int ws_send(Connection* c, double handle, const char* data, size_t len, uint32_t flags);
  virtual int ws_close(Connection* c, double handle, uint16_t code, const char* reason, size_t reason_len);

 protected:
  // An HTTP client (or nginx's proxy_pass) pointed at a socket of another
  // protocol: tell it so, in HTTP, then close.
  void answer_http_client(Connection* c, const char* protocol, const char* directive);

  Loop& loop_;
};

// The registry (exchange/registry.cc): the exchange serving `protocol`, or
// null for a protocol no listener can speak.
std::unique_ptr<Exchange> make_exchange(Protocol protocol, Loop& loop);
// The exchange a connection becomes after an upgrade (UpgradeKind), or null.
std::unique_ptr<Exchange> make_upgrade_exchange(int kind, Loop& loop);

}  // namespace tsgi
