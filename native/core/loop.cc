#include "core/loop.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "conn/connection.h"
#include "conn/fastcgi_session.h"
#include "core/handle.h"
#include "proto/cgi/writer.h"

namespace tsgi {

// Above this, body bytes are written from where they lie before copying.
static constexpr size_t kBorrowAbove = 16 * 1024;

// How long a lingering close drops the client's input before closing anyway.
static constexpr uint64_t kLingerMs = 2000;

// Listener entries in PollEvent::data are tagged with the low bit so they can
// share the poller with connections (both are at least 2-aligned).
static void* tag_listener(uint32_t index) {
  return reinterpret_cast<void*>((static_cast<uintptr_t>(index) << 1) | 1u);
}

Loop::Loop(Sink* sink, const LoopOptions& opts) : sink_(sink), opts_(opts) {
  if (opts_.max_connections > handle::kMaxSlots - 1) opts_.max_connections = handle::kMaxSlots - 1;
  if (opts_.limits.max_headers > http1::kMaxHeadersCap) opts_.limits.max_headers = http1::kMaxHeadersCap;
  slots_.push_back(nullptr);  // slot 0 unused: handle 0 means "none"
}

Loop::~Loop() {
  destroy_all();
  stop_listening();
  for (Connection* c : graveyard_) delete c;
}

int Loop::listen(const ListenSpec& spec, std::string* error) {
  const std::string& address = spec.address;
  bool exclusive = spec.exclusive;
  Listener l;
  for (const std::string& net : spec.allow) {
    if (!l.allow.add(net, error)) return -EINVAL;
  }
  net::Address addr;
  if (!net::parse_address(address, &addr, error)) return -EINVAL;
  net::ListenOptions lo;
  lo.mode = spec.mode;
  lo.owner = spec.owner;
  lo.group = spec.group;
  int fd = net::listen_on(addr, lo, error);
  if (fd < 0) return fd;
  l.fd = fd;
  l.index = static_cast<uint32_t>(listeners_.size());
  l.name = address;
  l.protocol = spec.protocol;
  l.exclusive = exclusive;
  if (addr.kind == net::AddrKind::kTcp) {
    l.is_tcp = true;
  } else if (addr.kind == net::AddrKind::kUnix) {
    l.unix_path = addr.host;
  } else if (addr.kind == net::AddrKind::kFd) {
    bool is_tcp = false;
    if (net::inspect_listening(fd, &is_tcp, error) < 0) return -EINVAL;
    l.is_tcp = is_tcp;
  }
  if (l.is_tcp) {
    (void)net::set_nodelay(fd);  // inherited by accepted sockets on Linux
    // uwsgi, SCGI and FastCGI clients are web servers that send the request
    // with the connect: wake for a connection once its bytes are there, not
    // once for the accept and again for the request.
    if (spec.protocol != Protocol::kHttp) net::set_defer_accept(fd);
    net::local_name(fd, &l.bound_host, &l.bound_port);
    // Logs name what was bound, so ":0" shows its port.
    bool v6 = l.bound_host.find(':') != std::string::npos;
    l.name = (v6 ? "[" + l.bound_host + "]" : l.bound_host) + ":" + std::to_string(l.bound_port);
  }
  listeners_.push_back(l);
  Listener& added = listeners_.back();
  if (accepting_) {
    uint32_t interest = kPollRead | (exclusive ? uint32_t{kPollExclusive} : 0u);
    int rc = poller_.add(fd, interest, tag_listener(added.index));
    if (rc < 0) {
      *error = "cannot watch " + address + ": " + std::strerror(-rc);
      ::close(fd);
      listeners_.pop_back();
      return rc;
    }
    added.watching = true;
  }
  return static_cast<int>(added.index);
}

void Loop::watch_listeners(bool on) {
  for (Listener& l : listeners_) {
    if (l.fd < 0 || l.watching == on) continue;
    // Exclusive registrations cannot be modified, so pausing is remove + add.
    int rc = on ? poller_.add(l.fd, kPollRead | (l.exclusive ? uint32_t{kPollExclusive} : 0u), tag_listener(l.index))
                : poller_.remove(l.fd, kPollRead);
    if (rc == 0) l.watching = on;
  }
}

void Loop::stop_listening() {
  watch_listeners(false);
  for (Listener& l : listeners_) {
    if (l.fd < 0) continue;
    ::close(l.fd);
    l.fd = -1;
    if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  }
  accepting_ = false;
}

size_t Loop::close_idle() {
  closing_ = true;
  for (Connection* c : slots_) {
    if (!c || c->closed) continue;
    if (c->lingering || (!c->request_active && c->in_state == Connection::In::kHead && c->out.empty())) {
      close_conn(c);
    } else {
      c->keep_alive = c->reply.started ? c->keep_alive : false;
    }
  }
  return live_;
}

void Loop::destroy_all() {
  for (Connection* c : slots_) {
    if (c && !c->closed) close_conn(c);
  }
}

Connection* Loop::find(double handle) {
  uint32_t slot = 0;
  if (!handle::slot_of(handle, &slot) || slot >= slots_.size()) return nullptr;
  Connection* c = slots_[slot];
  if (!c || c->closed) return nullptr;
  if (c->fcgi) return c->fcgi->by_handle(handle) ? c : nullptr;
  if (c->handle != handle) return nullptr;
  return c;
}

int Loop::run_ready() {
  PollEvent events[kPollBatch];
  int total = 0;
  in_run_ready_ = true;
  for (int round = 0; round < 8; round++) {
    int n = poller_.wait(events, kPollBatch, 0);
    if (n <= 0) break;
    total += n;
    for (int i = 0; i < n; i++) {
      uintptr_t tag = reinterpret_cast<uintptr_t>(events[i].data);
      if (tag & 1u) {
        uint32_t index = static_cast<uint32_t>(tag >> 1);
        if (index < listeners_.size() && listeners_[index].fd >= 0) on_listener_ready(listeners_[index]);
      } else {
        Connection* c = static_cast<Connection*>(events[i].data);
        if (!c->closed) on_conn_event(c, events[i].flags);
      }
    }
    if (n < kPollBatch) break;  // drained: a full batch may have more behind it
  }
  in_run_ready_ = false;
  return total;
}

void Loop::on_listener_ready(Listener& l) {
  // Bounded per wake-up so one busy listener cannot starve the connections.
  for (int i = 0; i < 64; i++) {
    if (live_ >= opts_.max_connections) {
      // At the limit: stop watching listeners; the kernel's backlog holds new
      // clients until a connection closes (close_conn resumes accepting).
      if (accepting_) {
        accepting_ = false;
        watch_listeners(false);
      }
      return;
    }
    struct sockaddr_storage peer;
    int fd = net::accept_conn(l.fd, &peer);
    if (fd == -EAGAIN) return;
    if (fd == -ECONNABORTED) continue;
    if (fd < 0) {
      // EMFILE and friends: pause accepting until the next sweep rather than
      // spin on a listener that stays readable.
      sink_->log(std::string("accept on ") + l.name + ": " + std::strerror(-fd) + "; pausing accepts for 1s");
      accepting_ = false;
      accept_backoff_ = true;
      watch_listeners(false);
      return;
    }
    if (l.is_tcp && !l.allow.empty() && !l.allow.allows(peer)) {
      // The binary protocols have no authentication: only listed peers.
      std::string host;
      uint16_t port = 0;
      net::sockaddr_name(peer, &host, &port);
      ::close(fd);
      if (l.refused++ % 1000 == 0) {
        sink_->log("refused a connection from " + host + " on " + l.name +
                   ": not in the allow-list (--allow-from); " + std::to_string(l.refused) + " so far");
      }
      continue;
    }
    net::tune_accepted(fd, l.is_tcp);
    uint32_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.push_back(nullptr);
    }
    Connection* c = new Connection(fd, slot, l.index, l.is_tcp);
    c->protocol = static_cast<uint8_t>(l.protocol);
    if (l.protocol == Protocol::kFastcgi) c->fcgi = new FcgiSession();
    if (l.is_tcp) {
      // The peer from accept(), the local side from the listener: no
      // getpeername()/getsockname() per connection.
      net::sockaddr_name(peer, &c->peer_host, &c->peer_port);
      c->local_host = l.bound_host;
      c->local_port = l.bound_port;
    }
    slots_[slot] = c;
    live_++;
    c->head_deadline_ms = now_ms_ + opts_.header_timeout_ms;
    c->deadline_ms = c->head_deadline_ms;
    // Read at once: the request is usually already there (a proxy sends it
    // with the connect). The poller learns of the connection only if it has
    // to wait for something (settle), so a one-request connection answered
    // in this turn costs no epoll_ctl at all.
    on_conn_event(c, kPollRead);
  }
}

