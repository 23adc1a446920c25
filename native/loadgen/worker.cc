// See worker.h. The per-request path is kept to the syscalls the protocol
// needs: kept connections (HTTP, FastCGI with FCGI_KEEP_CONN) one send and one
// read per batch of replies; uwsgi/SCGI socket, connect, send (at once: on
// loopback the handshake is done when connect returns, and a send that comes
// too early fails with EAGAIN and waits for writability), epoll_ctl, read
// (a short read after the peer's FIN is the end: no read that returns 0), close.
#include "loadgen/worker.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <sys/uio.h>
#include <unistd.h>

#include "net/connect.h"
#include "net/socket.h"

namespace tsgi::loadgen {

namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr uint64_t kRetryNs = 1000000;     // after a failed connect, wait 1 ms: no spinning on a dead server
constexpr uint64_t kSweepNs = 100000000;   // timeouts are checked every 100 ms
// Open loop: requests due within this are sent now. The poller waits in whole
// milliseconds; a request sent early counts its latency from the real send.
constexpr uint64_t kSlackNs = 1000000;
constexpr unsigned kMaxDepth = 256;

// [pos, len) unread.
struct Buffer {
  std::unique_ptr<char[]> data;
  size_t cap = 0, len = 0, pos = 0;
  void reserve_tail(size_t n) {
    if (cap - len >= n) return;
    if (pos > 0) {
      std::memmove(data.get(), data.get() + pos, len - pos);
      len -= pos;
      pos = 0;
      if (cap - len >= n) return;
    }
    size_t ncap = std::max<size_t>(cap * 2, len + n);
    std::unique_ptr<char[]> d(new char[ncap]);
    if (len) std::memcpy(d.get(), data.get(), len);
    data = std::move(d);
    cap = ncap;
  }
  size_t avail() const { return len - pos; }
  char* head() const { return data.get() + pos; }
  void reset() { len = pos = 0; }
};

}  // namespace

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

struct Worker::Slot {
  bool busy = false;
  bool measured = false;  // issued inside the window: it counts
  uint64_t t0 = 0;        // latency starts here: the send, or the due time (open loop)
  uint64_t sent = 0;      // the timeout starts here
};

struct Worker::Conn {
  unsigned index = 0;
  int fd = -1;
  uint32_t gen = 0;
  uint32_t interest = 0;
  bool connected = false;  // a byte went out or came in
  bool hup = false;        // the peer's FIN was seen
  bool sleeping = false;
  uint64_t wake_at = 0;
  uint32_t served = 0;     // replies on this fd
  unsigned inflight = 0;
  unsigned first = 0;      // HTTP: ring index of the oldest request in flight
  std::vector<Slot> slots;
  std::string out;         // bytes the kernel has not taken yet
  size_t out_pos = 0;
  Buffer in;               // HTTP: unparsed bytes; uwsgi/SCGI: the reply's head
  HttpReply http;
  fcgi::Reader fcgi;
  uint64_t total_in = 0;   // uwsgi/SCGI: reply bytes so far
  uint64_t k_issued = 0, k_sent = 0;  // open loop: requests due on this connection, and sent
};

Worker::Worker(const Plan& plan, unsigned connections, uint64_t budget, double rate, uint64_t phase_ns)
    : plan_(plan), o_(plan.o), conns_(connections), http_(plan.o.protocol == Protocol::kHttp),
      fcgi_(plan.o.protocol == Protocol::kFastcgi),
      per_conn_(plan.o.protocol == Protocol::kUwsgi || plan.o.protocol == Protocol::kScgi ||
                (fcgi_ && !plan.o.keep_conn)),
      head_request_(plan.o.method == "HEAD"), budget_(budget), open_loop_(rate > 0), phase_ns_(phase_ns),
      timeout_ns_(uint64_t(plan.o.timeout_s * 1e9)), scratch_(new char[kReadChunk]) {
  if (open_loop_) interval_ns_ = 1e9 / rate;
  for (unsigned i = 0; i < connections; i++) {
    conns_[i].index = i;
    conns_[i].slots.resize(plan.depth);
    if (fcgi_) conns_[i].fcgi.init(plan.depth, kMaxHead);
  }
}

