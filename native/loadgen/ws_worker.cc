// See ws_worker.h. A connection is a socket, the handshake's bytes until the
// 101 is complete, then a frame decoder fed straight from the read buffer.
// The message frames are built once per run (the publisher writes only its
// sequence number into each), so the client's cost per message is the
// syscalls and the decoding of the reply.
#include "loadgen/ws_worker.h"
#include "net/connect.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include "loadgen/reply.h"
#include "net/socket.h"
#include "proto/ws/framer.h"
#include "proto/ws/handshake.h"
#include "proto/ws/writer.h"

namespace tsgi::loadgen {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr uint64_t kRetryNs = 1000000;    // after a failed connect or handshake: no spinning on a broken server
constexpr uint64_t kSweepNs = 100000000;  // timeouts are checked every 100 ms
constexpr unsigned kMaxDepth = 256;
constexpr size_t kOpenLoopRing = 1u << 16;  // open-loop publishes that may await delivery at once
constexpr size_t kSeqDigits = 16;

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 6455 4.1: the key is 16 random bytes, base64-encoded (24 characters).
void make_key(uint64_t a, uint64_t b, char out[24]) {
  uint8_t raw[18] = {};
  for (int i = 0; i < 8; i++) raw[i] = uint8_t(a >> (8 * i)), raw[8 + i] = uint8_t(b >> (8 * i));
  for (int g = 0; g < 6; g++) {
    uint32_t v = uint32_t(raw[3 * g]) << 16 | uint32_t(raw[3 * g + 1]) << 8 | raw[3 * g + 2];
    for (int k = 0; k < 4; k++) out[4 * g + k] = kBase64[(v >> (18 - 6 * k)) & 63];
  }
  out[22] = out[23] = '=';  // 16 bytes: the last group holds one byte
}

uint64_t splitmix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool token_in(const char* v, size_t n, const char* token) {
  size_t t = std::strlen(token);
  for (size_t i = 0; i + t <= n; i++)
    if (strncasecmp(v + i, token, t) == 0) return true;
  return false;
}

// RFC 6455 4.1, the client's checks of the server's handshake: 101, Upgrade
// "websocket", Connection "upgrade", and the Sec-WebSocket-Accept for our key.
bool handshake_ok(const char* head, size_t len, const char* accept) {
  bool upgrade = false, connection = false, key = false;
  size_t line = 0;
  while (line < len) {
    const char* eol = static_cast<const char*>(std::memchr(head + line, '\n', len - line));
    size_t end = eol ? size_t(eol - head) : len;
    const char* p = head + line;
    size_t n = end - line;
    if (n > 0 && p[n - 1] == '\r') n--;
    const char* colon = static_cast<const char*>(std::memchr(p, ':', n));
    if (colon != nullptr) {
      size_t name = size_t(colon - p);
      const char* v = colon + 1;
      size_t vn = n - name - 1;
      while (vn > 0 && (*v == ' ' || *v == '\t')) v++, vn--;
      while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) vn--;
      auto is = [&](const char* h) { return name == std::strlen(h) && strncasecmp(p, h, name) == 0; };
      if (is("upgrade")) upgrade = vn == 9 && strncasecmp(v, "websocket", 9) == 0;
      else if (is("connection")) connection = token_in(v, vn, "upgrade");
      else if (is("sec-websocket-accept")) key = vn == ws::kAcceptLen && std::memcmp(v, accept, vn) == 0;
    }
    line = end + 1;
  }
  return upgrade && connection && key;
}

}  // namespace

// /dev/urandom, not std::random_device: libstdc++ reads that through
// arc4random on glibc 2.36+, which the prebuilds may not need (GLIBC_2.28).
uint64_t random_seed() {
  uint64_t seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^ uint64_t(getpid()) << 32;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    uint64_t r = 0;
    if (::read(fd, &r, sizeof r) == ssize_t(sizeof r)) seed ^= r;
    ::close(fd);
  }
  return seed;
}

struct WsWorker::Published {
  uint64_t seq = UINT64_MAX;  // UINT64_MAX: free
  uint64_t t0 = 0;
  uint32_t expect = 0, got = 0;
  bool measured = false;
};

