// WebSocket (RFC 6455) after the HTTP/1.1 exchange answered the opening
// handshake: the connection's bytes go through the frame decoder
// (proto/ws/framer.h), which unmasks them in place and checks every rule;
// this file holds the connection's side: whole messages to the app (a
// single-frame message straight from the input buffer, a fragmented one
// gathered first), pings answered with pongs, the close handshake, the
// idle ping and the timeouts, and the app's messages framed into the
// output queue with the same backpressure as a reply body.
//
// Closing, both ways (RFC 6455 7.1): the client's close frame is echoed
// after the app answered the messages before it, and the connection
// closes once the echo is written; the app's close (or
// an error's: the code of TSGI_WS_ERRORS) is sent and the client's answer
// awaited for ws_close_timeout_ms. The app hears of the end once, with the
// code received (1005: a close frame without one), the code sent on an
// error, or 1006 when the connection ended without a close frame.
//
// permessage-deflate (RFC 7692), when the handshake agreed it: a message
// whose first frame has RSV1 is inflated into the gathered buffer (its
// inflated size held to the message limit and its text checked as UTF-8 by
// the inflater, proto/ws/deflate.h) and the app's messages of at least
// kDefaultCompressMin bytes go out compressed. Without context takeover the
// zlib state is released after each message, so such a connection holds no
// zlib memory between messages.
#include <algorithm>
#include <memory>
#include <string>
#include <unistd.h>

#include "conn/connection.h"
#include "core/exchange.h"
#include "core/loop.h"
#include "proto/ws/deflate.h"
#include "proto/ws/framer.h"
#include "proto/ws/writer.h"

namespace tsgi {

namespace {

// Above this, a message's payload goes to the socket from where it lies
// before any copy, as a reply body's does.
constexpr size_t kBorrowAbove = 16 * 1024;
// A gathered message's buffer is given back past this, once delivered.
constexpr size_t kKeepMessageBuffer = 64 * 1024;
// Nothing heard after the idle ping this long: the client is gone.
constexpr uint32_t kPingAnswerMs = 30000;

struct WsState final : ExchangeState {
  explicit WsState(const ws::Limits& limits) : decoder(limits) {}
  ws::Decoder decoder;
  std::string message;          // a fragmented message, gathered
  const char* whole = nullptr;  // a single-frame message in the input buffer,
  size_t whole_len = 0;         // delivered at its end (its UTF-8 checked by then)
  bool single = false;          // the open message is one frame
  bool close_sent = false;
  bool echo_pending = false;    // the client's close, answered once the app had its turn
  uint16_t echo_code = 0;
  std::string echo_reason;
  bool told = false;            // the app heard of the end
  bool ping_out = false;        // the idle ping awaits an answer
  bool want_drain = false;
  // permessage-deflate, when agreed: the open message is compressed (RSV1
  // on its first frame) and inflated into `message`.
  bool compressed = false;
  bool client_no_context_takeover = false;
  bool server_no_context_takeover = false;
  std::unique_ptr<ws::Inflater> inflater;
  std::unique_ptr<ws::Deflater> deflater;
};

class WebSocketExchange final : public Exchange {
 public:
  using Exchange::Exchange;

  bool client_speaks_first() const override { return false; }

  void on_accept(Connection* c) override {
    const LoopOptions& o = loop_.options();
    ws::Limits limits;
    limits.max_frame = o.ws_max_message;
    limits.max_message = o.ws_max_message;
    if (c->ws_deflate) limits.allow_rsv1 = true;
    delete c->exchange_state;
    WsState* s = new WsState(limits);
    c->exchange_state = s;
    if (c->ws_deflate) {
      const ws::DeflateAgreement& a = c->ws_deflate->agreed;
      s->inflater = std::make_unique<ws::Inflater>(a, o.ws_max_message);
      s->deflater = std::make_unique<ws::Deflater>(a);
      s->client_no_context_takeover = a.client_no_context_takeover;
      s->server_no_context_takeover = a.server_no_context_takeover;
      c->ws_deflate.reset();
    }
    c->body_flowing = true;
    idle(c);
  }