Worker::~Worker() {
  for (Conn& c : conns_)
    if (c.fd >= 0) ::close(c.fd);
}

// The poller's data: index and generation, so an event for a descriptor
// closed earlier in the same batch is recognised and dropped.
void* Worker::tag(const Conn& c) const {
  return reinterpret_cast<void*>(uintptr_t(c.gen) << 24 | uintptr_t(c.index));
}

bool Worker::can_issue(const Conn& c) const {
  if (c.inflight >= plan_.depth) return false;
  if (budget_ != 0 && issued_ >= budget_) return false;
  if (per_conn_ && c.inflight > 0) return false;
  return !open_loop_ || c.k_sent < c.k_issued;
}

// Sends as many new requests as the connection may have in flight, in one
// write; opens the connection first if it has none.
void Worker::fill(Conn* c, uint64_t now) {
  if (c->sleeping || !can_issue(*c)) return;
  if (c->fd < 0) {
    open(c, now);  // sends what is in flight, then comes back here
    return;
  }
  struct iovec iov[kMaxDepth];
  int count = 0;
  while (can_issue(*c)) {
    unsigned s;
    if (fcgi_) {
      s = 0;
      while (c->slots[s].busy) s++;
      c->fcgi.begin(uint16_t(s + 1));
    } else {
      s = (c->first + c->inflight) % plan_.depth;
    }
    Slot& slot = c->slots[s];
    uint64_t due = now;
    if (open_loop_) {
      // Request k of connection j is number j + C*k on the schedule.
      due = plan_.start + phase_ns_ + uint64_t(double(c->index + conns_.size() * c->k_sent) * interval_ns_);
      c->k_sent++;
    }
    slot.busy = true;
    slot.t0 = std::min(due, now);
    slot.sent = now;
    slot.measured = due >= plan_.measure_from;
    if (slot.measured) issued_++;
    c->inflight++;
    const std::string& r = plan_.requests[fcgi_ ? s : 0];
    iov[count].iov_base = const_cast<char*>(r.data());
    iov[count].iov_len = r.size();
    count++;
  }
  if (count > 0) transmit(c, iov, count, now);
}

void stop_if_refused(const Options& o, int err) {
  if (err != ECONNREFUSED && err != ENOENT) return;
  throw std::runtime_error(o.target + ": connection refused (" + std::strerror(err) +
                           "): is the server running and listening there? the run stops at the first refused connect");
}

void Worker::open(Conn* c, uint64_t now) {
  c->connected = c->hup = false;
  c->served = 0;
  c->out.clear();
  c->out_pos = 0;
  c->in.reset();
  c->http.reset();
  c->total_in = 0;
  bool in_progress = false;
  // Kept connections: a request must not wait behind Nagle for the last reply's ACK.
  int fd = net::connect_to(plan_.peer, !per_conn_, &in_progress);
  if (counting(now)) result.connects++;
  if (fd < 0) {
    if (fd == -EMFILE || fd == -ENFILE) throw std::runtime_error("out of file descriptors: lower --connections");
    stop_if_refused(o_, -fd);
    error(c, kErrConnect, now);
    return;
  }
  c->fd = fd;
  c->interest = 0;
  uint32_t gen = c->gen;
  // Requests still in flight from a closed connection go out again first
  // (they keep their start times), then new ones.
  struct iovec iov[kMaxDepth];
  int count = 0;
  for (unsigned k = 0; k < c->inflight; k++) {
    unsigned s = fcgi_ ? k : (c->first + k) % plan_.depth;
    if (fcgi_) {
      s = 0;
      for (unsigned seen = 0;; s++)
        if (c->slots[s].busy && seen++ == k) break;
      c->fcgi.begin(uint16_t(s + 1));
    }
    c->slots[s].sent = now;
    const std::string& r = plan_.requests[fcgi_ ? s : 0];
    iov[count].iov_base = const_cast<char*>(r.data());
    iov[count].iov_len = r.size();
    count++;
  }
  if (count > 0) transmit(c, iov, count, now);
  if (c->gen != gen) return;
  c->interest = kPollRead | (c->out_pos < c->out.size() ? kPollWrite : 0u);
  if (int rc = poller_.add(fd, c->interest, tag(*c)); rc < 0)
    throw std::runtime_error(std::string("poller add: ") + std::strerror(-rc));
  fill(c, now);
}

