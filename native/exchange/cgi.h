// The CGI-style protocols (uwsgi, SCGI): one request per connection, its
// CGI variables in one block ahead of the body, the reply framed by the web
// server in front (proto/cgi/writer.h). They differ only in the framer: a
// protocol is a CgiExchange that parses its block (exchange/uwsgi.cc,
// exchange/scgi.cc); the rest of the cycle is the same code.
#pragma once

#include "exchange/stream.h"
#include "proto/cgi/vars.h"
#include "proto/cgi/writer.h"

namespace tsgi {

// What a framer found at the start of the connection's input.
struct CgiBlock {
  enum class Status : uint8_t { kOk, kAgain, kError } status = Status::kAgain;
  const cgi::VarTable* vars = nullptr;  // kOk: the variables, slices of the input
  uint32_t head_len = 0;                // kOk: where the body starts
  uint64_t content_length = 0;
  uint32_t rec_flags = 0;               // kOk: record flags beyond kRecCgi
  const char* error = nullptr;          // kError: the framer's text
  bool looks_http = false;              // kError: an HTTP request
  bool too_large = false;               // kError: the block is over max_block
  uint32_t detail = 0;
};

class CgiExchange : public StreamExchange {
 public:
  struct Traits {
    const char* name;       // in logs: "uwsgi", "SCGI"
    const char* directive;  // nginx's, in the reply to an HTTP client: "uwsgi_pass"
    cgi::Style style;       // the reply head's status
  };
  CgiExchange(Loop& loop, const Traits& traits) : StreamExchange(loop), traits_(traits) {}

  bool client_speaks_first() const override { return true; }

 protected:
  // The framer: parses the request block at [data, data + len).
  virtual void parse_block(const char* data, size_t len, uint32_t max_block, CgiBlock* out) = 0;

  bool parse_head(Connection* c) override;
  bool can_chunk(const Connection* c) const override;
  void write_head(Connection* c, int status, const char* headers, size_t headers_len, uint32_t flags) override;
  size_t error_response(char* out, int status) override;

 private:
  const Traits traits_;
};

}  // namespace tsgi
