#include "exchange/stream.h"

#include <string>
#include <unistd.h>

#include "conn/connection.h"
#include "core/loop.h"

namespace tsgi {

// Above this, body bytes are written from where they lie before copying.
static constexpr size_t kBorrowAbove = 16 * 1024;

bool StreamExchange::current(const Connection* c, double handle) { return c->handle == handle; }

void StreamExchange::on_input(Connection* c) {
  const LoopOptions& opts = loop_.options();
  while (!c->closed) {
    switch (c->in_state) {
      case Connection::In::kHead:
        if (c->request_active || c->out.size() > opts.out_high_water) return;
        // RFC 9112 9.6: after a request that closes the connection, nothing
        // more on it is processed, though it arrived in the same write.
        if (c->close_after_flush) return;
        if (c->in_len() == 0) return;
        if (!parse_head(c)) return;
        break;
      case Connection::In::kBody:
        if (!c->body_flowing) return;
        deliver_body(c);
        if (c->in_state == Connection::In::kBody) return;
        break;
      case Connection::In::kDiscard:
        deliver_body(c);
        if (c->in_state == Connection::In::kDiscard) return;
        break;
      case Connection::In::kBodyDone:
      case Connection::In::kUpgraded:  // not this exchange's any more
        return;
    }
  }
}

void StreamExchange::start_request(Connection* c, bool chunked, uint64_t content_length, bool head_method) {
  c->reply.reset(head_method);
  c->chunked = chunked;
  c->body_left = chunked ? 0 : content_length;
  c->body_seen = 0;
  c->decoder.reset();
  c->body_flowing = false;
  c->continue_sent = false;
  c->request_active = true;
  bool no_body = !c->chunked && c->body_left == 0;
  c->in_state = no_body ? Connection::In::kBodyDone : Connection::In::kBody;
  c->handle = loop_.next_handle(c);
}

// Whether `more` chunked body bytes would take the body past its limit; if
// so the request is refused with 413 (RFC 9110 15.5.14), or, for a body being
// discarded after the reply, the connection is closed rather than drained.
bool StreamExchange::body_over_limit(Connection* c, bool discard, uint64_t more) {
  const LoopOptions& opts = loop_.options();
  // body_seen never passes a limit it was checked against; `more` may be 2^64 - 1.
  auto over = [&](uint64_t limit) { return c->body_seen > limit || more > limit - c->body_seen; };
  if (discard && over(opts.discard_limit)) {
    c->close_after_flush = true;  // not worth draining: close instead
    c->consume(c->in_len());
    return true;
  }
  if (!over(opts.max_body)) return false;
  if (!discard) loop_.sink().on_body_error(c->handle, 413);
  if (!c->reply.started) send_error(c, 413);
  else c->close_after_flush = true;
  return true;
}

void StreamExchange::deliver_body(Connection* c) {
  Sink& sink = loop_.sink();
  bool discard = c->in_state == Connection::In::kDiscard;
  while (c->in_len() > 0) {
    // The sink paused the body while taking it (a read into the app's memory
    // filled up): the rest waits in the buffer for the next read.
    if (!discard && !c->body_flowing) return;
    const char* data = nullptr;
    size_t data_len = 0;
    if (c->chunked) {
      size_t used = 0;
      auto step = c->decoder.feed(c->in_data(), c->in_len(), &used, &data, &data_len);
      if (step == http1::ChunkedDecoder::Step::kError) {
        if (!discard) sink.on_body_error(c->handle, 400);
        if (!c->reply.started) {
          send_error(c, 400);
        } else {
          c->keep_alive = false;
          c->close_after_flush = true;
        }
        return;
      }
      if (step == http1::ChunkedDecoder::Step::kChunk) {
        // The chunk's size is known before its data: one that cannot fit is
        // refused now, as nginx does, not after the limit's worth arrived.
        c->consume(used);
        if (body_over_limit(c, discard, c->decoder.chunk_size())) return;
        continue;
      }
      if (step == http1::ChunkedDecoder::Step::kData) {
        // Checked with its chunk's size already; this keeps the bound local.
        if (body_over_limit(c, discard, data_len)) return;
        c->body_seen += data_len;
        if (!discard) sink.on_body(c->handle, data, data_len);
        c->consume(used);
        continue;
      }
      c->consume(used);
      if (step == http1::ChunkedDecoder::Step::kDone) {
        finish_body(c);
        return;
      }
      return;  // kAgain: all consumed
    }
    size_t n = c->in_len() < c->body_left ? c->in_len() : static_cast<size_t>(c->body_left);
    if (!discard) sink.on_body(c->handle, c->in_data(), n);
    c->consume(n);
    c->body_left -= n;
    if (c->body_left == 0) {
      finish_body(c);
      return;
    }
  }
}

// A body of stated length that the app reads whole is read from the socket
// into its memory (Sink::body_room), once the buffered part went there.
char* StreamExchange::read_target(Connection* c, size_t* room) {
  *room = 0;
  if (c->in_state != Connection::In::kBody || !c->request_active || !c->body_flowing || c->chunked ||
      c->body_left == 0) {
    return nullptr;
  }
  size_t free = 0;
  char* p = loop_.sink().body_room(c->handle, &free);
  if (!p || free == 0) return nullptr;  // none given, or full: the buffer, and on_body refuses the excess
  *room = c->body_left < free ? static_cast<size_t>(c->body_left) : free;
  return p;
}

bool StreamExchange::target_filled(Connection* c, const char* data, size_t n) {
  loop_.sink().on_body(c->handle, data, n);
  c->body_left -= n;
  if (c->body_left > 0) return c->body_flowing;  // paused: the rest stays in the socket
  finish_body(c);
  return false;
}

void StreamExchange::finish_body(Connection* c) {
  if (c->in_state == Connection::In::kDiscard) {
    c->in_state = Connection::In::kBodyDone;
    finish_request(c);
    return;
  }
  c->in_state = Connection::In::kBodyDone;
  loop_.sink().on_body_end(c->handle);
  if (!c->request_active) finish_request(c);
}

// Both the reply and the request body are complete.
void StreamExchange::finish_request(Connection* c) {
  c->requests++;
  c->handle = 0;
  c->in_state = Connection::In::kHead;
  if (!c->keep_alive || loop_.closing()) {
    c->close_after_flush = true;
    // Everything the client sent is read and nothing else is buffered: no
    // byte can be left unread when we close, so no RST can overtake the reply.
    c->clean_close = c->in_len() == 0;
    return;
  }
  const LoopOptions& opts = loop_.options();
  c->head_deadline_ms = loop_.now() + (c->in_len() > 0 ? opts.header_timeout_ms : opts.keepalive_timeout_ms);
  loop_.mark_dirty(c);  // pipelined requests may be waiting
}

void StreamExchange::send_error(Connection* c, int status) {
  char buf[512];
  size_t n = error_response(buf, status);
  c->out.append(buf, n);
  c->keep_alive = false;
  c->close_after_flush = true;
  // Nothing more is read from a client we refused: its framing is unknown.
  c->in_state = Connection::In::kBodyDone;
  c->consume(c->in_len());
  if (c->request_active) {
    loop_.sink().on_abort(c->handle);  // the app's signal fires; its reply is moot
    c->request_active = false;
    c->handle = 0;
  }
  loop_.mark_dirty(c);
}

void StreamExchange::on_drain(Connection* c) {
  if (c->reply.want_drain && c->request_active) {
    c->reply.want_drain = false;
    loop_.sink().on_drain(c->handle);
  }
}

void StreamExchange::on_close(Connection* c) {
  if (c->request_active) loop_.sink().on_abort(c->handle);
}

bool StreamExchange::on_timeout(Connection* c) {
  if (c->in_state != Connection::In::kHead || c->request_active || c->in_len() == 0 || !c->out.empty()) {
    return false;
  }
  send_error(c, 408);  // RFC 9110 15.5.9: the head did not arrive in time
  c->head_deadline_ms = loop_.now() + 1000;  // and we wait no longer for it to be read
  return true;
}

// ---- replies ---------------------------------------------------------------

int StreamExchange::respond(Connection* c, double handle, int status, const char* headers, size_t headers_len,
                            const char* body, size_t body_len, int64_t content_length, uint32_t flags) {
  if (!current(c, handle) || !c->request_active || c->reply.started) return kReplyGone;
  if (flags & Loop::kClose) c->keep_alive = false;
  // An unread body that is too large to drain costs the connection; say so.
  if (c->in_state == Connection::In::kBody && !c->body_flowing &&
      (c->chunked || c->body_left > loop_.options().discard_limit)) {
    c->keep_alive = false;
  }
  bool ends = (flags & Loop::kEnd) != 0;
  if (c->expect_continue && !c->continue_sent && c->in_state == Connection::In::kBody) {
    if (!ends) {
      // A streamed reply to a request whose body is still unread (an echo, a
      // transform): the app is about to read it, and after the final head a
      // 100 could no longer be sent. A 100 followed by a final reply is always
      // valid (RFC 9110 15.2.1).
      c->out.append(http1::kContinue, sizeof(http1::kContinue) - 1);
      c->continue_sent = true;
    } else {
      // The client waits for a 100 that will not come and will not send the
      // body: the connection's framing is unknown (RFC 9110 10.1.1).
      c->keep_alive = false;
    }
  }
  uint64_t mark = c->out.mark();
  c->reply.begin(status, ends, body_len, content_length, can_chunk(c));
  c->reply.out_mark = mark;
  // Neither a length nor chunks: the close delimits the body.
  if (c->reply.framing == http1::kFrameClose) c->keep_alive = false;
  write_head(c, status, headers, headers_len, flags);
  bool borrow = body_len > kBorrowAbove;
  if (body_len > 0 && append_body(c, body, body_len, borrow) == kReplyOverflow) {
    if (borrow) loop_.own_refs(c);
    return kReplyOverflow;
  }
  if (borrow) {
    // Head and body in one writev straight from the caller's memory; what
    // the socket did not take stays there when the caller can pin it (a
    // whole body's Buffer, a string the addon encoded), else it is copied.
    loop_.flush(c);
    if (c->closed) return kReplyGone;
    loop_.own_refs(c);
  }
  if (ends) return end(c, handle);
  return after_append(c, false);
}

int StreamExchange::append_body(Connection* c, const char* data, size_t len, bool borrow, int file,
                                uint64_t file_off) {
  if (len == 0 || !c->reply.has_content()) {
    if (file >= 0) close(file);
    return kReplyOk;
  }
  bool overflow = c->reply.take(&len);  // send what was promised, no more
  if (c->reply.framing == http1::kFrameChunked) {
    char* p = c->out.reserve(20);
    c->out.commit(http1::chunk_prefix(p, len));
  }
  if (file >= 0) {
    c->out.append_file(file, file_off, len);
  } else if (borrow) {
    c->out.append_ref(data, len);
  } else {
    c->out.append(data, len);
  }
  if (c->reply.framing == http1::kFrameChunked) c->out.append(http1::kChunkSuffix, 2);
  if (overflow) {
    // More body than the Content-Length the app declared: the reply ends at
    // the declared length and the connection closes after it.
    c->keep_alive = false;
    reply_done(c);
    c->close_after_flush = true;
    loop_.mark_dirty(c);
    return kReplyOverflow;
  }
  return kReplyOk;
}

// After body bytes went into the queue: write a borrowed piece out now (its
// unwritten rest pinned or copied, as in respond()), then tell the app
// whether to wait.
int StreamExchange::after_append(Connection* c, bool borrow) {
  if (borrow) {
    loop_.flush(c);
    if (c->closed) return kReplyGone;
    loop_.own_refs(c);  // pinned where the caller keeps its bytes unchanged, else copied
  }
  int rc = loop_.backpressure(c);
  if (rc == kReplyFull) c->reply.want_drain = true;
  return rc;
}

int StreamExchange::write(Connection* c, double handle, const char* data, size_t len) {
  if (!current(c, handle) || !c->request_active || !c->reply.started || c->reply.ended) return kReplyGone;
  bool borrow = len > kBorrowAbove;
  int rc = append_body(c, data, len, borrow);
  if (rc != kReplyOk) {
    if (borrow) loop_.own_refs(c);
    return rc;
  }
  return after_append(c, borrow);
}

int StreamExchange::write_file(Connection* c, double handle, int file, uint64_t offset, uint64_t len) {
  if (!current(c, handle) || !c->request_active || !c->reply.started || c->reply.ended) {
    close(file);
    return kReplyGone;
  }
  int rc = append_body(c, nullptr, static_cast<size_t>(len), false, file, offset);
  return rc == kReplyOk ? after_append(c, false) : rc;
}

int StreamExchange::end(Connection* c, double handle) {
  if (!current(c, handle) || !c->request_active || !c->reply.started || c->reply.ended) return kReplyGone;
  if (c->reply.has_content() && c->reply.framing == http1::kFrameChunked) {
    c->out.append(http1::kLastChunk, sizeof(http1::kLastChunk) - 1);
  } else if (c->reply.short_of_length()) {
    // Fewer bytes than the Content-Length promised: the client can only learn
    // that the reply is incomplete from the connection closing.
    loop_.sink().log("reply ended " + std::to_string(c->reply.left) +
                     " bytes short of its Content-Length; closing the connection");
    c->keep_alive = false;
  }
  if (c->reply.framing == http1::kFrameClose) c->keep_alive = false;
  reply_done(c);
  loop_.mark_dirty(c);
  return kReplyOk;
}

void StreamExchange::reply_done(Connection* c) {
  c->reply.ended = true;
  c->request_active = false;
  c->reply.want_drain = false;
  switch (c->in_state) {
    case Connection::In::kBodyDone:
      finish_request(c);
      break;
    case Connection::In::kBody:
      if (c->keep_alive) {
        c->in_state = Connection::In::kDiscard;  // drop the unread rest, then go on
      } else {
        c->close_after_flush = true;
      }
      break;
    default:
      break;
  }
}

int StreamExchange::read_body(Connection* c, double handle, bool flowing) {
  if (!current(c, handle) || !c->request_active) return kReplyGone;
  c->body_flowing = flowing;
  if (flowing && c->in_state == Connection::In::kBody) {
    if (c->expect_continue && !c->continue_sent && !c->reply.started) {
      // RFC 9110 10.1.1: the client waits for this before sending the body;
      // it goes out only once the app asks for the body.
      c->out.append(http1::kContinue, sizeof(http1::kContinue) - 1);
      c->continue_sent = true;
    }
    c->recv_since_ms = loop_.now();
    c->read_now = true;
  }
  loop_.mark_dirty(c);
  return kReplyOk;
}

// The app failed after its reply began, before any of it was written (a
// streamed body that threw right after its first chunk): drop what was
// queued of it, so the app's failure can still be a clean 500.
int StreamExchange::retract(Connection* c, double handle) {
  if (!current(c, handle) || !c->request_active || !c->reply.started || c->reply.ended) return kReplyGone;
  if (!c->out.unsent_since(c->reply.out_mark)) return kReplyGone;
  c->out.truncate(c->reply.out_mark);
  c->reply.reset(c->reply.head_method);
  return kReplyOk;
}

int StreamExchange::abort(Connection* c, double handle) {
  if (!current(c, handle)) return kReplyGone;
  c->request_active = false;  // the app asked for it: no abort event back
  loop_.close_conn(c);
  return kReplyOk;
}

}  // namespace tsgi