void Worker::transmit(Conn* c, const struct iovec* iov, int count, uint64_t now) {
  if (c->out_pos < c->out.size()) {  // behind earlier bytes
    for (int i = 0; i < count; i++) c->out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return;
  }
  ssize_t n = net::send_iov(c->fd, iov, count);
  if (n == -EAGAIN) n = 0;
  if (n < 0) {
    send_failed(c, int(-n), now);
    return;
  }
  if (n > 0) c->connected = true;
  if (counting(now)) result.bytes_out += uint64_t(n);
  size_t skip = size_t(n);
  c->out.clear();
  c->out_pos = 0;
  for (int i = 0; i < count; i++) {
    size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    c->out.append(static_cast<const char*>(iov[i].iov_base) + skip, len - skip);
    skip = 0;
  }
  if (!c->out.empty() && c->interest != 0) set_interest(c, kPollRead | kPollWrite);
}

void Worker::flush(Conn* c, uint64_t now) {
  while (c->out_pos < c->out.size()) {
    struct iovec iov = {c->out.data() + c->out_pos, c->out.size() - c->out_pos};
    ssize_t n = net::send_iov(c->fd, &iov, 1);
    if (n == -EAGAIN) return;
    if (n < 0) {
      send_failed(c, int(-n), now);
      return;
    }
    c->connected = true;
    c->out_pos += size_t(n);
    if (counting(now)) result.bytes_out += uint64_t(n);
  }
  c->out.clear();
  c->out_pos = 0;
  set_interest(c, kPollRead);  // level-triggered: stop asking for writability
}

void Worker::send_failed(Conn* c, int err, uint64_t now) {
  if (!c->connected) {
    stop_if_refused(o_, err);
    error(c, kErrConnect, now);  // ECONNREFUSED from an asynchronous connect
  } else if (!retry_kept(c, now)) {
    error(c, kErrWrite, now);
  }
}

void Worker::set_interest(Conn* c, uint32_t interest) {
  if (c->interest == interest) return;
  if (int rc = poller_.modify(c->fd, c->interest, interest, tag(*c)); rc < 0)
    throw std::runtime_error(std::string("poller modify: ") + std::strerror(-rc));
  c->interest = interest;
}

void Worker::on_event(Conn* c, uint32_t flags, uint64_t now) {
  if (flags & kPollHup) c->hup = true;
  if (!c->connected && (flags & kPollErr)) {
    stop_if_refused(o_, net::connect_error(c->fd));
    error(c, kErrConnect, now);
    return;
  }
  uint32_t gen = c->gen;
  if ((flags & kPollWrite) && c->out_pos < c->out.size()) {
    flush(c, now);
    if (c->gen != gen) return;
  }
  if (flags & (kPollRead | kPollHup | kPollErr)) read(c, now);
}

void Worker::read(Conn* c, uint64_t now) {
  uint32_t gen = c->gen;
  for (;;) {
    char* dst = scratch_.get();
    size_t room = kReadChunk;
    if (http_ || (!fcgi_ && c->in.len < kMaxHead)) {
      // HTTP parses in the buffer; uwsgi/SCGI keep the head (and what fits of the body).
      c->in.reserve_tail(kReadChunk);
      dst = c->in.data.get() + c->in.len;
      room = c->in.cap - c->in.len;
      if (!http_) room = std::min(room, kMaxHead - c->in.len);
    }
    ssize_t n = net::recv_some(c->fd, dst, room);
    if (n == -EAGAIN) break;
    if (n < 0) {
      if (!retry_kept(c, now)) error(c, kErrRead, now);
      return;
    }
    if (n == 0) {
      at_eof(c, now);
      return;
    }
    c->connected = true;
    if (counting(now)) result.bytes_in += uint64_t(n);
    if (http_) {
      c->in.len += size_t(n);
      if (!take_http(c, size_t(n), now)) return;
    } else if (fcgi_) {
      if (!take_fcgi(c, dst, size_t(n), now)) return;
    } else {
      if (dst != scratch_.get()) c->in.len += size_t(n);
      c->total_in += uint64_t(n);
      // The FIN was seen before this read and it came back short: the socket
      // is empty, so this is the end; skip the read that would return 0.
      if (c->hup && size_t(n) < room) {
        at_eof(c, now);
        return;
      }
    }
    if (c->gen != gen || c->fd < 0) return;
    // Short read: the socket is drained (level-triggered: more wakes us again).
    if (size_t(n) < room && !c->hup) break;
  }
  fill(c, now);  // replacements for the replies just read, in one write
}

