// A tunnel: a connection an app took over with an HTTP/1.1 Upgrade it
// answers itself, as node:http's 'upgrade' event gives `ws` and socket.io
// the socket. Bytes pass both ways unchanged: what arrives goes to the app
// as body events while it reads (read_body pauses and resumes, the buffer
// limit is the backpressure), the client's FIN as the body's end, what the
// app writes goes out as it is, end() half-closes our side after the queue
// is written (the client's bytes still reach the app, as net.Socket's do
// after its end()), abort() cuts; once both sides ended, the connection
// closes. The connection's close is always reported
// (on_abort), once, whoever caused it.
#include <memory>
#include <unistd.h>

#include "conn/connection.h"
#include "core/exchange.h"
#include "core/loop.h"
#include "net/socket.h"

namespace tsgi {

namespace {

// Above this, written bytes go to the socket from where they lie before
// any copy (as a reply body's do).
constexpr size_t kBorrowAbove = 16 * 1024;

struct TunnelState final : ExchangeState {
  bool eof_told = false;    // the client's FIN was reported
  bool ended = false;       // the app ended its side
  bool shut = false;        // ... and our FIN is sent (the queue was written)
  bool want_drain = false;  // write() said kReplyFull
};

class TunnelExchange final : public Exchange {
 public:
  using Exchange::Exchange;

  bool client_speaks_first() const override { return false; }

  void on_accept(Connection* c) override {
    delete c->exchange_state;
    c->exchange_state = new TunnelState();
  }

  void on_input(Connection* c) override {
    TunnelState* t = state(c);
    if (!c->body_flowing) return;
    if (c->in_len() > 0) {
      loop_.sink().on_body(c->handle, c->in_data(), c->in_len());
      c->consume(c->in_len());
    }
    if (c->peer_eof && !t->eof_told) {
      t->eof_told = true;
      loop_.sink().on_body_end(c->handle);
      // Both sides done: nothing more can pass.
      if (t->ended) {
        c->close_after_flush = true;
        loop_.mark_dirty(c);
      }
    }
  }

  void on_drain(Connection* c) override {
    TunnelState* t = state(c);
    if (t->ended && !t->shut && !c->close_after_flush && c->out.empty()) shut_write(c);
    if (c->closed) return;
    if (t->want_drain) {
      t->want_drain = false;
      loop_.sink().on_drain(c->handle);
    }
  }

  void on_close(Connection* c) override {
    if (c->handle != 0) loop_.sink().on_abort(c->handle);
  }

  int respond(Connection*, double, int, const char*, size_t, const char*, size_t, int64_t, uint32_t) override {
    return kReplyGone;
  }

  int write(Connection* c, double handle, const char* data, size_t len) override {
    TunnelState* t = live(c, handle);
    if (!t || t->ended) return kReplyGone;
    if (len == 0) return kReplyOk;
    if (len > kBorrowAbove) {
      c->out.append_ref(data, len);
      loop_.flush(c);
      if (c->closed) return kReplyGone;
      loop_.own_refs(c);
    } else {
      c->out.append(data, len);
    }
    int rc = loop_.backpressure(c);
    if (rc == kReplyFull) t->want_drain = true;
    return rc;
  }

  int write_file(Connection* c, double handle, int file, uint64_t offset, uint64_t len) override {
    TunnelState* t = live(c, handle);
    if (!t || t->ended) {
      ::close(file);
      return kReplyGone;
    }
    c->out.append_file(file, offset, static_cast<size_t>(len));
    return loop_.backpressure(c);
  }

  // The app's FIN: our side shuts once the queue is written (on_drain),
  // and the client's bytes go on reaching the app until its own FIN. After
  // that FIN nothing can pass: the connection closes once written.
  int end(Connection* c, double handle) override {
    TunnelState* t = live(c, handle);
    if (!t || t->ended) return kReplyGone;
    t->ended = true;
    if (t->eof_told) {
      c->close_after_flush = true;
    } else if (c->out.empty()) {
      shut_write(c);
      if (c->closed) return kReplyOk;
    }
    loop_.mark_dirty(c);
    return kReplyOk;
  }

  int read_body(Connection* c, double handle, bool flowing) override {
    if (!live(c, handle)) return kReplyGone;
    c->body_flowing = flowing;
    loop_.mark_dirty(c);
    return kReplyOk;
  }

  int abort(Connection* c, double handle) override {
    if (!live(c, handle)) return kReplyGone;
    c->handle = 0;  // the app asked for it: no close event back
    loop_.close_conn(c);
    return kReplyOk;
  }

 private:
  static TunnelState* state(Connection* c) { return static_cast<TunnelState*>(c->exchange_state); }
  static TunnelState* live(Connection* c, double handle) {
    return c->handle == handle && handle != 0 ? state(c) : nullptr;
  }
  void shut_write(Connection* c) {
    state(c)->shut = true;
    if (net::shutdown_write(c->fd) != 0) loop_.close_conn(c);  // ENOTCONN: the client is gone
  }
};

}  // namespace

std::unique_ptr<Exchange> make_tunnel_exchange(Loop& loop) { return std::make_unique<TunnelExchange>(loop); }

}  // namespace tsgi