// Reads and drops input of a lingering connection; closes it at EOF.
static bool linger_read(Connection* c) {
  char buf[16 * 1024];
  for (int i = 0; i < 8; i++) {
    ssize_t n = net::recv_some(c->fd, buf, sizeof buf);
    if (n == -EAGAIN) return false;
    if (n <= 0) return true;
  }
  return false;
}

void Loop::on_conn_event(Connection* c, uint32_t flags) {
  if (c->lingering) {
    if (linger_read(c)) close_conn(c);
    return;
  }
  // Write first: a reply that drains below the high-water mark lets the next
  // pipelined request in.
  if (flags & kPollWrite) flush(c);
  if (!c->closed && (flags & (kPollRead | kPollHup | kPollErr))) {
    // Read while reads fill the buffer, up to its limit; the limit is how input
    // backpressure works (level-triggered: not asking to read).
    for (int i = 0; i < 4 && !c->closed; i++) {
      size_t limit = c->in_state == Connection::In::kHead ? opts_.limits.max_head : opts_.in_buffer;
      bool filled = false;
      ssize_t n = c->read_into(limit, &filled);
      if (n > 0) {
        c->recv_since_ms = now_ms_;  // progress
        if (filled) continue;
        break;
      }
      if (n == -EAGAIN || n == -ENOBUFS) break;
      // EOF or a read error.
      c->peer_eof = true;
      if (c->request_active || n < 0 || c->in_len() == 0) {
        close_conn(c);  // the client left: on_abort fires for an active request
        return;
      }
      break;  // complete requests may still be buffered: serve them, then close
    }
  }
  if (!c->closed) process_input(c);
  if (!c->closed) settle(c);
}