// Replies parsed in the buffer. False when the connection is gone.
bool Worker::take_http(Conn* c, size_t, uint64_t now) {
  while (c->in.avail() > 0) {
    if (c->inflight == 0) {
      error(c, kErrFraming, now);  // bytes nobody asked for
      return false;
    }
    size_t used = 0;
    HttpReply::Rc rc = c->http.feed(c->in.head(), c->in.avail(), &used, head_request_);
    c->in.pos += used;
    if (rc == HttpReply::kFraming) {
      error(c, kErrFraming, now);
      return false;
    }
    if (rc == HttpReply::kAgain) break;
    const Head& h = c->http.head();
    int bad = -1;
    if (o_.expect_status != 0 && h.status != o_.expect_status) bad = kErrStatus;
    else if (o_.expect_body_length >= 0 && c->http.body_bytes() != uint64_t(o_.expect_body_length)) bad = kErrLength;
    if (c->inflight == 1 && c->in.avail() > 0) {
      // More bytes than this reply declared, and nothing else asked for:
      // its length was wrong (RFC 9112 6.3), so it does not count.
      error(c, kErrFraming, now);
      return false;
    }
    bool close = h.close;
    int status = h.status;  // h is the parser's: gone at its reset
    c->http.reset();
    finish_slot(c, c->first, bad, now, status);
    if (close) {  // the server closes after this reply: what is still in flight goes on a new connection
      close_fd(c);
      fill(c, now);
      return false;
    }
  }
  if (c->in.avail() == 0) c->in.reset();
  return true;
}

// FastCGI records as they come; each END_REQUEST ends its request id's reply,
// whose STDOUT is then checked as a CGI reply. False when the connection is gone.
bool Worker::take_fcgi(Conn* c, const char* data, size_t n, uint64_t now) {
  size_t off = 0;
  while (off < n) {
    size_t used = 0;
    uint16_t id = 0;
    fcgi::Reader::Rc rc = c->fcgi.feed(data + off, n - off, &used, &id, nullptr);
    off += used;
    if (rc == fcgi::Reader::kAgain) break;
    if (rc != fcgi::Reader::kEnd) {
      error(c, rc == fcgi::Reader::kProtocol ? kErrProtocol : kErrFraming, now);
      return false;
    }
    fcgi::Stream& s = c->fcgi.stream(id);
    s.active = false;
    int status = 0;
    int bad = s.protocol_status != fcgi::kRequestComplete
                  ? kErrProtocol
                  : check_cgi_reply(o_, s.head.data(), s.head.size(), s.stdout_bytes, nullptr, &status);
    finish_slot(c, id - 1u, bad, now, status);
    if (per_conn_) {
      if (off < n) error(c, kErrFraming, now);  // bytes after the last END_REQUEST
      else close_fd(c), fill(c, now);
      return false;
    }
  }
  return true;
}

