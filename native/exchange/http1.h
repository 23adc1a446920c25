// HTTP/1.1 (RFC 9112): requests one after another on a kept-alive
// connection, pipelined; bodies by Content-Length or chunked, and
// 100-continue (the stream cycle's, which only HTTP turns on); replies with
// a status line, Date and their framing.
#pragma once

#include "exchange/stream.h"
#include "proto/http1/parser.h"

namespace tsgi {

class Http1Exchange final : public StreamExchange {
 public:
  using StreamExchange::StreamExchange;

  bool client_speaks_first() const override { return false; }
  int upgrade(Connection* c, double handle, int kind, const char* headers, size_t headers_len) override;

 protected:
  bool parse_head(Connection* c) override;
  bool can_chunk(const Connection* c) const override;
  void write_head(Connection* c, int status, const char* headers, size_t headers_len, uint32_t flags) override;
  size_t error_response(char* out, int status) override;

 private:
  bool begin_request(Connection* c);
  bool websocket_handshake(Connection* c, const http1::RequestHead& h, const char* base);
  http1::RequestHead head_;  // scratch: one request is parsed at a time
};

}  // namespace tsgi