void Loop::process_input(Connection* c) {
  if (c->fcgi) {
    if (c->out.size() <= opts_.out_high_water) fcgi_input(c);
    return;
  }
  while (!c->closed) {
    switch (c->in_state) {
      case Connection::In::kHead: {
        if (c->request_active || c->out.size() > opts_.out_high_water) return;
        if (c->in_len() == 0) return;
        if (c->cgi_style()) {
          if (!parse_cgi_head(c)) return;
          break;
        }
        http1::HeadError err;
        http1::Result r = http1::parse_head(c->in_data(), c->in_len(), opts_.limits, &c->head_scan, &head_, &err);
        if (r == http1::Result::kAgain) {
          if (c->peer_eof) close_conn(c);  // a partial head and no more bytes coming
          return;
        }
        c->head_scan = 0;
        if (r == http1::Result::kError) {
          send_error(c, err.status);
          return;
        }
        if (!begin_request(c)) return;
        break;
      }
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
        return;
    }
  }
}

bool Loop::begin_request(Connection* c) {
  const http1::RequestHead& h = head_;
  if (h.flags & http1::kUpgrade) {
    send_error(c, 501);  // protocol upgrades (WebSocket, h2c) come later
    return false;
  }
  if ((h.flags & http1::kContentLength) && h.content_length > opts_.max_body) {
    send_error(c, 413);
    return false;
  }
  const char* base = c->in_data();
  c->http11 = (h.flags & http1::kHttp11) != 0;
  c->keep_alive = (h.flags & http1::kKeepAlive) != 0 && !closing_ && !c->peer_eof;
  c->expect_continue = (h.flags & http1::kExpectContinue) != 0;
  bool head_method = h.method.len == 4 && std::memcmp(base + h.method.off, "HEAD", 4) == 0;
  start_request(c, (h.flags & http1::kChunked) != 0, h.content_length, head_method);
  uint32_t rec = (c->in_state == Connection::In::kBodyDone ? uint32_t{kRecNoBody} : 0u) |
                 (head_method ? uint32_t{kRecHead} : 0u);
  sink_->on_request(*c, c->handle, h, base, rec);
  c->consume(h.head_len);
  return true;
}

