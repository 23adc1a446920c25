// The request cycle of the protocols that carry one request at a time on a
// connection (HTTP/1.1, one after another; uwsgi and SCGI, one per
// connection): the request's state lives in Connection, the body arrives
// after the head in the connection's own bytes, the reply is a head and a
// body in the connection's output queue. A protocol built on it says how a
// head is parsed and how a reply head and a refusal are written.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/exchange.h"

namespace tsgi {

class StreamExchange : public Exchange {
 public:
  using Exchange::Exchange;

  void on_input(Connection* c) override;
  void on_drain(Connection* c) override;
  void on_close(Connection* c) override;
  bool on_timeout(Connection* c) override;
  char* read_target(Connection* c, size_t* room) override;
  bool target_filled(Connection* c, const char* data, size_t n) override;
  int respond(Connection* c, double handle, int status, const char* headers, size_t headers_len,
              const char* body, size_t body_len, int64_t content_length, uint32_t flags) override;
  int write(Connection* c, double handle, const char* data, size_t len) override;
  int write_file(Connection* c, double handle, int file, uint64_t offset, uint64_t len) override;
  int end(Connection* c, double handle) override;
  int read_body(Connection* c, double handle, bool flowing) override;
  int abort(Connection* c, double handle) override;
  int retract(Connection* c, double handle) override;

 protected:
  // Parses the head at c->in_data() and dispatches its request (through
  // start_request and the sink), or refuses it (send_error). False when no
  // request was dispatched: more bytes are needed, or c is done.
  virtual bool parse_head(Connection* c) = 0;
  // A reply without a stated length may be chunked (else the close ends it).
  virtual bool can_chunk(const Connection* c) const = 0;
  // Appends the reply head to c->out; c->reply holds its framing and length.
  virtual void write_head(Connection* c, int status, const char* headers, size_t headers_len, uint32_t flags) = 0;
  // A complete reply for a request the server refuses itself (out holds 512).
  virtual size_t error_response(char* out, int status) = 0;

  // The request's head was read: its body follows (chunked, or
  // content_length bytes). Gives c a new handle.
  void start_request(Connection* c, bool chunked, uint64_t content_length, bool head_method);
  // The server answers the request itself and closes; an app's request is aborted.
  void send_error(Connection* c, int status);
  // The handle names c's current request, still to be answered.
  static bool current(const Connection* c, double handle);

 private:
  void deliver_body(Connection* c);
  bool body_over_limit(Connection* c, bool discard, uint64_t more);
  void finish_body(Connection* c);
  void finish_request(Connection* c);
  void reply_done(Connection* c);
  int append_body(Connection* c, const char* data, size_t len, bool borrow, int file = -1, uint64_t file_off = 0);
  int after_append(Connection* c, bool borrow);
};

}  // namespace tsgi
