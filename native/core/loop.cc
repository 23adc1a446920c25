#include "core/loop.h"

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <utility>

#include "conn/connection.h"
#include "core/handle.h"

namespace tsgi {

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
  for (size_t p = 0; p < kProtocolCount; p++) exchanges_[p] = make_exchange(static_cast<Protocol>(p), *this);
  for (int k = 0; k < kUpgradeKinds; k++) upgrades_[k] = make_upgrade_exchange(k, *this);
}

Loop::~Loop() {
  destroy_all();
  stop_listening();
  for (Connection* c : graveyard_) delete c;
}

int Loop::listen(const ListenSpec& spec, std::string* error) {
  const std::string& address = spec.address;
  bool exclusive = spec.exclusive;
  size_t protocol = static_cast<size_t>(spec.protocol);
  if (protocol >= kProtocolCount || !exchanges_[protocol]) {
    *error = "unknown protocol " + std::to_string(protocol);
    return -EINVAL;
  }
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
  l.exchange = exchanges_[protocol].get();
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
    if (l.exchange->client_speaks_first()) net::set_defer_accept(fd);
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
  stopped_ = true;
}

size_t Loop::close_idle(bool closing) {
  if (closing) closing_ = true;
  for (Connection* c : slots_) {
    if (!c || c->closed) continue;
    if (c->lingering || (!c->request_active && c->in_state == Connection::In::kHead && c->out.empty() &&
                         c->in_len() == 0)) {
      close_conn(c);
    } else if (closing) {
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
    if (live_ >= opts_.max_connections && !reclaimable(nullptr)) {
      // At the limit with nothing idle to give up: stop watching listeners;
      // the kernel's backlog holds new clients until a connection closes
      // (close_conn resumes accepting) or one falls idle (sweep).
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
    // A client is here and the limit is reached: make room (there is some).
    if (live_ >= opts_.max_connections) reclaim_idle();
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
    c->exchange = l.exchange;
    c->exchange->on_accept(c);
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
    if (!read_input(c)) return;
  }
  if (!c->closed) c->exchange->on_input(c);
  if (!c->closed) settle(c);
}

bool Loop::read_input(Connection* c, bool* got) {
  // Read while reads fill the buffer, up to its limit; the limit is how input
  // backpressure works (level-triggered: not asking to read).
  for (int i = 0; i < 4 && !c->closed; i++) {
    if (c->peer_eof) break;
    size_t room = 0;
    // A body the app reads whole goes from the socket into its memory.
    char* target = c->in_len() == 0 ? c->exchange->read_target(c, &room) : nullptr;
    ssize_t n;
    bool filled = false;
    if (target) {
      n = net::recv_some(c->fd, target, room);
      if (n > 0) {
        c->recv_since_ms = now_ms_;  // progress
        if (got) *got = true;
        // Stop at the body's end: what follows it (a pipelined request)
        // is the poller's to report; a uwsgi client sends nothing more.
        if (c->exchange->target_filled(c, target, static_cast<size_t>(n)) && static_cast<size_t>(n) == room) {
          continue;
        }
        break;
      }
    } else {
      size_t limit = c->in_state == Connection::In::kHead ? opts_.limits.max_head : opts_.in_buffer;
      n = c->read_into(limit, &filled);
      if (n > 0) {
        c->recv_since_ms = now_ms_;  // progress
        if (got) *got = true;
        if (!filled) break;
        if (c->in_state == Connection::In::kHead) {
          // A full buffer may hold a whole head and the start of its body:
          // parse before reading on. A body of stated length stays in the
          // socket until the app says how it reads it (whole: straight into
          // its Buffer), rather than being read here and copied.
          c->exchange->on_input(c);
          if (c->closed) return false;
          if (c->in_state == Connection::In::kBody && !c->chunked && !c->body_flowing) break;
        }
        continue;
      }
    }
    if (n == -EAGAIN || n == -ENOBUFS) break;
    // EOF or a read error.
    c->peer_eof = true;
    // An upgraded connection's exchange reads what is buffered, then
    // sees peer_eof (a WebSocket's last frames, a tunnel's last bytes).
    if (c->in_state == Connection::In::kUpgraded && n == 0) break;
    if (c->request_active || n < 0 || c->in_len() == 0) {
      close_conn(c);  // the client left: on_abort fires for an active request
      return false;
    }
    break;  // complete requests may still be buffered: serve them, then close
  }
  return !c->closed;
}

void Loop::send_raw_and_close(Connection* c, const char* data, size_t len) {
  c->out.append(data, len);
  c->keep_alive = false;
  c->close_after_flush = true;
  c->in_state = Connection::In::kBodyDone;
  c->consume(c->in_len());
  mark_dirty(c);
}

bool Loop::flush_dirty(bool gather) {
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
    // Pipelined requests waiting behind a reply (HTTP/1.1, FastCGI records):
    // the next one goes to the app before this reply is written, so the
    // replies of a pipeline leave in one writev rather than one each.
    bool pipelined = gather && c->in_state == Connection::In::kHead && !c->request_active && c->in_len() > 0 &&
                     !c->close_after_flush && !c->out.empty() && c->out.size() <= opts_.out_low_water;
    if (!pipelined) {
      flush(c);
      if (c->closed) continue;
    }
    c->exchange->on_input(c);
    if (c->closed) continue;
    if (c->read_now) {
      // The app asked for the body: read it now rather than after a trip
      // through the poller (for a connection accepted in this turn, that
      // would be its registration too). What this read delivers reaches the
      // app in the next round.
      c->read_now = false;
      if (c->in_state == Connection::In::kBody && c->body_flowing && c->request_active && !c->close_after_flush &&
          !c->lingering) {
        bool got = false;
        if (!read_input(c, &got)) continue;
        c->exchange->on_input(c);
        if (c->closed) continue;
        c->unseen = got;
      }
    }
    if (pipelined) {
      if (c->request_active) {
        // Written with the next reply, or in the next round if the app has
        // none yet; settled then (no write interest meanwhile).
        mark_dirty(c);
        continue;
      } else {
        flush(c);  // nothing dispatched (an incomplete head): write now
        if (c->closed) continue;
      }
    }
    settle(c);
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
  if (c->out.size() <= opts_.out_low_water) c->exchange->on_drain(c);
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
  bool unseen = c->unseen;
  c->unseen = false;
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
  if (want_read && c->in_state == Connection::In::kUpgraded) want_read = c->body_flowing;
  if (want_read) {
    size_t limit = c->in_state == Connection::In::kHead ? opts_.limits.max_head : opts_.in_buffer;
    want_read = c->in_len() < limit;
  }
  uint32_t interest = (want_read ? uint32_t{kPollRead} : 0u) | (c->out.empty() ? 0u : uint32_t{kPollWrite});
  if (!c->registered) {
    // A new connection whose request went to the app in this turn: wait for
    // the app's reply before registering (flush_dirty settles it again); a
    // reply in this turn may close it first.
    if ((in_run_ready_ || unseen) && c->request_active) {
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
  if (c->in_state == Connection::In::kUpgraded) {
    // Its exchange keeps the idle deadline (0: none); a client that does not
    // take our bytes is cut as any other.
    c->recv_since_ms = 0;
    c->deadline_ms = c->out.empty() ? c->head_deadline_ms : c->send_since_ms + opts_.io_timeout_ms;
    if (c->out.empty()) c->send_since_ms = 0;
    if (c->in_len() == 0) c->shrink();  // an idle WebSocket keeps no input buffer
    return;
  }
  if (!c->out.empty()) {
    c->deadline_ms = c->send_since_ms + opts_.io_timeout_ms;
  } else if (waiting_body) {
    if (c->recv_since_ms == 0) c->recv_since_ms = now_ms_;
    c->deadline_ms = c->recv_since_ms + opts_.io_timeout_ms;
  } else if (c->in_state == Connection::In::kHead && !c->request_active) {
    c->deadline_ms = c->head_deadline_ms;
  } else {
    c->deadline_ms = c->exchange->client_deadline(c);
  }
  if (!waiting_body) c->recv_since_ms = 0;
}

void Loop::close_conn(Connection* c) {
  if (c->closed) return;
  c->closed = true;
  c->exchange->on_close(c);  // on_abort for what is in flight
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

// At --max-connections a new client is worth more than an idle one, as
// nginx reuses connections: the longest-idle keep-alive connections, and
// those still owing their first head (a slow or silent client), are closed
// to make room, an eighth of them at a time (one at least, kReclaimBatch at
// most). A connection in a request, a WebSocket, a tunnel or a FastCGI
// connection (its requests are the exchange's) is never taken.
bool Loop::reclaimable(std::vector<std::pair<uint64_t, Connection*>>* out) {
  for (Connection* c : slots_) {
    if (!c || c->closed || c->lingering || c->request_active || c->exchange_state != nullptr) continue;
    if (c->in_state != Connection::In::kHead || !c->out.empty()) continue;
    if (c->requests > 0 && c->in_len() > 0) continue;  // its next request is arriving
    // A new connection gets a second for its first head before it counts as slow.
    if (c->requests == 0 && now_ms_ + opts_.header_timeout_ms < c->head_deadline_ms + 1000) continue;
    if (!out) return true;
    out->emplace_back(c->head_deadline_ms, c);
  }
  return out && !out->empty();
}

// Closes the longest idle of them; returns how many.
size_t Loop::reclaim_idle() {
  constexpr size_t kReclaimBatch = 32;
  std::vector<std::pair<uint64_t, Connection*>> idle;
  reclaimable(&idle);
  // An eighth of the idle ones, at least one, at most kReclaimBatch (as nginx).
  size_t n = std::min(std::max<size_t>(idle.size() / 8, 1), std::min(idle.size(), kReclaimBatch));
  std::partial_sort(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(n), idle.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < n; i++) close_conn(idle[i].second);
  reclaimed_ += n;
  if (n > 0 && now_ms_ >= reclaim_logged_ms_ + 10000) {  // a line per 10 s at most, under pressure
    reclaim_logged_ms_ = now_ms_;
    sink_->log("at --max-connections (" + std::to_string(opts_.max_connections) + "): closed idle connections " +
               "for new clients, " + std::to_string(reclaimed_) + " so far");
  }
  return n;
}

void Loop::sweep(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (!accepting_ && !accept_backoff_ && !closing_ && live_ >= opts_.max_connections && !listeners_.empty() &&
      listeners_[0].fd >= 0 && reclaimable(nullptr)) {
    // Still at the limit: connections that fell idle since can make room
    // for the clients waiting in the backlog.
    accepting_ = true;
    watch_listeners(true);
  }
  if (accept_backoff_ && !closing_) {
    accept_backoff_ = false;
    if (live_ < opts_.max_connections) {
      accepting_ = true;
      watch_listeners(true);
    }
  }
  for (Connection* c : slots_) {
    if (!c || c->closed || c->deadline_ms == 0 || c->deadline_ms > now_ms) continue;
    if (!c->lingering && c->exchange->on_timeout(c)) continue;  // answered (408): closes after
    close_conn(c);
  }
  for (Connection* c : graveyard_) delete c;
  graveyard_.clear();
}

// ---- replies ---------------------------------------------------------------

int Loop::upgrade(double handle, int kind, const char* headers, size_t headers_len) {
  Connection* c = find(handle);
  return c ? c->exchange->upgrade(c, handle, kind, headers, headers_len) : kReplyGone;
}

int Loop::ws_send(double handle, const char* data, size_t len, uint32_t flags) {
  Connection* c = find(handle);
  return c ? c->exchange->ws_send(c, handle, data, len, flags) : kReplyGone;
}

int Loop::ws_close(double handle, uint16_t code, const char* reason, size_t reason_len) {
  Connection* c = find(handle);
  return c ? c->exchange->ws_close(c, handle, code, reason, reason_len) : kReplyGone;
}

size_t Loop::ws_publish(const double* handles, size_t count, const char* data, size_t len, uint32_t flags) {
  size_t sent = 0;
  for (size_t i = 0; i < count; i++) {
    Connection* c = find(handles[i]);
    if (c && c->exchange->ws_send(c, handles[i], data, len, flags) != kReplyGone) sent++;
  }
  return sent;
}

int Loop::respond(double handle, int status, const char* headers, size_t headers_len,
                  const char* body, size_t body_len, int64_t content_length, uint32_t flags) {
  Connection* c = find(handle);
  if (!c) return kReplyGone;
  return c->exchange->respond(c, handle, status, headers, headers_len, body, body_len, content_length, flags);
}

int Loop::write(double handle, const char* data, size_t len) {
  Connection* c = find(handle);
  return c ? c->exchange->write(c, handle, data, len) : kReplyGone;
}

int Loop::write_file(double handle, int file, uint64_t offset, uint64_t len) {
  Connection* c = find(handle);
  if (!c) {
    ::close(file);
    return kReplyGone;
  }
  return c->exchange->write_file(c, handle, file, offset, len);
}

int Loop::end(double handle) {
  Connection* c = find(handle);
  return c ? c->exchange->end(c, handle) : kReplyGone;
}

int Loop::read_body(double handle, bool flowing) {
  Connection* c = find(handle);
  return c ? c->exchange->read_body(c, handle, flowing) : kReplyGone;
}

int Loop::read_data(double handle, bool flowing) {
  Connection* c = find(handle);
  return c ? c->exchange->read_data(c, handle, flowing) : kReplyGone;
}

int Loop::write_stderr(double handle, const char* data, size_t len) {
  Connection* c = find(handle);
  return c ? c->exchange->write_stderr(c, handle, data, len) : kReplyGone;
}

int Loop::abort(double handle) {
  Connection* c = find(handle);
  return c ? c->exchange->abort(c, handle) : kReplyGone;
}

}  // namespace tsgi