// uwsgi and SCGI: one request per connection, its variables in one block.
bool Loop::parse_cgi_head(Connection* c) {
  const char* base = c->in_data();
  const cgi::VarTable* vars = nullptr;
  uint32_t head_len = 0;
  uint64_t content_length = 0;
  uint32_t rec = kRecCgi;
  uint32_t detail = 0;
  const char* what = nullptr;
  bool looks_http = false, too_large = false;
  if (c->protocol == static_cast<uint8_t>(Protocol::kUwsgi)) {
    uwsgi::Limits lim;
    lim.max_block = opts_.max_cgi_block;
    uwsgi::Error err = uwsgi::Error::kNone;
    uwsgi::Result r = uwsgi::parse(base, c->in_len(), lim, &uwsgi_head_, &err, &detail);
    if (r == uwsgi::Result::kAgain) {
      if (c->peer_eof) close_conn(c);
      return false;
    }
    if (r == uwsgi::Result::kError) {
      what = uwsgi::error_text(err);
      looks_http = err == uwsgi::Error::kLooksLikeHttp;
      too_large = err == uwsgi::Error::kTooLarge;
    } else {
      vars = &uwsgi_head_.vars;
      head_len = uwsgi_head_.head_len;
      content_length = uwsgi_head_.content_length;
      if (uwsgi_head_.modifier1 == 30) rec |= kRecStripScriptName;
    }
  } else {
    scgi::Limits lim;
    lim.max_block = opts_.max_cgi_block;
    scgi::Error err = scgi::Error::kNone;
    scgi::Result r = scgi::parse(base, c->in_len(), lim, &scgi_head_, &err, &detail);
    if (r == scgi::Result::kAgain) {
      if (c->peer_eof) close_conn(c);
      return false;
    }
    if (r == scgi::Result::kError) {
      what = scgi::error_text(err);
      looks_http = err == scgi::Error::kLooksLikeHttp;
      too_large = err == scgi::Error::kTooLarge;
    } else {
      vars = &scgi_head_.vars;
      head_len = scgi_head_.head_len;
      content_length = scgi_head_.content_length;
    }
  }
  const Listener& l = listeners_[c->listener];
  const char* proto = c->protocol == static_cast<uint8_t>(Protocol::kUwsgi) ? "uwsgi" : "SCGI";
  if (what) {
    if (looks_http) {
      // An HTTP client (or proxy_pass) pointed at this socket: tell it so, in
      // HTTP, rather than report a nonsense size.
      std::string msg = std::string("This is a ") + proto + " socket (" + l.name +
                        "), not HTTP: use the --http address, or point nginx's " +
                        (c->protocol == static_cast<uint8_t>(Protocol::kUwsgi) ? "uwsgi_pass" : "scgi_pass") +
                        " here.\n";
      std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                          std::to_string(msg.size()) + "\r\nConnection: close\r\n\r\n" + msg;
      sink_->log(std::string("HTTP request on ") + proto + " socket " + l.name + " from " +
                 (c->peer_host.empty() ? "a unix peer" : c->peer_host) + "; answered 400");
      send_raw_and_close(c, reply.data(), reply.size());
      return false;
    }
    if (too_large) {
      sink_->log(std::string(proto) + " request block of " + std::to_string(detail) + " bytes on " + l.name +
                 " is over the limit of " + std::to_string(opts_.max_cgi_block) +
                 " bytes; raise it with --buffer-size");
      send_error(c, 431);
      return false;
    }
    sink_->log(std::string("bad ") + proto + " request on " + l.name + ": " + what +
               (detail ? " (" + std::to_string(detail) + ")" : std::string()));
    send_error(c, 400);
    return false;
  }
  if (content_length > opts_.max_body) {
    send_error(c, 413);
    return false;
  }
  const cgi::Var* m = vars->find(base, "REQUEST_METHOD");
  bool head_method = m && m->value.len == 4 && std::memcmp(base + m->value.off, "HEAD", 4) == 0;
  c->http11 = true;
  c->keep_alive = false;  // one request per connection: the close ends the reply
  c->expect_continue = false;
  start_request(c, false, content_length, head_method);
  if (c->in_state == Connection::In::kBodyDone) rec |= kRecNoBody;
  if (head_method) rec |= kRecHead;
  sink_->on_cgi_request(*c, c->handle, *vars, base, head_len, content_length, rec);
  c->consume(head_len);
  return true;
}