  void on_input(Connection* c) override;
  void on_drain(Connection* c) override {
    WsState* s = state(c);
    if (s->want_drain && !s->told) {
      s->want_drain = false;
      loop_.sink().on_drain(c->handle);
    }
  }
  void on_close(Connection* c) override { tell(c, 1006, nullptr, 0); }
  bool on_timeout(Connection* c) override;

  int respond(Connection*, double, int, const char*, size_t, const char*, size_t, int64_t, uint32_t) override {
    return kReplyGone;
  }
  int write(Connection*, double, const char*, size_t) override { return kReplyGone; }
  int write_file(Connection*, double, int file, uint64_t, uint64_t) override {
    ::close(file);
    return kReplyGone;
  }
  int end(Connection*, double) override { return kReplyGone; }
  int read_body(Connection* c, double handle, bool flowing) override {
    if (!live(c, handle)) return kReplyGone;
    c->body_flowing = flowing;
    loop_.mark_dirty(c);
    return kReplyOk;
  }
  // terminate(): the connection is cut, no close frame; the app knows.
  int abort(Connection* c, double handle) override {
    WsState* s = live(c, handle);
    if (!s) return kReplyGone;
    s->told = true;
    loop_.close_conn(c);
    return kReplyOk;
  }
  int ws_send(Connection* c, double handle, const char* data, size_t len, uint32_t flags) override;
  int ws_close(Connection* c, double handle, uint16_t code, const char* reason, size_t reason_len) override;