struct WsWorker::Conn {
  enum Role : uint8_t { kEcho, kSubscriber, kPublisher };
  unsigned index = 0;
  Role role = kEcho;
  int fd = -1;
  uint32_t gen = 0;
  uint32_t interest = 0;
  bool connected = false;  // a byte went out or came in
  bool upgraded = false;   // the 101 was read and checked
  bool sleeping = false;
  uint64_t wake_at = 0;
  uint64_t opened_at = 0;
  char accept[ws::kAcceptLen] = {};
  std::string head;        // the server's handshake so far
  std::string out;         // bytes the kernel has not taken yet
  size_t out_pos = 0;
  ws::Decoder decoder;
  uint64_t msg_len = 0;    // the payload of the message being read, so far
  char msg_start[32] = {}; // its first bytes (subscribe: prefix and sequence number)
  // Echo: send times of the messages in flight, oldest at `first`.
  unsigned inflight = 0, first = 0;
  uint64_t sent[kMaxDepth] = {};
  bool measured[kMaxDepth] = {};
};

WsWorker::WsWorker(const Plan& plan, unsigned connections, uint64_t budget)
    : plan_(plan), o_(plan.o), subscribe_(plan.o.ws_mode == WsMode::kSubscribe), budget_(budget),
      timeout_ns_(uint64_t(plan.o.timeout_s * 1e9)), scratch_(new char[kReadChunk]) {
  rng_ = random_seed();
  conns_.resize(connections + (subscribe_ ? 1 : 0));
  for (unsigned i = 0; i < conns_.size(); i++) {
    conns_[i].index = i;
    conns_[i].role = !subscribe_ ? Conn::kEcho : i < connections ? Conn::kSubscriber : Conn::kPublisher;
  }
  if (subscribe_) ring_.resize(o_.rate > 0 ? kOpenLoopRing : plan.depth);
}

WsWorker::~WsWorker() {
  for (Conn& c : conns_)
    if (c.fd >= 0) ::close(c.fd);
}

void* WsWorker::tag(const Conn& c) const {
  return reinterpret_cast<void*>(uintptr_t(c.gen) << 24 | uintptr_t(c.index));
}

void WsWorker::open(Conn* c, uint64_t now) {
  c->connected = c->upgraded = false;
  c->head.clear();
  c->out.clear();
  c->out_pos = 0;
  c->msg_len = 0;
  ws::Limits limits;
  limits.require_mask = false;  // 5.1: a server's frames are not masked
  limits.max_frame = limits.max_message = std::max<uint64_t>(o_.ws_message_size, 1u << 20);
  c->decoder.reset(limits);
  bool in_progress = false;
  int fd = net::connect_to(plan_.peer, true, &in_progress);
  if (counting(now)) result.connects++;
  if (fd < 0) {
    if (fd == -EMFILE || fd == -ENFILE) throw std::runtime_error("out of file descriptors: lower --connections");
    stop_if_refused(o_, -fd);
    error(c, kErrConnect, now);
    return;
  }
  c->fd = fd;
  c->interest = 0;
  c->opened_at = now;
  char key[24];
  make_key(splitmix(&rng_), splitmix(&rng_), key);
  ws::accept_key(key, sizeof key, c->accept);
  std::string req = plan_.requests[0];
  req.append("Sec-WebSocket-Key: ").append(key, sizeof key).append("\r\n\r\n");
  uint32_t gen = c->gen;
  struct iovec iov = {req.data(), req.size()};
  send(c, &iov, 1, now);
  if (c->gen != gen) return;
  c->interest = kPollRead | (c->out_pos < c->out.size() ? kPollWrite : 0u);
  if (int rc = poller_.add(fd, c->interest, tag(*c)); rc < 0)
    throw std::runtime_error(std::string("poller add: ") + std::strerror(-rc));
}