void Loop::start_request(Connection* c, bool chunked, uint64_t content_length, bool head_method) {
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
  c->handle = next_handle(c);
}

double Loop::next_handle(const Connection* c) {
  uint32_t request = ++next_request_;
  if (request == 0) request = ++next_request_;  // 0 is no request
  return handle::pack(request, c->slot);
}

void Loop::deliver_body(Connection* c) {
  bool discard = c->in_state == Connection::In::kDiscard;
  while (c->in_len() > 0) {
    const char* data = nullptr;
    size_t data_len = 0;
    if (c->chunked) {
      size_t used = 0;
      auto step = c->decoder.feed(c->in_data(), c->in_len(), &used, &data, &data_len);
      if (step == http1::ChunkedDecoder::Step::kError) {
        if (!discard) sink_->on_body_error(c->handle, 400);
        if (!c->reply.started) {
          send_error(c, 400);
        } else {
          c->keep_alive = false;
          c->close_after_flush = true;
        }
        return;
      }
      if (step == http1::ChunkedDecoder::Step::kData) {
        c->body_seen += data_len;
        if (discard && c->body_seen > opts_.discard_limit) {
          c->close_after_flush = true;  // not worth draining: close instead
          c->consume(c->in_len());
          return;
        }
        if (c->body_seen > opts_.max_body) {
          if (!discard) sink_->on_body_error(c->handle, 413);
          if (!c->reply.started) send_error(c, 413);
          else c->close_after_flush = true;
          return;
        }
        if (!discard) sink_->on_body(c->handle, data, data_len);
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
    if (!discard) sink_->on_body(c->handle, c->in_data(), n);
    c->consume(n);
    c->body_left -= n;
    if (c->body_left == 0) {
      finish_body(c);
      return;
    }
  }
}

void Loop::finish_body(Connection* c) {
  if (c->in_state == Connection::In::kDiscard) {
    c->in_state = Connection::In::kBodyDone;
    finish_request(c);
    return;
  }
  c->in_state = Connection::In::kBodyDone;
  sink_->on_body_end(c->handle);
  if (!c->request_active) finish_request(c);
}

// Both the reply and the request body are complete.
void Loop::finish_request(Connection* c) {
  c->requests++;
  c->handle = 0;
  c->in_state = Connection::In::kHead;
  if (!c->keep_alive || closing_) {
    c->close_after_flush = true;
    // Everything the client sent is read and nothing else is buffered: no
    // byte can be left unread when we close, so no RST can overtake the reply.
    c->clean_close = c->in_len() == 0;
    return;
  }
  c->head_deadline_ms = now_ms_ + (c->in_len() > 0 ? opts_.header_timeout_ms : opts_.keepalive_timeout_ms);
  mark_dirty(c);  // pipelined requests may be waiting
}

void Loop::send_raw_and_close(Connection* c, const char* data, size_t len) {
  c->out.append(data, len);
  c->keep_alive = false;
  c->close_after_flush = true;
  c->in_state = Connection::In::kBodyDone;
  c->consume(c->in_len());
  mark_dirty(c);
}

void Loop::send_error(Connection* c, int status) {
  char buf[512];
  size_t n;
  if (c->protocol == static_cast<uint8_t>(Protocol::kUwsgi)) {
    n = cgi::error_response(buf, cgi::Style::kStatusLine, status);
  } else if (c->protocol == static_cast<uint8_t>(Protocol::kScgi)) {
    n = cgi::error_response(buf, cgi::Style::kStatusHeader, status);
  } else {
    n = http1::error_response(buf, status, date_.line());
  }
  c->out.append(buf, n);
  c->keep_alive = false;
  c->close_after_flush = true;
  // Nothing more is read from a client we refused: its framing is unknown.
  c->in_state = Connection::In::kBodyDone;
  c->consume(c->in_len());
  if (c->request_active) {
    sink_->on_abort(c->handle);  // the app's signal fires; its reply is moot
    c->request_active = false;
    c->handle = 0;
  }
  mark_dirty(c);
}

void Loop::mark_dirty(Connection* c) {
  if (c->dirty || c->closed) return;
  c->dirty = true;
  dirty_.push_back(c);
}

bool Loop::flush_dirty() {
  if (dirty_.empty()) {
    for (Connection* c : graveyard_) delete c;
    graveyard_.clear();
    return false;
  }
  std::vector<Connection*> batch;
  batch.swap(dirty_);
  for (Connection* c : batch) {
    c->dirty = false;
    if (c->closed) continue;
    flush(c);
    if (c->closed) continue;
    process_input(c);
    if (!c->closed) settle(c);
  }
  return true;
}

void Loop::flush(Connection* c) {
  if (!c->out.empty()) {
    // The last bytes before a clean close wait for the FIN (MSG_MORE), so a
    // one-request connection's reply and FIN leave in one TCP segment.
    bool last = c->clean_close && c->is_tcp;  // clean_close implies close_after_flush
    ssize_t n = c->out.flush(c->fd, last);
    if (n < 0 && n != -EAGAIN) {
      close_conn(c);  // EPIPE, ECONNRESET: the client is gone
      return;
    }
    if (n > 0 || c->send_since_ms == 0) c->send_since_ms = now_ms_;  // progress, or a stall begins
  }
  if (c->fcgi) fcgi_drain(c);
  if (c->reply.want_drain && c->out.size() <= opts_.out_low_water && c->request_active) {
    c->reply.want_drain = false;
    sink_->on_drain(c->handle);
  }
  if (c->out.empty() && c->close_after_flush && !c->lingering) {
    if (c->peer_eof || c->clean_close || net::shutdown_write(c->fd) != 0) {
      close_conn(c);
      return;
    }
    // Lingering close, as nginx does, whenever the client may still be
    // sending (a refused or unread body, bytes after the request, an error
    // mid-head): closing with unread request bytes in our socket makes the
    // kernel send RST, which can destroy the reply still in flight (a 413
    // the client never sees). So shut our side and drop what still arrives
    // until the peer closes, for at most 2 s.
    c->lingering = true;
    c->request_active = false;
    c->linger_until_ms = now_ms_ + kLingerMs;
  }
}

// Registers the interest the connection's state calls for, and its deadline.
void Loop::settle(Connection* c) {
  if (c->closed) return;
  if (c->lingering) {
    if (!c->registered) {
      if (poller_.add(c->fd, kPollRead, c) == 0) {
        c->registered = true;
        c->interest = kPollRead;
      }
    } else if (c->interest != kPollRead && poller_.modify(c->fd, c->interest, kPollRead, c) == 0) {
      c->interest = kPollRead;
    }
    c->deadline_ms = c->linger_until_ms;
    return;
  }
  bool want_read = !c->peer_eof && !c->close_after_flush;
  if (want_read) {
    size_t limit = c->in_state == Connection::In::kHead ? opts_.limits.max_head : opts_.in_buffer;
    want_read = c->in_len() < limit;
  }
  uint32_t interest = (want_read ? uint32_t{kPollRead} : 0u) | (c->out.empty() ? 0u : uint32_t{kPollWrite});
  if (!c->registered) {
    // A new connection whose request went to the app in this turn: wait for
    // the app's reply before registering (flush_dirty settles it again); a
    // reply in this turn may close it first.
    if (in_run_ready_ && c->request_active) {
      mark_dirty(c);
    } else if (interest != 0 && poller_.add(c->fd, interest, c) == 0) {
      c->registered = true;
      c->interest = interest;
    }
  } else if (interest != c->interest) {
    if (poller_.modify(c->fd, c->interest, interest, c) == 0) c->interest = interest;
  }
  if (c->out.empty() && c->in_state == Connection::In::kHead && !c->request_active && c->in_len() == 0) {
    c->shrink();
  }
  // Deadlines only ever run against the client: while it owes us bytes
  // (a head, a body the app is reading or we are discarding) or does not take
  // ours. The app's own time is never cut here (--harakiri is for that).
  if (c->out.empty()) c->send_since_ms = 0;
  bool waiting_body = (c->in_state == Connection::In::kBody && c->body_flowing) ||
                      c->in_state == Connection::In::kDiscard;
  if (!c->out.empty()) {
    c->deadline_ms = c->send_since_ms + opts_.io_timeout_ms;
  } else if (waiting_body) {
    if (c->recv_since_ms == 0) c->recv_since_ms = now_ms_;
    c->deadline_ms = c->recv_since_ms + opts_.io_timeout_ms;
  } else if (c->in_state == Connection::In::kHead && !c->request_active) {
    c->deadline_ms = c->head_deadline_ms;
  } else {
    c->deadline_ms = 0;
  }
  if (!waiting_body) c->recv_since_ms = 0;
}

void Loop::close_conn(Connection* c) {
  if (c->closed) return;
  c->closed = true;
  if (c->fcgi) {
    fcgi_abort_all(c);
    c->request_active = false;
  }
  if (c->request_active) sink_->on_abort(c->handle);
  c->request_active = false;
  c->handle = 0;
  // Out of the poller before close(), as poller.h asks: the kernel's epoll
  // and kqueue drop a closed fd by themselves, but libkqueue keeps the
  // registration, and an add for the next socket given this fd number then
  // reports nothing. The object stays until the batch ends (PollEvents may
  // still point at it).
  if (c->registered) {
    (void)poller_.remove(c->fd, c->interest);  // nothing to do if it fails: the fd goes anyway
    c->registered = false;
    c->interest = 0;
  }
  ::close(c->fd);
  c->fd_closed = true;
  c->out.clear();
  slots_[c->slot] = nullptr;
  free_slots_.push_back(c->slot);
  live_--;
  graveyard_.push_back(c);  // PollEvents of this batch may still point at it
  if (!accepting_ && !accept_backoff_ && !closing_ && live_ < opts_.max_connections &&
      listeners_.size() > 0 && listeners_[0].fd >= 0) {
    accepting_ = true;
    watch_listeners(true);
  }
}

void Loop::sweep(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (accept_backoff_ && !closing_) {
    accept_backoff_ = false;
    if (live_ < opts_.max_connections) {
      accepting_ = true;
      watch_listeners(true);
    }
  }
  for (Connection* c : slots_) {
    if (!c || c->closed || c->deadline_ms == 0 || c->deadline_ms > now_ms) continue;
    if (!c->fcgi && !c->lingering && c->in_state == Connection::In::kHead && !c->request_active && c->in_len() > 0 &&
        c->out.empty()) {
      send_error(c, 408);  // RFC 9110 15.5.9: the head did not arrive in time
      c->head_deadline_ms = now_ms + 1000;  // and we wait no longer for it to be read
      continue;
    }
    close_conn(c);
  }
  for (Connection* c : graveyard_) delete c;
  graveyard_.clear();
}

// ---- replies ---------------------------------------------------------------

int Loop::backpressure(Connection* c) {
  mark_dirty(c);
  if (c->out.size() > opts_.out_high_water) {
    c->reply.want_drain = true;
    return kReplyFull;
  }
  return kReplyOk;
}

int Loop::respond(double handle, int status, const char* headers, size_t headers_len,
                  const char* body, size_t body_len, int64_t content_length, uint32_t flags) {
  Connection* c = find(handle);
  if (c && c->fcgi) {
    return fcgi_respond(c, c->fcgi->by_handle(handle), status, headers, headers_len, body, body_len,
                        content_length, flags);
  }
  if (!c || !c->request_active || c->reply.started) return kReplyGone;
  if (flags & kClose) c->keep_alive = false;
  // An unread body that is too large to drain costs the connection; say so.
  if (c->in_state == Connection::In::kBody && !c->body_flowing &&
      (c->chunked || c->body_left > opts_.discard_limit)) {
    c->keep_alive = false;
  }
  bool ends = (flags & kEnd) != 0;
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
  c->reply.begin(status, ends, body_len, content_length, c->http11 && !c->cgi_style());
  // HTTP/1.0 without a length: the close delimits the body.
  if (c->reply.framing == http1::kFrameClose) c->keep_alive = false;
  http1::HeadFraming framing = c->reply.framing;
  uint64_t length = c->reply.left;
  if (c->cgi_style()) {
    // The front server frames the reply to its client: no Date, no
    // Connection, never Transfer-Encoding (see proto/cgi/writer.h).
    cgi::Style style = c->protocol == static_cast<uint8_t>(Protocol::kUwsgi) ? cgi::Style::kStatusLine
                                                                             : cgi::Style::kStatusHeader;
    char* out = c->out.reserve(cgi::head_size(headers_len));
    c->out.commit(cgi::head(out, style, status, headers, headers_len, framing == http1::kFrameLength, length));
  } else {
    char* out = c->out.reserve(http1::head_size(headers_len));
    const char* date = (flags & kNoDate) ? nullptr : date_.line();
    c->out.commit(http1::head(out, status, c->http11, headers, headers_len, date, framing, length, c->keep_alive));
  }
  bool borrow = body_len > kBorrowAbove;
  if (body_len > 0 && append_body(c, body, body_len, borrow) == kReplyOverflow) {
    if (borrow) c->out.own_refs();
    return kReplyOverflow;
  }
  if (borrow) {
    // Head and body in one writev straight from the caller's memory; only
    // what the socket did not take is copied.
    flush(c);
    if (c->closed) return kReplyGone;
    c->out.own_refs();
  }
  if (ends) return end(handle);
  return backpressure(c);
}

int Loop::append_body(Connection* c, const char* data, size_t len, bool borrow, int file, uint64_t file_off) {
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
    mark_dirty(c);
    return kReplyOverflow;
  }
  return kReplyOk;
}

int Loop::write(double handle, const char* data, size_t len) {
  Connection* c = find(handle);
  if (c && c->fcgi) {
    FcgiRequest* r = c->fcgi->by_handle(handle);
    return r->reply.started ? fcgi_write(c, r, data, len) : kReplyGone;
  }
  if (!c || !c->request_active || !c->reply.started || c->reply.ended) return kReplyGone;
  bool borrow = len > kBorrowAbove;
  int rc = append_body(c, data, len, borrow);
  if (rc != kReplyOk) {
    if (borrow) c->out.own_refs();
    return rc;
  }
  if (borrow) {
    flush(c);
    if (c->closed) return kReplyGone;
    c->out.own_refs();
  }
  return backpressure(c);
}

int Loop::write_file(double handle, int file, uint64_t offset, uint64_t len) {
  Connection* c = find(handle);
  if (!c || c->fcgi || !c->request_active || !c->reply.started || c->reply.ended) {
    close(file);
    return kReplyGone;
  }
  int rc = append_body(c, nullptr, static_cast<size_t>(len), false, file, offset);
  return rc == kReplyOk ? backpressure(c) : rc;
}

int Loop::end(double handle) {
  Connection* c = find(handle);
  if (c && c->fcgi) return fcgi_end(c, c->fcgi->by_handle(handle));
  if (!c || !c->request_active || !c->reply.started || c->reply.ended) return kReplyGone;
  if (c->reply.has_content() && c->reply.framing == http1::kFrameChunked) {
    c->out.append(http1::kLastChunk, sizeof(http1::kLastChunk) - 1);
  } else if (c->reply.short_of_length()) {
    // Fewer bytes than the Content-Length promised: the client can only learn
    // that the reply is incomplete from the connection closing.
    sink_->log("reply ended " + std::to_string(c->reply.left) + " bytes short of its Content-Length; closing the connection");
    c->keep_alive = false;
  }
  if (c->reply.framing == http1::kFrameClose) c->keep_alive = false;
  reply_done(c);
  mark_dirty(c);
  return kReplyOk;
}

void Loop::reply_done(Connection* c) {
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

int Loop::read_body(double handle, bool flowing) {
  Connection* c = find(handle);
  if (c && c->fcgi) return fcgi_read_body(c, c->fcgi->by_handle(handle), flowing);
  if (!c || !c->request_active) return kReplyGone;
  c->body_flowing = flowing;
  if (flowing && c->in_state == Connection::In::kBody) {
    if (c->expect_continue && !c->continue_sent && !c->reply.started) {
      // RFC 9110 10.1.1: the client waits for this before sending the body;
      // it goes out only once the app asks for the body.
      c->out.append(http1::kContinue, sizeof(http1::kContinue) - 1);
      c->continue_sent = true;
    }
    c->recv_since_ms = now_ms_;
  }
  mark_dirty(c);
  return kReplyOk;
}

int Loop::abort(double handle) {
  Connection* c = find(handle);
  if (c && c->fcgi) return fcgi_app_abort(c, c->fcgi->by_handle(handle));
  if (!c) return kReplyGone;
  c->request_active = false;  // the app asked for it: no abort event back
  close_conn(c);
  return kReplyOk;
}

}  // namespace tsgi
