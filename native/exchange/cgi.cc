#include "exchange/cgi.h"

#include <cstring>
#include <string>

#include "conn/connection.h"
#include "core/loop.h"

namespace tsgi {

bool CgiExchange::parse_head(Connection* c) {
  const LoopOptions& opts = loop_.options();
  const char* base = c->in_data();
  CgiBlock b;
  parse_block(base, c->in_len(), opts.max_cgi_block, &b);
  if (b.status == CgiBlock::Status::kAgain) {
    if (c->peer_eof) loop_.close_conn(c);
    return false;
  }
  if (b.status == CgiBlock::Status::kError) {
    const Listener* l = loop_.listener(c->listener);
    std::string where = l ? l->name : std::string("?");
    if (b.looks_http) {
      answer_http_client(c, traits_.name, traits_.directive);
    } else if (b.too_large) {
      loop_.sink().log(std::string(traits_.name) + " request block of " + std::to_string(b.detail) + " bytes on " +
                       where + " is over the limit of " + std::to_string(opts.max_cgi_block) +
                       " bytes; raise it with --buffer-size");
      send_error(c, 431);
    } else {
      loop_.sink().log(std::string("bad ") + traits_.name + " request on " + where + ": " + b.error +
                       (b.detail ? " (" + std::to_string(b.detail) + ")" : std::string()));
      send_error(c, 400);
    }
    return false;
  }
  if (b.content_length > opts.max_body) {
    send_error(c, 413);
    return false;
  }
  const cgi::Var* m = b.vars->find(base, "REQUEST_METHOD");
  bool head_method = m && m->value.len == 4 && std::memcmp(base + m->value.off, "HEAD", 4) == 0;
  c->keep_alive = false;  // one request per connection: the close ends the reply
  c->expect_continue = false;
  start_request(c, false, b.content_length, head_method);
  uint32_t rec = kRecCgi | kRecLengthKnown | b.rec_flags;  // CONTENT_LENGTH frames the body
  if (c->in_state == Connection::In::kBodyDone) rec |= kRecNoBody;
  if (head_method) rec |= kRecHead;
  c->consume(b.head_len);  // first, as in http1.cc: a sink may answer within the call
  loop_.sink().on_cgi_request(*c, c->handle, *b.vars, base, b.head_len, b.content_length, rec);
  return true;
}

// The web server frames the reply to its client: no chunks here, and
// without a length the close ends the body.
bool CgiExchange::can_chunk(const Connection* c) const {
  (void)c;
  return false;
}

void CgiExchange::write_head(Connection* c, int status, const char* headers, size_t headers_len, uint32_t flags) {
  (void)flags;  // no Date, no Connection (proto/cgi/writer.h)
  char* out = c->out.reserve(cgi::head_size(headers_len));
  c->out.commit(cgi::head(out, traits_.style, status, headers, headers_len,
                          c->reply.framing == http1::kFrameLength, c->reply.left));
}

size_t CgiExchange::error_response(char* out, int status) { return cgi::error_response(out, traits_.style, status); }

}  // namespace tsgi