 private:
  static WsState* state(Connection* c) { return static_cast<WsState*>(c->exchange_state); }
  static WsState* live(Connection* c, double handle) {
    WsState* s = state(c);
    return c->handle == handle && handle != 0 && !s->told ? s : nullptr;
  }
  void idle(Connection* c) {
    uint32_t ms = loop_.options().ws_idle_timeout_ms;
    c->head_deadline_ms = ms ? loop_.now() + ms : 0;
  }
  void tell(Connection* c, uint16_t code, const char* reason, size_t reason_len) {
    WsState* s = state(c);
    if (!s || s->told || c->handle == 0) return;
    s->told = true;
    loop_.sink().on_ws_close(c->handle, code, reason, reason_len);
  }
  void send_close(Connection* c, uint16_t code, const char* reason, size_t reason_len) {
    char frame[ws::kMaxControlFrame];
    size_t n = ws::write_close(frame, code, reason, reason_len);
    if (n == 0) n = ws::write_close(frame, 0, nullptr, 0);
    c->out.append(frame, n);
    state(c)->close_sent = true;
    loop_.mark_dirty(c);
  }
  void deliver(Connection* c, WsState* s, uint8_t opcode);
  // The client broke the protocol (a frame's rule, or a compressed message
  // that cannot be inflated, is over the limit inflated, or is not UTF-8):
  // the close code says which (1002, 1007, 1009, 1011); nothing more is read.
  void fail(Connection* c, WsState* s, uint16_t code, const char* text) {
    size_t len = std::char_traits<char>::length(text);
    if (!s->close_sent) send_close(c, code, text, len);
    tell(c, code, text, len);
    c->close_after_flush = true;
    c->consume(c->in_len());
    loop_.mark_dirty(c);
  }
  void refuse_message(Connection* c, WsState* s, ws::DeflateResult r) {
    fail(c, s, ws::close_code(r), ws::result_text(r));
  }
  std::string packed_;  // a message being compressed (one at a time per loop)
  void echo_close(Connection* c, WsState* s) {
    s->echo_pending = false;
    send_close(c, s->echo_code, s->echo_reason.data(), s->echo_reason.size());
    c->close_after_flush = true;  // 7.1.1: the server closes the TCP connection first
  }
};

void WebSocketExchange::on_input(Connection* c) {
  WsState* s = state(c);
  if (s->echo_pending) {
    // The client's close was read by an earlier call, whose events (the
    // messages before it, then the close) the app has had by the time the
    // loop is out of run_ready(): its answers to them go out before the
    // echo, as RFC 6455 7.1.1 has data frames before a close. Bytes after
    // the close are never read.
    if (!loop_.reading()) echo_close(c, s);
    return;
  }
  bool heard = false;
  while (!c->closed && c->body_flowing && !c->close_after_flush) {
    // A client that does not take what we send gets nothing more queued:
    // its input waits until the queue is written below the mark (every
    // flush is followed by on_input), else pings it never reads the pongs
    // of (5.5.2) would grow the queue as fast as it sends them.
    if (c->out.size() > loop_.options().out_high_water) break;
    ws::Event ev;
    // The decoder consumes what it reads (headers into its state, payload
    // unmasked in place): the buffer gives up the bytes at once.
    char* in = const_cast<char*>(c->in_data());
    size_t used = s->decoder.feed(in, c->in_len(), &ev);
    c->consume(used);
    if (used) heard = true;
    switch (ev.type) {
      case ws::Ev::kAgain:
        goto done;
      case ws::Ev::kFrame:
        if (ev.opcode != ws::kContinuation) {
          s->compressed = ev.rsv1;
          if (s->compressed) s->inflater->begin(ev.message == ws::kText);
          s->single = ev.fin && !s->compressed;
          s->whole = nullptr;
          s->whole_len = 0;
          s->message.clear();
        } else {
          s->single = false;
        }
        break;
      case ws::Ev::kData:
        if (s->close_sent) break;  // the app closed: later messages are dropped
        if (s->compressed) {
          ws::StringSink sink(&s->message);
          ws::DeflateResult r = s->inflater->feed(ev.data, ev.len, sink);
          if (r != ws::DeflateResult::kOk) {
            refuse_message(c, s, r);
            goto done;
          }
          break;
        }
        if (s->single && s->whole == nullptr && s->message.empty()) {
          s->whole = ev.data;  // valid in this call only (see done:)
          s->whole_len = ev.len;
        } else {
          if (s->whole) {  // a single frame arriving in pieces: gather it
            s->message.append(s->whole, s->whole_len);
            s->whole = nullptr;
            s->whole_len = 0;
          }
          s->message.append(ev.data, ev.len);
        }
        break;
      case ws::Ev::kMessageEnd:
        if (s->close_sent) break;
        if (s->compressed) {
          ws::StringSink sink(&s->message);
          ws::DeflateResult r = s->inflater->finish(sink);
          if (r != ws::DeflateResult::kOk) {
            refuse_message(c, s, r);
            goto done;
          }
          // 7.2.2: without context takeover nothing of it is kept.
          if (s->client_no_context_takeover) s->inflater->release();
          s->compressed = false;
        }
        deliver(c, s, ev.message);
        break;
      case ws::Ev::kPing: {
        if (s->close_sent) break;
        char frame[ws::kMaxControlFrame];
        c->out.append(frame, ws::write_control(frame, ws::kPong, ev.data, ev.len));
        loop_.mark_dirty(c);
        break;
      }
      case ws::Ev::kPong:
        break;  // any byte from the client answers the idle ping
      case ws::Ev::kClose: {
        uint16_t code = ev.code ? ev.code : 1005;
        tell(c, code, ev.data, ev.len);
        if (s->close_sent) {
          c->close_after_flush = true;  // 7.1.1: the server closes the TCP connection first
        } else {
          // 5.5.1: echo the code (and reason, as `ws` does; a close without
          // a code is answered without one), after the app's turn: see the
          // top of on_input.
          s->echo_pending = true;
          s->echo_code = ev.code;
          s->echo_reason.assign(ev.data, ev.len);
        }
        loop_.mark_dirty(c);
        goto done;
      }
      case ws::Ev::kError:
        fail(c, s, ev.code, ws::error_text(ev.error));
        goto done;
    }
  }
done:
  if (s->whole) {
    // A single frame cut by the read: its rest comes with a later read,
    // which reuses the buffer from its start (or an idle connection's
    // buffer is freed), so what came so far is kept here.
    s->message.append(s->whole, s->whole_len);
    s->whole = nullptr;
    s->whole_len = 0;
  }
  if (heard && !c->closed) {
    s->ping_out = false;
    if (!s->close_sent) idle(c);
  }
  if (!c->closed && c->peer_eof && !c->close_after_flush && !s->echo_pending && c->in_len() == 0) {
    // The client's FIN without a close frame (7.1.5: 1006).
    tell(c, 1006, nullptr, 0);
    loop_.close_conn(c);
  }
}

void WebSocketExchange::deliver(Connection* c, WsState* s, uint8_t opcode) {
  const char* data = s->whole ? s->whole : s->message.data();
  size_t len = s->whole ? s->whole_len : s->message.size();
  Loop::WsCounters& n = loop_.ws_counters();
  n.messages_in++;
  n.bytes_in += len;
  loop_.sink().on_ws_message(c->handle, data, len, opcode == ws::kBinary);
  s->whole = nullptr;
  s->whole_len = 0;
  if (s->message.capacity() > kKeepMessageBuffer) {
    std::string().swap(s->message);
  } else {
    s->message.clear();
  }
}

bool WebSocketExchange::on_timeout(Connection* c) {
  WsState* s = state(c);
  if (s->close_sent || s->ping_out) return false;  // no answer to our close or ping: cut
  // Idle: ask the client whether it is there (5.5.2); any byte answers.
  char frame[ws::kMaxControlFrame];
  c->out.append(frame, ws::write_control(frame, ws::kPing, nullptr, 0));
  s->ping_out = true;
  c->head_deadline_ms = loop_.now() + std::min(kPingAnswerMs, loop_.options().ws_idle_timeout_ms);
  loop_.mark_dirty(c);
  return true;
}

int WebSocketExchange::ws_send(Connection* c, double handle, const char* data, size_t len, uint32_t flags) {
  WsState* s = state(c);
  // The client's close awaiting its echo still takes the app's answers.
  if (c->handle != handle || handle == 0 || (s->told && !s->echo_pending)) return kReplyGone;
  if (s->close_sent || c->close_after_flush) return kReplyGone;
  uint8_t opcode = (flags & kWsBinary) ? ws::kBinary : ws::kText;
  Loop::WsCounters& n = loop_.ws_counters();
  n.messages_out++;
  n.bytes_out += len;
  if ((flags & kWsCompress) && s->deflater && len >= ws::kDefaultCompressMin) {
    packed_.clear();
    ws::StringSink sink(&packed_);
    if (s->deflater->compress(data, len, sink) == ws::DeflateResult::kOk) {
      if (s->server_no_context_takeover) s->deflater->release();  // nothing of it is kept
      char* head = c->out.reserve(ws::kMaxHeader);
      c->out.commit(ws::write_header(head, opcode, true, packed_.size(), true));
      c->out.append(packed_.data(), packed_.size());
      if (packed_.capacity() > kKeepMessageBuffer) std::string().swap(packed_);
      int rc = loop_.backpressure(c);
      if (rc == kReplyFull) s->want_drain = true;
      return rc;
    }
    // zlib could not (no memory): the message goes out as it is.
  }
  char* head = c->out.reserve(ws::kMaxHeader);
  c->out.commit(ws::write_header(head, opcode, true, len));
  if (len > kBorrowAbove) {
    c->out.append_ref(data, len);
    loop_.flush(c);
    if (c->closed) return kReplyGone;
    loop_.own_refs(c);
  } else if (len > 0) {
    c->out.append(data, len);
  }
  int rc = loop_.backpressure(c);
  if (rc == kReplyFull) s->want_drain = true;
  return rc;
}

int WebSocketExchange::ws_close(Connection* c, double handle, uint16_t code, const char* reason,
                                size_t reason_len) {
  WsState* s = live(c, handle);
  if (!s) return kReplyGone;
  if (s->close_sent) return kReplyOk;
  if (code != 0 && !ws::close_code_valid(code)) return kReplyGone;
  send_close(c, code, reason, reason_len);
  c->head_deadline_ms = loop_.now() + loop_.options().ws_close_timeout_ms;
  return kReplyOk;
}

}  // namespace

std::unique_ptr<Exchange> make_websocket_exchange(Loop& loop) {
  return std::make_unique<WebSocketExchange>(loop);
}

}  // namespace tsgi
