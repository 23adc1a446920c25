#include "exchange/http1.h"

#include <cstring>
#include <memory>

#include "conn/connection.h"
#include "core/loop.h"
#include "proto/http1/writer.h"

namespace tsgi {

bool Http1Exchange::parse_head(Connection* c) {
  http1::HeadError err;
  http1::Result r =
      http1::parse_head(c->in_data(), c->in_len(), loop_.options().limits, &c->head_scan, &head_, &err);
  if (r == http1::Result::kAgain) {
    if (c->peer_eof) loop_.close_conn(c);  // a partial head and no more bytes coming
    return false;
  }
  c->head_scan = 0;
  if (r == http1::Result::kError) {
    send_error(c, err.status);
    return false;
  }
  return begin_request(c);
}

bool Http1Exchange::begin_request(Connection* c) {
  const http1::RequestHead& h = head_;
  if (h.flags & http1::kUpgrade) {
    send_error(c, 501);  // protocol upgrades (WebSocket, h2c) come later
    return false;
  }
  if ((h.flags & http1::kContentLength) && h.content_length > loop_.options().max_body) {
    send_error(c, 413);
    return false;
  }
  const char* base = c->in_data();
  c->http11 = (h.flags & http1::kHttp11) != 0;
  c->keep_alive = (h.flags & http1::kKeepAlive) != 0 && !loop_.closing() && !c->peer_eof;
  c->expect_continue = (h.flags & http1::kExpectContinue) != 0;
  bool head_method = h.method.len == 4 && std::memcmp(base + h.method.off, "HEAD", 4) == 0;
  start_request(c, (h.flags & http1::kChunked) != 0, h.content_length, head_method);
  uint32_t rec = (c->in_state == Connection::In::kBodyDone ? uint32_t{kRecNoBody} : 0u) |
                 (head_method ? uint32_t{kRecHead} : 0u);
  loop_.sink().on_request(*c, c->handle, h, base, rec);
  c->consume(h.head_len);
  return true;
}

bool Http1Exchange::can_chunk(const Connection* c) const { return c->http11; }

void Http1Exchange::write_head(Connection* c, int status, const char* headers, size_t headers_len, uint32_t flags) {
  char* out = c->out.reserve(http1::head_size(headers_len));
  const char* date = (flags & Loop::kNoDate) ? nullptr : loop_.date_line();
  c->out.commit(http1::head(out, status, c->http11, headers, headers_len, date, c->reply.framing, c->reply.left,
                            c->keep_alive));
}

size_t Http1Exchange::error_response(char* out, int status) {
  return http1::error_response(out, status, loop_.date_line());
}

}  // namespace tsgi

namespace tsgi {

std::unique_ptr<Exchange> make_http1_exchange(Loop& loop) { return std::make_unique<Http1Exchange>(loop); }

}  // namespace tsgi