void Worker::at_eof(Conn* c, uint64_t now) {
  if (!http_ && !fcgi_) {  // uwsgi/SCGI: the reply ends with the connection
    int status = 0;
    int bad = check_cgi_reply(o_, c->in.data.get(), c->in.len, c->total_in, nullptr, &status);
    finish_slot(c, 0, bad, now, status);
    close_fd(c);
    fill(c, now);
    return;
  }
  if (http_ && c->http.complete_at_eof()) {
    const Head& h = c->http.head();
    int bad = -1;
    if (o_.expect_status != 0 && h.status != o_.expect_status) bad = kErrStatus;
    else if (o_.expect_body_length >= 0 && c->http.body_bytes() != uint64_t(o_.expect_body_length)) bad = kErrLength;
    finish_slot(c, c->first, bad, now, h.status);
    close_fd(c);
    fill(c, now);
    return;
  }
  bool partial = http_ ? c->http.started() || c->in.avail() > 0 : c->fcgi.mid_record();
  if (fcgi_ && !partial) {
    for (unsigned s = 0; s < plan_.depth; s++)
      if (c->slots[s].busy && c->fcgi.stream(uint16_t(s + 1)).stdout_bytes > 0) partial = true;
  }
  if (c->inflight == 0) {  // an idle kept connection the server closed
    close_fd(c);
    fill(c, now);
    return;
  }
  if (partial) error(c, kErrShortBody, now);
  else if (!retry_kept(c, now)) error(c, kErrRead, now);
}

void Worker::finish_slot(Conn* c, unsigned s, int bad, uint64_t now, int status) {
  Slot& slot = c->slots[s];
  if (slot.measured) {
    if (now < plan_.end) {
      if (bad < 0) {
        result.requests++;
        result.latency.record(now - slot.t0);
      } else {
        result.errors[size_t(bad)]++;
        if (bad == kErrStatus && status > 0) result.statuses[status]++;
      }
      live.last_done.store(now, std::memory_order_relaxed);
    }
    done_++;
  }
  slot.busy = false;
  c->inflight--;
  c->served++;
  if (!fcgi_) c->first = (c->first + 1) % plan_.depth;
}

// Every request in flight on the connection fails with `kind`; a new
// connection replaces it (after 1 ms for a failed connect).
void Worker::error(Conn* c, Error kind, uint64_t now) {
  if (c->inflight == 0 && kind == kErrConnect) {
    // A connect fails before any request is assigned to the connection: it
    // fails the request it was opened for (so --requests ends against a dead
    // server, and an open-loop request that was due is not sent again).
    bool measured = (!open_loop_ || c->k_sent < c->k_issued) && now >= plan_.measure_from;
    if (open_loop_ && c->k_sent < c->k_issued) c->k_sent++;
    if (measured && counting(now)) result.errors[kind]++;
    if (measured && budget_ != 0) issued_++, done_++;
  } else if (c->inflight == 0 && counting(now)) {
    result.errors[kind]++;
  }
  for (unsigned s = 0; s < plan_.depth && c->inflight > 0; s++) {
    unsigned i = fcgi_ ? s : (c->first + s) % plan_.depth;
    if (!c->slots[i].busy) continue;
    finish_slot(c, i, kind, now);
  }
  c->inflight = 0;
  c->first = 0;
  close_fd(c);
  c->sleeping = true;
  c->wake_at = now + (kind == kErrConnect ? kRetryNs : 0);
  next_wake_ = std::min(next_wake_, c->wake_at);
  sleeping_++;
}

// A kept connection the application closed after its last reply (FIN, or a
// reset because our next request crossed its close): send what was in flight
// again on a new connection, as nginx does with a cached upstream connection.
// Not an error (`connects` shows it); only when nothing of the current reply
// came, and only on a connection that had served a reply.
bool Worker::retry_kept(Conn* c, uint64_t now) {
  if (per_conn_ || c->served == 0) return false;
  if (http_ ? c->http.started() || c->in.avail() > 0 : c->fcgi.mid_record()) return false;
  close_fd(c);
  open(c, now);
  return true;
}

// Leaves the slots in flight as they are. The descriptor leaves the poller
// before it is closed, as poller.h asks: the kernel's epoll and kqueue would
// drop it by themselves, libkqueue does not (a reused fd number then reports
// nothing).
void Worker::close_fd(Conn* c) {
  if (c->fd >= 0) {
    (void)poller_.remove(c->fd, c->interest);  // the fd is closed either way
    ::close(c->fd);
  }
  c->fd = -1;
  c->gen++;
  c->interest = 0;
  c->out.clear();
  c->out_pos = 0;
  c->in.reset();
  c->http.reset();
  if (fcgi_) {
    // Keep the ids in flight marked; open() begins them again.
    c->fcgi.restart();
    for (unsigned s = 0; s < plan_.depth; s++)
      if (!c->slots[s].busy) c->fcgi.stream(uint16_t(s + 1)).active = false;
  }
}