void WsWorker::send(Conn* c, const struct iovec* iov, int count, uint64_t now) {
  if (c->out_pos < c->out.size()) {  // behind earlier bytes
    for (int i = 0; i < count; i++) c->out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return;
  }
  ssize_t n = net::send_iov(c->fd, iov, count);
  if (n == -EAGAIN) n = 0;
  if (n < 0) {
    if (!c->connected) stop_if_refused(o_, int(-n));
    error(c, c->connected ? kErrWrite : kErrConnect, now);
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

void WsWorker::flush(Conn* c, uint64_t now) {
  while (c->out_pos < c->out.size()) {
    struct iovec iov = {c->out.data() + c->out_pos, c->out.size() - c->out_pos};
    ssize_t n = net::send_iov(c->fd, &iov, 1);
    if (n == -EAGAIN) return;
    if (n < 0) {
      if (!c->connected) stop_if_refused(o_, int(-n));
    error(c, c->connected ? kErrWrite : kErrConnect, now);
      return;
    }
    c->connected = true;
    c->out_pos += size_t(n);
    if (counting(now)) result.bytes_out += uint64_t(n);
  }
  c->out.clear();
  c->out_pos = 0;
  set_interest(c, kPollRead);
}

void WsWorker::set_interest(Conn* c, uint32_t interest) {
  if (c->interest == interest) return;
  if (int rc = poller_.modify(c->fd, c->interest, interest, tag(*c)); rc < 0)
    throw std::runtime_error(std::string("poller modify: ") + std::strerror(-rc));
  c->interest = interest;
}

void WsWorker::on_event(Conn* c, uint32_t flags, uint64_t now) {
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

void WsWorker::read(Conn* c, uint64_t now) {
  uint32_t gen = c->gen;
  for (;;) {
    ssize_t n = net::recv_some(c->fd, scratch_.get(), kReadChunk);
    if (n == -EAGAIN) break;
    if (n <= 0) {
      // Before the 101: the handshake was cut (read); after it: the server left.
      error(c, !c->upgraded ? kErrRead : kErrClosed, now);
      return;
    }
    c->connected = true;
    if (counting(now)) result.bytes_in += uint64_t(n);
    if (!c->upgraded) {
      c->head.append(scratch_.get(), size_t(n));
      if (!handshake(c, now)) return;
    } else if (!frames(c, scratch_.get(), size_t(n), now)) {
      return;
    }
    if (c->gen != gen) return;
    if (size_t(n) < kReadChunk) break;
  }
  fill(c, now);
}

// The 101 and what came after it. False when the connection is gone or the
// head is not complete yet.
bool WsWorker::handshake(Conn* c, uint64_t now) {
  Head h;
  int rc = parse_head(c->head.data(), c->head.size(), false, &h);
  if (rc == 0) {
    if (c->head.size() > kMaxHead) error(c, kErrFraming, now);
    return false;
  }
  if (rc < 0) {
    error(c, kErrFraming, now);
    return false;
  }
  if (h.status != 101 || !handshake_ok(c->head.data(), h.len, c->accept)) {
    error(c, kErrHandshake, now);
    return false;
  }
  c->upgraded = true;
  if (c->role == Conn::kSubscriber) subscribers_open_++;
  std::string rest = c->head.substr(h.len);
  c->head.clear();
  c->head.shrink_to_fit();
  if (!rest.empty() && !frames(c, rest.data(), rest.size(), now)) return false;
  if (c->role == Conn::kSubscriber && !publishing_ && subscribers_open_ == conns_.size() - 1) {
    // Every subscriber is in: the publisher may start.
    publishing_ = true;
    publish_from_ = now;
    next_due_ = now;
    fill(&conns_.back(), now);
  }
  return true;
}

// Server frames as they come. False when the connection is gone.
bool WsWorker::frames(Conn* c, char* data, size_t n, uint64_t now) {
  uint32_t gen = c->gen;
  size_t off = 0;
  for (;;) {
    ws::Event ev;
    off += c->decoder.feed(data + off, n - off, &ev);
    switch (ev.type) {
      case ws::Ev::kAgain: return true;
      case ws::Ev::kFrame: break;
      case ws::Ev::kData: {
        if (c->msg_len < sizeof c->msg_start) {
          size_t k = std::min<size_t>(ev.len, sizeof c->msg_start - c->msg_len);
          std::memcpy(c->msg_start + c->msg_len, ev.data, k);
        }
        c->msg_len += ev.len;
        break;
      }
      case ws::Ev::kMessageEnd: on_message(c, ev.message, now); break;
      case ws::Ev::kPing: pong(c, ev.data, ev.len, now); break;
      case ws::Ev::kPong: break;
      case ws::Ev::kClose: error(c, kErrClosed, now); return false;
      case ws::Ev::kError: error(c, kErrFraming, now); return false;
    }
    if (c->gen != gen) return false;
  }
}

void WsWorker::on_message(Conn* c, uint8_t opcode, uint64_t now) {
  uint64_t len = c->msg_len;
  c->msg_len = 0;
  uint8_t want = o_.ws_binary ? ws::kBinary : ws::kText;
  if (c->role == Conn::kPublisher) return;  // a server that relays to the sender too
  if (c->role == Conn::kSubscriber) {
    size_t plen = o_.ws_prefix.size();
    uint64_t seq = 0;
    bool ok = len == o_.ws_message_size && len >= plen + kSeqDigits;
    for (size_t i = 0; ok && i < kSeqDigits; i++) {
      char d = c->msg_start[plen + i];
      int v = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10 : -1;
      if (v < 0) ok = false;
      seq = seq << 4 | uint64_t(v < 0 ? 0 : v);
    }
    if (!ok || opcode != want) {
      if (counting(now)) result.errors[ok ? kErrProtocol : kErrLength]++;
      return;
    }
    delivered(seq, now);
    return;
  }
  if (c->inflight == 0) {
    error(c, kErrFraming, now);  // a message nobody asked for
    return;
  }
  int bad = opcode != want ? kErrProtocol : len != o_.ws_message_size ? kErrLength : -1;
  unsigned s = c->first;
  if (c->measured[s]) {
    if (now < plan_.end) {
      if (bad < 0) {
        result.requests++;
        result.latency.record(now - c->sent[s]);
      } else {
        result.errors[size_t(bad)]++;
      }
      live.last_done.store(now, std::memory_order_relaxed);
    }
    done_++;
  }
  c->first = (c->first + 1) % plan_.depth;
  c->inflight--;
}

// 5.5.2: a ping is answered by a pong with its payload, masked as any client frame.
void WsWorker::pong(Conn* c, const char* payload, size_t len, uint64_t now) {
  char frame[ws::kMaxClientHeader + ws::kMaxControlPayload];
  size_t h = ws::write_client_header(frame, ws::kPong, true, len, plan_.ws_mask);
  std::memcpy(frame + h, payload, len);
  ws::mask_payload(frame + h, len, plan_.ws_mask);
  struct iovec iov = {frame, h + len};
  send(c, &iov, 1, now);
}

// Echo: as many messages as may be in flight, in one write; opens the
// connection first if it has none. The publisher: what is due.
void WsWorker::fill(Conn* c, uint64_t now) {
  if (c->sleeping) return;
  if (c->fd < 0) {
    open(c, now);
    return;
  }
  if (!c->upgraded) return;
  if (c->role == Conn::kPublisher) {
    publish_due(now);
    return;
  }
  if (c->role != Conn::kEcho) return;
  struct iovec iov[kMaxDepth];
  int count = 0;
  const std::string& frame = plan_.requests[1];
  while (c->inflight < plan_.depth && (budget_ == 0 || issued_ < budget_)) {
    unsigned s = (c->first + c->inflight) % plan_.depth;
    c->sent[s] = now;
    c->measured[s] = now >= plan_.measure_from;
    if (c->measured[s]) issued_++;
    c->inflight++;
    iov[count].iov_base = const_cast<char*>(frame.data());
    iov[count].iov_len = frame.size();
    count++;
  }
  if (count > 0) send(c, iov, count, now);
}

// Subscribe mode: the publisher sends while fewer than `depth` messages await
// delivery (closed loop), or each message as its time comes (open loop).
void WsWorker::publish_due(uint64_t now) {
  Conn& p = conns_.back();
  if (!publishing_ || p.fd < 0 || !p.upgraded || p.sleeping) return;
  uint32_t gen = p.gen;
  for (;;) {  // a --requests budget counts deliveries: run() ends it
    if (o_.rate > 0) {
      uint64_t due = publish_from_ + uint64_t(double(seq_) * 1e9 / o_.rate);
      if (due > now) {
        next_due_ = due;
        return;
      }
    } else if (outstanding_ >= plan_.depth) {
      return;
    }
    publish_one(now);
    if (p.gen != gen) return;
  }
}

void WsWorker::publish_one(uint64_t now) {
  Published& e = ring_[seq_ % ring_.size()];
  if (e.seq != UINT64_MAX) retire(&e, now);  // open loop: the ring came round before its deliveries
  e.seq = seq_;
  e.t0 = now;
  e.expect = subscribers_open_;
  e.got = 0;
  e.measured = counting(now);
  if (e.measured) result.published++;
  outstanding_++;
  // The payload with this sequence number written in, then masked.
  const std::string& payload = plan_.requests[1];
  size_t plen = o_.ws_prefix.size();
  frame_.resize(ws::kMaxClientHeader + payload.size());
  size_t h = ws::write_client_header(frame_.data(), o_.ws_binary ? ws::kBinary : ws::kText, true, payload.size(),
                                     plan_.ws_mask);
  char* body = frame_.data() + h;
  std::memcpy(body, payload.data(), payload.size());
  for (size_t i = 0; i < kSeqDigits; i++) body[plen + i] = "0123456789abcdef"[(seq_ >> (4 * (kSeqDigits - 1 - i))) & 15];
  ws::mask_payload(body, payload.size(), plan_.ws_mask);
  seq_++;
  struct iovec iov = {frame_.data(), h + payload.size()};
  send(&conns_.back(), &iov, 1, now);
}

void WsWorker::delivered(uint64_t seq, uint64_t now) {
  Published& e = ring_[seq % ring_.size()];
  if (e.seq != seq) return;  // retired already (timed out), or not ours
  if (e.measured && now < plan_.end) {
    result.requests++;
    result.latency.record(now - e.t0);
    live.last_done.store(now, std::memory_order_relaxed);
  }
  if (e.measured) done_++;
  if (++e.got >= e.expect) {
    e.seq = UINT64_MAX;
    outstanding_--;
    Conn& p = conns_.back();
    if (o_.rate == 0 && p.fd >= 0 && p.upgraded) publish_due(now);
  }
}

// A message whose deliveries did not all come in time: each missing one is a timeout.
void WsWorker::retire(Published* e, uint64_t now) {
  if (e->measured && now < plan_.end && e->got < e->expect) result.errors[kErrTimeout] += e->expect - e->got;
  e->seq = UINT64_MAX;
  outstanding_--;
}

// Every message in flight on the connection fails with `kind` (at least one
// error is counted); a new connection replaces it, after 1 ms unless the
// server only closed an established one.
void WsWorker::error(Conn* c, Error kind, uint64_t now) {
  if (counting(now)) result.errors[kind] += std::max(1u, c->inflight);
  for (unsigned k = 0; k < c->inflight; k++)
    if (c->measured[(c->first + k) % plan_.depth]) done_++;
  c->inflight = c->first = 0;
  if (c->role == Conn::kSubscriber && c->upgraded) subscribers_open_--;
  close_fd(c);
  if (!c->sleeping) sleeping_++;
  c->sleeping = true;
  c->wake_at = now + kRetryNs;
}

void WsWorker::close_fd(Conn* c) {
  if (c->fd >= 0) {
    (void)poller_.remove(c->fd, c->interest);
    ::close(c->fd);
  }
  c->fd = -1;
  c->gen++;
  c->interest = 0;
  c->upgraded = false;
  c->out.clear();
  c->out_pos = 0;
  c->head.clear();
}

void WsWorker::sweep(uint64_t now) {
  for (Conn& c : conns_) {
    if (c.sleeping) {
      if (now >= c.wake_at) {
        c.sleeping = false;
        sleeping_--;
        fill(&c, now);
      }
      continue;
    }
    if (c.fd < 0) continue;
    bool late = !c.upgraded ? now - c.opened_at > timeout_ns_
                            : c.inflight > 0 && now - c.sent[c.first] > timeout_ns_;
    if (late) error(&c, kErrTimeout, now);
  }
  if (subscribe_) {
    for (Published& e : ring_)
      if (e.seq != UINT64_MAX && now - e.t0 > timeout_ns_) retire(&e, now);
    if (o_.rate == 0) publish_due(now);
  }
}

void WsWorker::report() {
  live.requests.store(result.requests, std::memory_order_relaxed);
  live.errors.store(result.errors_total(), std::memory_order_relaxed);
  live.bytes_in.store(result.bytes_in, std::memory_order_relaxed);
}

void WsWorker::run() {
  if (!poller_.ok()) throw std::runtime_error(std::string("cannot create the poller: ") + std::strerror(-poller_.fd()));
  uint64_t now = now_ns();
  for (Conn& c : conns_) fill(&c, now);
  PollEvent events[kPollBatch];
  uint64_t next_sweep = now + kSweepNs;
  uint64_t retry_sweep = UINT64_MAX;
  for (;;) {
    now = now_ns();
    if (now >= plan_.end || plan_.stop->load(std::memory_order_relaxed)) break;
    if (budget_ != 0 && done_ >= budget_) break;
    if (subscribe_ && o_.rate > 0) publish_due(now);
    if (sleeping_ > 0 && retry_sweep == UINT64_MAX) retry_sweep = now + kRetryNs;
    if (now >= next_sweep || now >= retry_sweep) {
      sweep(now);
      next_sweep = now + kSweepNs;
      retry_sweep = UINT64_MAX;
    }
    report();
    uint64_t wake = std::min({plan_.end, next_sweep, retry_sweep});
    if (subscribe_ && o_.rate > 0) wake = std::min(wake, next_due_);
    int timeout_ms = int((std::max(wake, now) - now + 999999) / 1000000);
    int n = poller_.wait(events, kPollBatch, timeout_ms);
    if (n < 0) throw std::runtime_error(std::string("poller wait: ") + std::strerror(-n));
    if (n > 0) now = now_ns();
    for (int i = 0; i < n; i++) {
      uintptr_t t = reinterpret_cast<uintptr_t>(events[i].data);
      Conn* c = &conns_[t & 0xffffff];
      if (c->fd < 0 || t != reinterpret_cast<uintptr_t>(tag(*c))) continue;
      on_event(c, events[i].flags, i == 0 ? now : now_ns());
    }
  }
  report();
  live.finished.store(true, std::memory_order_release);
}

}  // namespace tsgi::loadgen