// Open loop: every request whose due time has come goes to its connection.
void Worker::issue_due(uint64_t now) {
  for (;;) {
    if (budget_ != 0 && issued_ >= budget_) {
      next_due_ = UINT64_MAX;
      return;
    }
    uint64_t due = plan_.start + phase_ns_ + uint64_t(double(next_n_) * interval_ns_);
    if (due > now + kSlackNs) {
      next_due_ = due;
      return;
    }
    Conn* c = &conns_[next_n_ % conns_.size()];
    c->k_issued++;
    next_n_++;
    fill(c, now);
  }
}

void Worker::sweep(uint64_t now, bool timeouts) {
  next_wake_ = UINT64_MAX;
  for (Conn& c : conns_) {
    if (c.sleeping) {
      if (now >= c.wake_at) {
        c.sleeping = false;
        sleeping_--;
        fill(&c, now);
      } else {
        next_wake_ = std::min(next_wake_, c.wake_at);
      }
    } else if (timeouts && c.inflight > 0) {
      uint64_t oldest = UINT64_MAX;
      for (const Slot& s : c.slots)
        if (s.busy) oldest = std::min(oldest, s.sent);
      if (now - oldest > timeout_ns_) error(&c, kErrTimeout, now);
    }
  }
}

void Worker::publish() {
  live.requests.store(result.requests, std::memory_order_relaxed);
  live.errors.store(result.errors_total(), std::memory_order_relaxed);
  live.bytes_in.store(result.bytes_in, std::memory_order_relaxed);
}

void Worker::run() {
  if (!poller_.ok()) throw std::runtime_error(std::string("cannot create the poller: ") + std::strerror(-poller_.fd()));
  uint64_t now = now_ns();
  if (open_loop_) issue_due(now);
  else
    for (Conn& c : conns_) fill(&c, now);
  PollEvent events[kPollBatch];
  uint64_t next_sweep = now + kSweepNs;
  for (;;) {
    now = now_ns();
    if (now >= plan_.end || plan_.stop->load(std::memory_order_relaxed)) break;
    if (budget_ != 0 && done_ >= budget_) break;
    if (open_loop_) issue_due(now);
    if (now >= next_sweep) {
      sweep(now, true);
      next_sweep = now + kSweepNs;
    } else if (sleeping_ > 0 && now >= next_wake_) {
      sweep(now, false);
    }
    publish();
    uint64_t wake = std::min(plan_.end, next_sweep);
    if (sleeping_ > 0) wake = std::min(wake, next_wake_);
    int timeout_ms = int((std::max(wake, now) - now + 999999) / 1000000);
    if (open_loop_ && next_due_ != UINT64_MAX) {
      // Round down: better a little early (the slack sends it) than late.
      uint64_t due_in = next_due_ > now ? next_due_ - now : 0;
      timeout_ms = std::min(timeout_ms, int(due_in / 1000000));
    }
    int n = poller_.wait(events, kPollBatch, timeout_ms);
    if (n < 0) throw std::runtime_error(std::string("poller wait: ") + std::strerror(-n));
    if (n > 0) now = now_ns();
    for (int i = 0; i < n; i++) {
      uintptr_t t = reinterpret_cast<uintptr_t>(events[i].data);
      Conn* c = &conns_[t & 0xffffff];
      if (c->fd < 0 || t != reinterpret_cast<uintptr_t>(tag(*c))) continue;
      // A reply's latency ends when its bytes are read: one clock read per
      // event, as a batch can take a while to work through.
      on_event(c, events[i].flags, i == 0 ? now : now_ns());
    }
  }
  publish();
  live.finished.store(true, std::memory_order_release);
}

}  // namespace tsgi::loadgen
