// The N-API boundary: the only file (with napi/) that knows JavaScript.
//
// One Server object wraps one Loop. Sink events are staged in native memory
// during a batch and handed to JS in one call, onEvents(batch, count[, events]):
//   batch   a Buffer (byteOffset 0) holding request records and body bytes
//   events  the shared Float64Array, 4 numbers per event: type, handle, a, b
// The request record, the event types, the reply codes and flags and the
// protocol ids are numbers JS shares: they are in napi/abi.h, and exported
// from here as binding.abi.
#include <napi.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <string>
#include <unistd.h>
#include <vector>

#include "conn/connection.h"
#include "core/loop.h"
#include "napi/abi.h"
#include "net/notify.h"
#include "net/socket.h"
#include "proto/fastcgi/framer.h"
#include "proto/scgi/framer.h"
#include "proto/uwsgi/framer.h"
#include "static/responder.h"

namespace tsgi {

void InitPlatform(Napi::Env env, Napi::Object exports);
std::unique_ptr<files::StaticConfig> static_config(Napi::Env env, Napi::Object o);
int static_offload(files::StaticFiles* files, const Napi::CallbackInfo& info);

// A JS value kept alive while the output queue references its memory.
class ValuePin final : public Pin {
 public:
  ValuePin(napi_env env, napi_ref ref) : env_(env), ref_(ref) {}
  ~ValuePin() override { napi_delete_reference(env_, ref_); }

 private:
  napi_env env_;
  napi_ref ref_;
};

#if defined(__SANITIZE_ADDRESS__)
#define TSGI_ASAN_POISON 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TSGI_ASAN_POISON 1
#endif
#endif
#ifdef TSGI_ASAN_POISON
#include <sanitizer/asan_interface.h>
#endif

class StringPool;

// A string encoded for the output queue, in memory of our own: a large one
// is written from here with writev, and what the socket did not take stays
// here (a StringPin holds it) rather than being copied. That holds for a
// streamed chunk as well as a whole body: no app can change these bytes.
// Shared by every segment that references it (FastCGI's records, each
// connection of a wsPublish); back to its pool with the last reference.
struct StringBlock {
  size_t cap;       // bytes of data()
  size_t len = 0;   // bytes encoded
  size_t refs = 1;
  StringPool* pool;

  StringBlock(size_t c, StringPool* p) : cap(c), pool(p) {}
  char* data() { return reinterpret_cast<char*>(this + 1); }
  bool holds(const char* p, size_t n) {
    return p >= data() && p <= data() + len && n <= static_cast<size_t>(data() + len - p);
  }
  inline void unref();
};

// Blocks kept for the next string once written. A block taken afresh from
// the C library above its mmap threshold is mapped anew, and each of its
// pages faults in as the string is encoded: a 256 KiB reply cost 65 page
// faults and twice the server CPU of the copy it replaced. A block is kept
// whole (not shrunk to its string) so that the next string of that size
// fits; at most kKeep blocks and kKeepBytes. The server's one-second timer
// frees them all when no string took one since the last tick, so the memory
// comes back within two seconds of the last large reply.
class StringPool {
 public:
  StringPool() = default;
  StringPool(const StringPool&) = delete;
  StringPool& operator=(const StringPool&) = delete;
  ~StringPool() { clear(); }

  // A block of at least `cap` bytes (the smallest kept one that is, if not
  // over four times that: the scratch is never a 12 MiB block), or nullptr
  // when memory is exhausted.
  StringBlock* take(size_t cap) {
    used_ = true;
    size_t best = count_;
    for (size_t i = 0; i < count_; i++) {
      size_t c = kept_[i]->cap;
      if (c >= cap && c / 4 <= cap && (best == count_ || c < kept_[best]->cap)) best = i;
    }
    if (best < count_) {
      StringBlock* b = kept_[best];
      kept_[best] = kept_[--count_];
      bytes_ -= b->cap;
#ifdef TSGI_ASAN_POISON
      ASAN_UNPOISON_MEMORY_REGION(b->data(), b->cap);
#endif
      b->len = 0;
      b->refs = 1;
      return b;
    }
    void* m = std::malloc(sizeof(StringBlock) + cap);
    return m ? new (m) StringBlock(cap, this) : nullptr;
  }
  void give(StringBlock* b) {
    if (count_ < kKeep && b->cap <= kKeepBytes - bytes_) {
#ifdef TSGI_ASAN_POISON
      ASAN_POISON_MEMORY_REGION(b->data(), b->cap);  // a use after the last pin is still reported
#endif
      kept_[count_++] = b;
      bytes_ += b->cap;
      return;
    }
    std::free(b);
  }
  // Each second: frees the kept blocks if none was taken since the last call.
  void trim() {
    if (!used_) clear();
    used_ = false;
  }
  void clear() {
    for (size_t i = 0; i < count_; i++) {
#ifdef TSGI_ASAN_POISON
      ASAN_UNPOISON_MEMORY_REGION(kept_[i]->data(), kept_[i]->cap);
#endif
      std::free(kept_[i]);
    }
    count_ = 0;
    bytes_ = 0;
  }

 private:
  static constexpr size_t kKeep = 16;
  static constexpr size_t kKeepBytes = 64 * 1024 * 1024;
  StringBlock* kept_[kKeep];
  size_t count_ = 0;
  size_t bytes_ = 0;
  bool used_ = false;
};

inline void StringBlock::unref() {
  if (--refs == 0) pool->give(this);
}

class StringPin final : public Pin {
 public:
  explicit StringPin(StringBlock* b) : b_(b) { b_->refs++; }
  ~StringPin() override { b_->unref(); }

 private:
  StringBlock* b_;
};

class Server : public Napi::ObjectWrap<Server>, public Sink, public PinSource {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Server(const Napi::CallbackInfo& info);
  ~Server() override;

  // Sink
  void on_request(Connection& c, double handle, const http1::RequestHead& head,
                  const char* head_bytes, uint32_t rec_flags) override;
  void on_cgi_request(Connection& c, double handle, const cgi::VarTable& vars, const char* head_bytes,
                      uint32_t head_len, uint64_t content_length, uint32_t rec_flags) override;
  void on_body(double handle, const char* data, size_t len) override;
  char* body_room(double handle, size_t* room) override;
  void on_body_end(double handle) override;
  void on_body_error(double handle, int status) override {
    drop_sink(handle);
    event(kEvBodyError, handle, status, 0);
  }
  void on_abort(double handle) override {
    drop_sink(handle);
    event(kEvAbort, handle, 0, 0);
  }
  void on_drain(double handle) override { event(kEvDrain, handle, 0, 0); }
  void on_data(double handle, const char* data, size_t len) override;
  void on_data_end(double handle) override { event(kEvDataEnd, handle, 0, 0); }
  void on_data_error(double handle, int status) override { event(kEvDataError, handle, status, 0); }
  void on_ws_message(double handle, const char* data, size_t len, bool binary) override {
    event(binary ? kEvWsBinary : kEvWsText, handle, place(data, len), static_cast<double>(len));
  }
  void on_ws_close(double handle, uint16_t code, const char* reason, size_t reason_len) override {
    // A reason is at most 123 bytes (RFC 6455 5.5): offset and length in one number.
    uint32_t off = stage(reason, reason_len);
    event(kEvWsClose, handle, code, static_cast<double>(off) * 256 + static_cast<double>(reason_len & 0xff));
  }
  void log(const std::string& line) override { logs_.push_back(line); }
  void on_served(double handle, int status, uint64_t body_bytes) override {
    event(kEvServed, handle, status, static_cast<double>(body_bytes));
  }

  // PinSource: a string the call encoded stays in its block until written
  // (StringBlock). A whole reply body given as bytes stays in the app's
  // Buffer until written (the reply is over for the app: it may share the
  // Buffer between replies, not change it), so each slow client of one
  // large Buffer costs a reference, not a copy; so does a streamed chunk
  // whose caller promises to leave it unchanged (KEPT). Any other chunk
  // given as bytes is the app's to reuse once write() returns: copied.
  Pin* pin(const char* data, size_t len) override {
    if (call_string_ != nullptr && call_string_->holds(data, len)) return new StringPin(call_string_);
    if (pin_value_ == nullptr) return nullptr;
    napi_ref ref = nullptr;
    if (napi_create_reference(env_, pin_value_, 1, &ref) != napi_ok) return nullptr;
    return new ValuePin(env_, ref);
  }
  napi_value pin_value_ = nullptr;  // during respond()/write(): bytes to pin (a whole body, a KEPT chunk)

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Respond(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value ReadBody(const Napi::CallbackInfo& info);
  Napi::Value ReadInto(const Napi::CallbackInfo& info);
  Napi::Value ReadData(const Napi::CallbackInfo& info);
  Napi::Value WriteFile(const Napi::CallbackInfo& info);
  Napi::Value WriteStderr(const Napi::CallbackInfo& info);
  Napi::Value Offload(const Napi::CallbackInfo& info);
  bool chunk_arg(Napi::Env env, Napi::Value v, const char** data, size_t* len);
  const char* encode(napi_env env, napi_value v, size_t* len);
  void call_done();
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Upgrade(const Napi::CallbackInfo& info);
  Napi::Value WsSend(const Napi::CallbackInfo& info);
  Napi::Value WsPublish(const Napi::CallbackInfo& info);
  Napi::Value WsClose(const Napi::CallbackInfo& info);
  Napi::Value Queued(const Napi::CallbackInfo& info);
  Napi::Value Retract(const Napi::CallbackInfo& info);
  Napi::Value WsCounters(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value StopListening(const Napi::CallbackInfo& info);
  Napi::Value CloseIdle(const Napi::CallbackInfo& info);
  Napi::Value DestroyAll(const Napi::CallbackInfo& info);
  Napi::Value ConnectionCount(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void event(int type, double handle, double a, double b);
  uint32_t stage(const char* data, size_t len);
  double place(const char* data, size_t len);
  napi_ref new_buffer(size_t len, char** data);
  // A body read whole (readBody with a destination): its bytes go from the
  // connection's input straight into the app's Buffer, not through the batch.
  // Of a stated length, the Buffer is that long; of an unknown length
  // (chunked, FastCGI STDIN without CONTENT_LENGTH), the sink grows it up to
  // `limit`, and at BODY_END the batch call hands the app the last one.
  struct BodySink {
    double handle;
    napi_ref ref;  // the Buffer, alive while the core writes into it; null once failed
    char* data;
    size_t cap;
    size_t filled;
    bool grows;    // a body of unknown length: regrown up to limit
    size_t limit;
    bool fill;     // readInto: the next bytes, whatever the body's length (fill_done)
  };
  BodySink* find_sink(double handle);
  void drop_sink(double handle);
  bool grow_sink(BodySink* d, size_t need);
  void over_limit(BodySink* d);
  void add_sink(Napi::Env env, double handle, Napi::Uint8Array u, bool grows, size_t limit, bool fill);
  Napi::Value flow_body(Napi::Env env, double handle, bool flowing);
  void fill_done(BodySink* d);
  void fill_partial();
  uint32_t* record_common(Connection& c, uint32_t rec, uint32_t head_off, uint32_t flags,
                          uint64_t content_length, uint32_t count);
  static void slice(uint32_t* w, uint32_t word, http1::Slice s) {
    w[word] = s.off;
    w[word + 1] = s.len;
  }
  void deliver();
  void drain();
  void after_call();
  void teardown();
  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnTimer(uv_timer_t* h);
  static void OnIdle(uv_idle_t* h);

  Napi::Env env_;
  Loop* loop_ = nullptr;
  std::unique_ptr<files::StaticFiles> files_;  // --static-map and friends: the loop's sink, before this
  uv_loop_t* uv_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  bool idle_on_ = false;
  bool delivering_ = false;
  Napi::FunctionReference on_events_;
  Napi::FunctionReference on_log_;
  Napi::Reference<Napi::Float64Array> shared_;
  double* shared_data_ = nullptr;
  size_t shared_cap_ = 0;  // events
  std::vector<char> stage_;
  // Buffers of their own for large pieces (place()), handed over with the batch.
  std::vector<napi_ref> own_;
  std::vector<BodySink> sinks_;  // few at a time: a linear scan
  std::vector<double> events_;
  std::vector<std::string> logs_;
  // The block strings of up to kScratchUnits UTF-16 units are encoded into,
  // reused from call to call until the core pins it (then it is the pin's,
  // and the next such string takes a new one).
  StringPool strings_;  // before the blocks that return to it
  StringBlock* scratch_ = nullptr;
  StringBlock* call_string_ = nullptr;  // during a reply call: its encoded string
  std::string header_scratch_;           // header blocks (latin1), a close reason
};

// Pieces this large get a Buffer of their own (Server::place).
constexpr size_t kOwnBufferFrom = 8 * 1024;

// The largest string the scratch block takes: its bytes are at most 3 a
// unit, so at most 48 KiB, and one N-API call always encodes it whole.
// Larger strings are larger than the core's 16 KiB copy limit (one byte a
// unit at least), so they are written from a block of their own.
constexpr size_t kScratchUnits = 16 * 1024;
constexpr size_t kScratchBytes = kScratchUnits * 3 + 1;
// A header block (or close reason) that grew the header scratch past this
// leaves it shrunk after the call: memory comes back after one huge head.
constexpr size_t kKeepHeaderScratch = 64 * 1024;

// After a reply call: the call's string block goes to whoever pinned it, or
// back; scratch that a pin holds is left to it.
inline void Server::call_done() {
  if (call_string_ != nullptr) {
    if (call_string_ != scratch_) {
      call_string_->unref();
    } else if (scratch_->refs > 1) {
      scratch_->unref();
      scratch_ = nullptr;
    }
    call_string_ = nullptr;
  }
  if (header_scratch_.size() > kKeepHeaderScratch) std::string().swap(header_scratch_);
}

// --max-headers' default, and the room left for CGI meta-variables above it.
constexpr uint32_t kDefaultMaxHeaders = 200;
constexpr uint32_t kCgiMetaVars = 56;

static uint32_t opt_u32(const Napi::Object& o, const char* key, uint32_t dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : dflt;
}

Server::Server(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Server>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction() ||
      !info[3].IsTypedArray()) {
    throw Napi::TypeError::New(env, "Server(options, onEvents, onLog, Float64Array)");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  LoopOptions opts;
  opts.limits.max_head = opt_u32(o, "maxHeaderSize", opts.limits.max_head);
  // One header-count limit for every protocol (--max-headers): HTTP's
  // fields, and over uwsgi/SCGI/FastCGI the HTTP_* variables plus room for
  // the CGI meta-variables a web server adds (nginx's params files set 15-20).
  opts.limits.max_headers = std::min<uint32_t>(opt_u32(o, "maxHeaders", kDefaultMaxHeaders), http1::kMaxHeadersCap);
  opts.max_cgi_vars = std::min<uint32_t>(opts.limits.max_headers + kCgiMetaVars, cgi::kMaxVarsCap);
  Napi::Value mb = o.Get("maxBodySize");
  if (mb.IsNumber()) opts.max_body = static_cast<uint64_t>(mb.As<Napi::Number>().DoubleValue());
  opts.header_timeout_ms = opt_u32(o, "headerTimeout", opts.header_timeout_ms);
  opts.keepalive_timeout_ms = opt_u32(o, "keepAliveTimeout", opts.keepalive_timeout_ms);
  opts.io_timeout_ms = opt_u32(o, "ioTimeout", opts.io_timeout_ms);
  opts.max_connections = opt_u32(o, "maxConnections", opts.max_connections);
  // One limit for every request head, as uWSGI's --buffer-size: the HTTP
  // header block and the uwsgi/SCGI variable block.
  opts.max_cgi_block = opts.limits.max_head;
  opts.out_high_water = opt_u32(o, "highWaterMark", static_cast<uint32_t>(opts.out_high_water));
  opts.out_low_water = opts.out_high_water / 4;
  Napi::Value wm = o.Get("wsMaxMessage");
  if (wm.IsNumber()) opts.ws_max_message = static_cast<uint64_t>(wm.As<Napi::Number>().DoubleValue());
  opts.ws_idle_timeout_ms = opt_u32(o, "wsIdleTimeout", opts.ws_idle_timeout_ms);
  opts.ws_close_timeout_ms = opt_u32(o, "wsCloseTimeout", opts.ws_close_timeout_ms);
  opts.ws_deflate.enabled = o.Get("wsCompression").ToBoolean().Value();
  on_events_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_log_ = Napi::Persistent(info[2].As<Napi::Function>());
  Napi::Float64Array shared = info[3].As<Napi::Float64Array>();
  shared_ = Napi::Persistent(shared);
  shared_data_ = shared.Data();
  shared_cap_ = shared.ElementLength() / kEventSlots;

  // Static files stand between the loop and this sink (static/responder.h).
  Sink* sink = this;
  if (o.Get("static").IsObject()) {
    files_ = std::make_unique<files::StaticFiles>(this, static_config(env, o.Get("static").As<Napi::Object>()));
    sink = files_.get();
  }
  loop_ = new Loop(sink, opts);
  loop_->set_pins(this);
  if (files_) files_->attach(loop_);
  // A throwing constructor runs no destructor: the loop is freed here.
  auto fail = [&](const std::string& msg) {
    delete loop_;
    loop_ = nullptr;
    return Napi::Error::New(env, msg);
  };
  if (!loop_->ok()) throw fail(std::string("cannot create the poller: ") + std::strerror(-loop_->poll_fd()));
  if (napi_get_uv_event_loop(env, &uv_) != napi_ok) throw fail("no libuv loop");
  loop_->set_now(uv_now(uv_));
  // A poller descriptor libuv cannot watch would be a server that never
  // wakes: refuse it here, loudly.
  const char* watch = "cannot watch the poller's descriptor in the event loop: ";
  poll_ = new uv_poll_t;
  if (int rc = uv_poll_init(uv_, poll_, loop_->poll_fd()); rc != 0) {
    delete poll_;  // not initialised: no uv_close
    poll_ = nullptr;
    throw fail(std::string(watch) + "uv_poll_init: " + uv_strerror(rc));
  }
  poll_->data = this;
  if (int rc = uv_poll_start(poll_, UV_READABLE, OnPoll); rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    throw fail(std::string(watch) + "uv_poll_start: " + uv_strerror(rc));
  }
  timer_ = new uv_timer_t;
  idle_ = new uv_idle_t;
  uv_timer_init(uv_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, OnTimer, 1000, 1000);
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
  uv_idle_init(uv_, idle_);
  idle_->data = this;
}

Server::~Server() {
  teardown();
  call_done();
  if (scratch_) scratch_->unref();
}

void Server::event(int type, double handle, double a, double b) {
  static_assert(kSlotType == 0 && kSlotHandle == 1 && kSlotA == 2 && kSlotB == 3 && kEventSlots == 4,
                "events are pushed in slot order");
  events_.push_back(type);
  events_.push_back(handle);
  events_.push_back(a);
  events_.push_back(b);
}

uint32_t Server::stage(const char* data, size_t len) {
  uint32_t off = static_cast<uint32_t>(stage_.size());
  stage_.insert(stage_.end(), data, data + len);
  return off;
}

// A piece of a body or a message as the event's offset into the batch, or,
// for a large one, -(i + 1): the i-th Buffer of its own, given to onEvents
// beside the batch. Staged, a piece is copied twice (into staging, then
// with the whole batch into its Buffer); a Buffer of its own is filled from
// the source, once, and the app may keep it without keeping the batch.
// Small pieces share the batch: one allocation for many.
double Server::place(const char* data, size_t len) {
  if (len < kOwnBufferFrom) return stage(data, len);
  char* mem = nullptr;
  napi_ref ref = new_buffer(len, &mem);
  if (ref == nullptr) return stage(data, len);  // no JavaScript memory now: the batch has room
  std::memcpy(mem, data, len);
  own_.push_back(ref);
  return -static_cast<double>(own_.size());
}

// A new Buffer of `len` bytes (not cleared), held by the reference returned,
// its memory at *data; or null, with no exception left pending, when V8
// cannot make one. Runs from the poll callback as well as inside calls from
// JS: it opens a handle scope of its own.
napi_ref Server::new_buffer(size_t len, char** data) {
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return nullptr;
  void* mem = nullptr;
  napi_value buf = nullptr;
  napi_ref ref = nullptr;
  if (napi_create_buffer(env_, len, &mem, &buf) != napi_ok || napi_create_reference(env_, buf, 1, &ref) != napi_ok) {
    ref = nullptr;
    napi_value ignored;
    bool pending = false;
    if (napi_is_exception_pending(env_, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env_, &ignored);
  }
  napi_close_handle_scope(env_, scope);
  *data = static_cast<char*>(mem);
  return ref;
}

void Server::on_request(Connection& c, double handle, const http1::RequestHead& h,
                        const char* head_bytes, uint32_t rec_flags) {
  // Align the record, then lay it out: words first, the bytes they point into after.
  size_t pad = (4 - stage_.size() % 4) % 4;
  stage_.resize(stage_.size() + pad);
  uint32_t rec = static_cast<uint32_t>(stage_.size());
  size_t words = kWordPairs + kPairWords * h.num_headers;
  stage_.resize(stage_.size() + words * 4);
  uint32_t head_off = stage(head_bytes, h.head_len);
  uint32_t* w = record_common(c, rec, head_off, h.flags | rec_flags, h.content_length, h.num_headers);
  slice(w, kWordMethod, h.method);
  slice(w, kWordTarget, h.target);
  slice(w, kWordPath, h.path);
  slice(w, kWordQuery, h.query);
  slice(w, kWordHost, h.host);
  for (uint32_t i = 0; i < h.num_headers; i++) {
    uint32_t* p = w + kWordPairs + kPairWords * i;
    slice(p, kPairName, h.headers[i].name);
    slice(p, kPairValue, h.headers[i].value);
  }
  event(kEvRequest, handle, rec, 0);
}

// The words both record kinds fill (napi/abi.h), the host strings staged
// after the head. Returns the record's words: staging may have moved them.
uint32_t* Server::record_common(Connection& c, uint32_t rec, uint32_t head_off, uint32_t flags,
                                uint64_t content_length, uint32_t count) {
  uint32_t peer_off = stage(c.peer_host.data(), c.peer_host.size());
  uint32_t local_off = stage(c.local_host.data(), c.local_host.size());
  uint32_t* w = reinterpret_cast<uint32_t*>(stage_.data() + rec);
  w[kWordHead] = head_off;
  w[kWordFlags] = flags;
  w[kWordLengthLo] = static_cast<uint32_t>(content_length & 0xffffffffu);
  w[kWordLengthHi] = static_cast<uint32_t>(content_length >> 32);
  w[kWordPeer] = peer_off;
  w[kWordPeer + 1] = static_cast<uint32_t>(c.peer_host.size());
  w[kWordPeerPort] = c.peer_port;
  w[kWordLocal] = local_off;
  w[kWordLocal + 1] = static_cast<uint32_t>(c.local_host.size());
  w[kWordLocalPort] = c.local_port;
  w[kWordListener] = c.listener;
  w[kWordCount] = count;
  return w;
}

// Same record as on_request; the pairs are the variables, METHOD..HOST unused.
void Server::on_cgi_request(Connection& c, double handle, const cgi::VarTable& vars, const char* head_bytes,
                            uint32_t head_len, uint64_t content_length, uint32_t rec_flags) {
  size_t pad = (4 - stage_.size() % 4) % 4;
  stage_.resize(stage_.size() + pad);
  uint32_t rec = static_cast<uint32_t>(stage_.size());
  size_t words = kWordPairs + kPairWords * vars.count;
  stage_.resize(stage_.size() + words * 4, 0);
  uint32_t head_off = stage(head_bytes, head_len);
  uint32_t* w = record_common(c, rec, head_off, rec_flags, content_length, vars.count);
  for (uint32_t i = 0; i < vars.count; i++) {
    uint32_t* p = w + kWordPairs + kPairWords * i;
    slice(p, kPairName, vars.vars[i].name);
    slice(p, kPairValue, vars.vars[i].value);
  }
  event(kEvRequest, handle, rec, 0);
}

void Server::on_body(double handle, const char* data, size_t len) {
  if (BodySink* d = sinks_.empty() ? nullptr : find_sink(handle)) {
    if (d->ref == nullptr) return;  // past the reader's limit: the rest is dropped
    if (len <= d->cap - d->filled) {
      // Read there by the core (body_room): already in place.
      if (data != d->data + d->filled) std::memcpy(d->data + d->filled, data, len);
      d->filled += len;
      if (d->fill && d->filled == d->cap) fill_done(d);
      return;
    }
    if (d->fill) {
      // More came at once than the reader's memory holds (what was buffered
      // when it asked, a chunk, a record): the rest goes to JS as a piece,
      // which the next read takes first.
      size_t take = d->cap - d->filled;
      std::memcpy(d->data + d->filled, data, take);
      d->filled += take;
      fill_done(d);
      event(kEvBody, handle, place(data + take, len - take), static_cast<double>(len - take));
      return;
    }
    if (d->grows) {
      if (len > d->limit - d->filled) {
        over_limit(d);
        return;
      }
      if (!grow_sink(d, d->filled + len)) return;
      std::memcpy(d->data + d->filled, data, len);
      d->filled += len;
      return;
    }
    // Never with a length the core framed the body by (kRecLengthKnown);
    // should it happen, the read fails rather than overrun the Buffer.
    log("request body longer than its stated length; the read fails");
    drop_sink(handle);
    event(kEvBodyError, handle, 400, 0);
    return;
  }
  event(kEvBody, handle, place(data, len), static_cast<double>(len));
}

// A body of unknown length outgrew its Buffer: a new one twice as large (or
// as large as `need`), never past the limit, takes the bytes so far. Doubling
// keeps the bytes copied by regrowth below the body's length.
bool Server::grow_sink(BodySink* d, size_t need) {
  size_t cap = d->cap < d->limit / 2 ? std::max(d->cap * 2, need) : d->limit;
  if (cap > d->limit) cap = d->limit;
  char* data = nullptr;
  napi_ref ref = new_buffer(cap, &data);
  if (ref == nullptr) {
    // Out of memory for it (or past what a Buffer may hold): the read fails
    // as for a body over the limit.
    log("cannot grow a request body's Buffer to " + std::to_string(cap) + " bytes; the read fails");
    over_limit(d);
    return false;
  }
  if (d->filled > 0) std::memcpy(data, d->data, d->filled);
  napi_delete_reference(env_, d->ref);
  d->ref = ref;
  d->data = data;
  d->cap = cap;
  return true;
}

// More body than the reader allows: its Buffer is let go, the read fails
// (BODY_ERROR, a 413 with b 1), and the sink stays, empty, to drop what still
// comes until the reply ends (the server's --max-body-size still bounds it);
// the rest is then discarded as any unread body is.
void Server::over_limit(BodySink* d) {
  napi_delete_reference(env_, d->ref);
  d->ref = nullptr;
  d->data = nullptr;
  d->cap = d->filled = 0;
  event(kEvBodyError, d->handle, 413, 1);
}

// The app's Buffer for a body read whole: the core reads the socket into it.
char* Server::body_room(double handle, size_t* room) {
  BodySink* d = sinks_.empty() ? nullptr : find_sink(handle);
  *room = d ? d->cap - d->filled : 0;
  return d && d->ref ? d->data + d->filled : nullptr;
}

// BODY_END's a: the bytes written into the destination, if one was given;
// b: for one the sink may have regrown, -(i + 1), the i-th Buffer of its own
// handed to onEvents with the batch (place()), else 0.
void Server::on_body_end(double handle) {
  double filled = 0;
  double grown = 0;
  if (BodySink* d = sinks_.empty() ? nullptr : find_sink(handle)) {
    filled = static_cast<double>(d->filled);
    if (d->grows && d->ref != nullptr) {
      // The reference passes to the batch, which releases it once the Buffer is an argument.
      own_.push_back(d->ref);
      grown = -static_cast<double>(own_.size());
      d->ref = nullptr;
    }
    drop_sink(handle);
  }
  event(kEvBodyEnd, handle, filled, grown);
}

// A readInto's memory is full, or took what came this turn (fill_partial):
// the read resolves with that many bytes, and the body pauses until the
// next one (the exchange stops handing its bytes over at once, so at most
// what arrived together spills past the memory, as a BODY piece).
void Server::fill_done(BodySink* d) {
  double handle = d->handle;
  double filled = static_cast<double>(d->filled);
  drop_sink(handle);
  event(kEvBodyRead, handle, filled, 0);
  if (loop_) loop_->read_body(handle, false);
}

// Before a batch goes to JS: a readInto that got some bytes but not its
// fill resolves with them, as a socket read does, rather than wait for more.
void Server::fill_partial() {
  for (size_t i = 0; i < sinks_.size();) {
    if (sinks_[i].fill && sinks_[i].filled > 0) {
      fill_done(&sinks_[i]);  // swaps the last sink into i
      continue;
    }
    i++;
  }
}

Server::BodySink* Server::find_sink(double handle) {
  for (BodySink& d : sinks_) {
    if (d.handle == handle) return &d;
  }
  return nullptr;
}

void Server::drop_sink(double handle) {
  for (size_t i = 0; i < sinks_.size(); i++) {
    if (sinks_[i].handle != handle) continue;
    if (sinks_[i].ref != nullptr) napi_delete_reference(env_, sinks_[i].ref);
    sinks_[i] = sinks_.back();
    sinks_.pop_back();
    return;
  }
}

void Server::on_data(double handle, const char* data, size_t len) {
  event(kEvData, handle, place(data, len), static_cast<double>(len));
}

void Server::deliver() {
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  if (!logs_.empty()) {
    std::vector<std::string> logs;
    logs.swap(logs_);
    for (const std::string& line : logs) {
      try {
        on_log_.MakeCallback(Value(), {Napi::String::New(env, line)});
      } catch (const Napi::Error& e) {
        napi_fatal_exception(env, e.Value());
      }
    }
  }
  if (!sinks_.empty()) fill_partial();
  if (events_.empty()) return;
  size_t count = events_.size() / kEventSlots;
  // A Buffer, not an ArrayBuffer: Node allocates a Buffer's memory without
  // zero-filling it, and every byte is about to be overwritten (an ArrayBuffer
  // would be cleared first: a memset as large as the bodies in the batch).
  Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::New(env, stage_.size() ? stage_.size() : 4);
  if (!stage_.empty()) std::memcpy(batch.Data(), stage_.data(), stage_.size());
  std::vector<napi_value> args{batch, Napi::Number::New(env, static_cast<double>(count))};
  if (count <= shared_cap_) {
    std::memcpy(shared_data_, events_.data(), events_.size() * sizeof(double));
    if (!own_.empty()) args.push_back(env.Undefined());
  } else {
    Napi::Float64Array big = Napi::Float64Array::New(env, events_.size());
    std::memcpy(big.Data(), events_.data(), events_.size() * sizeof(double));
    args.push_back(big);
  }
  if (!own_.empty()) {
    Napi::Array own = Napi::Array::New(env, own_.size());
    for (size_t i = 0; i < own_.size(); i++) {
      napi_value v = nullptr;
      napi_get_reference_value(env_, own_[i], &v);
      own.Set(static_cast<uint32_t>(i), Napi::Value(env, v));
      napi_delete_reference(env_, own_[i]);
    }
    own_.clear();
    args.push_back(own);
  }
  stage_.clear();
  events_.clear();
  delivering_ = true;
  try {
    on_events_.MakeCallback(Value(), args);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
  delivering_ = false;
}

// Delivers events, writes what the app produced, and repeats while that
// resumes pipelined input; bounded so one turn cannot run forever.
void Server::drain() {
  if (!loop_) return;
  for (int round = 0; round < 64; round++) {
    deliver();
    if (!loop_) return;  // closed from JS
    if (!loop_->has_dirty()) break;
    loop_->flush_dirty(true);
  }
  loop_->flush_dirty();  // writes what is left; also frees connections closed in this turn
  bool more = loop_->has_dirty() || !events_.empty() || !logs_.empty();
  if (more && !idle_on_) {
    uv_idle_start(idle_, OnIdle);
    idle_on_ = true;
  } else if (!more && idle_on_) {
    uv_idle_stop(idle_);
    idle_on_ = false;
  }
}

// A reply call made outside a batch (a promise settled later, a timer): make
// sure the loop comes back to write it this turn.
void Server::after_call() {
  if (delivering_ || !loop_ || idle_on_) return;
  uv_idle_start(idle_, OnIdle);
  idle_on_ = true;
}

void Server::OnPoll(uv_poll_t* h, int status, int events) {
  Server* s = static_cast<Server*>(h->data);
  if (!s->loop_) return;
  s->loop_->set_now(uv_now(s->uv_));
  s->loop_->run_ready();
  s->drain();
}

void Server::OnTimer(uv_timer_t* h) {
  Server* s = static_cast<Server*>(h->data);
  if (!s->loop_) return;
  s->loop_->sweep(uv_now(s->uv_));
  s->strings_.trim();
  s->drain();
}

void Server::OnIdle(uv_idle_t* h) {
  Server* s = static_cast<Server*>(h->data);
  if (!s->loop_) return;
  s->loop_->set_now(uv_now(s->uv_));
  s->drain();
}

// ---- calls from JS ---------------------------------------------------------

static double handle_arg(const Napi::CallbackInfo& info) {
  return info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
}

Napi::Value Server::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) throw Napi::Error::New(env, "server is closed");
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "listen({ address, protocol, mode, exclusive, allow })");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Loop::ListenSpec spec;
  spec.address = o.Get("address").ToString().Utf8Value();
  const uint32_t protocol = opt_u32(o, "protocol", static_cast<uint32_t>(Protocol::kHttp));
  bool known = false;
#define TSGI_X(name, key, value) known = known || protocol == value;
  TSGI_ABI_PROTOCOLS(TSGI_X)
#undef TSGI_X
  if (!known) throw Napi::TypeError::New(env, "unknown protocol");
  spec.protocol = static_cast<Protocol>(protocol);
  spec.mode = opt_u32(o, "mode", 0);
  Napi::Value owner = o.Get("owner");
  Napi::Value group = o.Get("group");
  spec.owner = owner.IsNumber() ? owner.As<Napi::Number>().Int64Value() : -1;
  spec.group = group.IsNumber() ? group.As<Napi::Number>().Int64Value() : -1;
  spec.exclusive = o.Get("exclusive").ToBoolean().Value();
  Napi::Value allow = o.Get("allow");
  if (allow.IsArray()) {
    Napi::Array a = allow.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) spec.allow.push_back(a.Get(i).ToString().Utf8Value());
  }
  std::string error;
  int index = loop_->listen(spec, &error);
  if (index < 0) {
    Napi::Error e = Napi::Error::New(env, error.empty() ? "cannot listen on " + spec.address : error);
    e.Set("code", Napi::String::New(env, "TSGI_ERR_LISTEN"));
    e.Set("errno", Napi::Number::New(env, -index));
    throw e;
  }
  const Listener* l = loop_->listener(static_cast<uint32_t>(index));
  Napi::Object r = Napi::Object::New(env);
  r.Set("index", index);
  r.Set("fd", l->fd);  // a master hands it to its workers
  r.Set("tcp", l->is_tcp);
  r.Set("host", l->bound_host);
  r.Set("port", l->bound_port);
  return r;
}


// Reads a JS string into `out` (UTF-8 or latin1), with one N-API call when it
// fits the buffer's current capacity (the common case), two when it does not.
// Header blocks and close reasons: small, copied by the core.
static const char* read_string(napi_env env, napi_value v, bool latin1, std::string* out, size_t* len) {
  if (out->size() < 4096) out->resize(4096);
  auto get = latin1 ? napi_get_value_string_latin1 : napi_get_value_string_utf8;
  get(env, v, &(*out)[0], out->size(), len);
  // Room left for any UTF-8 sequence means nothing was cut.
  if (*len + 4 < out->size()) return out->data();
  get(env, v, nullptr, 0, len);  // may have been cut short: size it exactly
  out->resize(*len + 1);
  get(env, v, &(*out)[0], out->size(), len);
  return out->data();
}

// Encodes a body string as UTF-8 for one reply call (call_done() after it):
// sized from its UTF-16 length (napi_get_value_string_utf16 without a buffer
// answers V8's String::Length(), O(1)), so one pass over it. A small one goes
// into the scratch block, which the core copies from; a large one into a
// block of its own, which the core writes from and pins (pin()) rather than
// copy what the socket did not take, so it is encoded once and not copied.
const char* Server::encode(napi_env env, napi_value v, size_t* len) {
  call_done();
  size_t units = 0;
  napi_get_value_string_utf16(env, v, nullptr, 0, &units);
  StringBlock* b = nullptr;
  if (units <= kScratchUnits) {
    if (!scratch_) scratch_ = strings_.take(kScratchBytes);
    b = scratch_;
  } else {
    b = strings_.take(units * 3 + 1);
  }
  if (!b) throw Napi::Error::New(env, "out of memory for a string body");
  // V8 writes U+FFFD for a lone surrogate: 3 bytes, as the bound allows.
  napi_get_value_string_utf8(env, v, b->data(), b->cap, &b->len);
  call_string_ = b;
  *len = b->len;
  return b->data();
}

// A body chunk argument (string or Uint8Array) as bytes: strings encoded
// (encode()), typed arrays where they lie. False for anything else.
bool Server::chunk_arg(Napi::Env env, Napi::Value v, const char** data, size_t* len) {
  if (v.IsString()) {
    *data = encode(env, v, len);
    return true;
  }
  if (v.IsTypedArray()) {
    Napi::Uint8Array u = v.As<Napi::Uint8Array>();
    *data = reinterpret_cast<const char*>(u.Data());
    *len = u.ByteLength();
    return true;
  }
  return false;
}

Napi::Value Server::Respond(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, kReplyGone);
  double handle = handle_arg(info);
  int status = info[1].As<Napi::Number>().Int32Value();
  const char* headers = nullptr;
  size_t headers_len = 0;
  if (info[2].IsString()) headers = read_string(env, info[2], true, &header_scratch_, &headers_len);
  int64_t content_length = info[4].IsNumber() ? info[4].As<Napi::Number>().Int64Value() : -1;
  uint32_t flags = info[5].IsNumber() ? info[5].As<Napi::Number>().Uint32Value() : 0;
  const char* body = nullptr;
  size_t body_len = 0;
  chunk_arg(env, info[3], &body, &body_len);  // anything else: no body
  // A whole body, or a chunk its caller promises to leave unchanged (KEPT):
  // what the socket does not take stays in the caller's memory.
  if ((flags & (kReplyEnd | kReplyKept)) && info[3].IsTypedArray()) pin_value_ = info[3];
  int rc = loop_->respond(handle, status, headers, headers_len, body, body_len, content_length, flags);
  pin_value_ = nullptr;
  call_done();
  // A reply that ends leaves the rest of the body unread (discarded).
  if ((flags & kReplyEnd) && !sinks_.empty()) drop_sink(handle);
  after_call();
  return Napi::Number::New(env, rc);
}

Napi::Value Server::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, kReplyGone);
  double handle = handle_arg(info);
  const char* data = nullptr;
  size_t len = 0;
  if (!chunk_arg(env, info[1], &data, &len)) throw Napi::TypeError::New(env, "write(handle, string | Uint8Array[, flags])");
  uint32_t flags = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  if ((flags & kReplyKept) && info[1].IsTypedArray()) pin_value_ = info[1];
  int rc = loop_->write(handle, data, len);
  pin_value_ = nullptr;
  call_done();
  after_call();
  return Napi::Number::New(env, rc);
}

Napi::Value Server::End(const Napi::CallbackInfo& info) {
  if (!loop_) return Napi::Number::New(info.Env(), kReplyGone);
  if (!sinks_.empty()) drop_sink(handle_arg(info));
  int rc = loop_->end(handle_arg(info));
  after_call();
  return Napi::Number::New(info.Env(), rc);
}

// A sink for `u`, the app's memory, which the core reads the body into.
void Server::add_sink(Napi::Env env, double handle, Napi::Uint8Array u, bool grows, size_t limit, bool fill) {
  napi_ref ref = nullptr;
  if (napi_create_reference(env_, u, 1, &ref) != napi_ok) throw Napi::Error::New(env, "reading the body: no reference");
  sinks_.push_back(BodySink{handle, ref, reinterpret_cast<char*>(u.Data()), u.ByteLength(), 0, grows, limit, fill});
}

// Deliver or hold the body, for readBody and readInto: a sink given to a
// request that is gone goes with it.
Napi::Value Server::flow_body(Napi::Env env, double handle, bool flowing) {
  int rc = loop_->read_body(handle, flowing);
  if (rc == kReplyGone) drop_sink(handle);
  after_call();
  return Napi::Number::New(env, rc);
}

// readBody(handle, flowing[, destination[, limit]]): with a Uint8Array of
// the body's stated length, the body is written into it and BODY_END says how
// much. With a limit too, the body's length is unknown: the Buffer is a first
// one, regrown as the body needs up to the limit (past it the read fails),
// and BODY_END names the last one in the batch call's list.
Napi::Value Server::ReadBody(const Napi::CallbackInfo& info) {
  if (!loop_) return Napi::Number::New(info.Env(), kReplyGone);
  double handle = handle_arg(info);
  if (info.Length() > 2 && info[2].IsTypedArray() && !find_sink(handle)) {
    Napi::Uint8Array u = info[2].As<Napi::Uint8Array>();
    bool grows = info.Length() > 3 && info[3].IsNumber();
    size_t limit = u.ByteLength();
    if (grows) {
      double l = info[3].As<Napi::Number>().DoubleValue();
      // NaN and negatives as 0; anything past what a size holds as no limit.
      limit = !(l > 0) ? 0 : l >= 18446744073709551615.0 ? SIZE_MAX : static_cast<size_t>(l);
      if (limit < u.ByteLength()) throw Napi::RangeError::New(info.Env(), "readBody: a Buffer longer than the limit");
    }
    add_sink(info.Env(), handle, u, grows, limit, false);
  }
  return flow_body(info.Env(), handle, info[1].ToBoolean().Value());
}

// readInto(handle, into): the body's next bytes go into `into` (from its
// start): read from the socket straight there when none are buffered. The
// BODY_READ event says how many, once it is full or at the end of the turn
// that brought some; BODY_END, with the count, if the body ended first.
Napi::Value Server::ReadInto(const Napi::CallbackInfo& info) {
  if (!loop_) return Napi::Number::New(info.Env(), kReplyGone);
  double handle = handle_arg(info);
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "readInto(handle, Uint8Array)");
  }
  Napi::Uint8Array u = info[1].As<Napi::Uint8Array>();
  if (u.ByteLength() == 0) throw Napi::RangeError::New(info.Env(), "readInto: an empty Uint8Array");
  if (find_sink(handle)) throw Napi::Error::New(info.Env(), "readInto: the body is already being read into memory");
  add_sink(info.Env(), handle, u, false, u.ByteLength(), true);
  return flow_body(info.Env(), handle, true);
}

// writeFile(handle, fd, offset, length, shared): the core owns fd from here
// on; with `shared` (a sealed body's descriptor, which many replies send at
// once) it takes a duplicate of its own and the caller keeps fd.
Napi::Value Server::WriteFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "writeFile(handle, fd, offset, length, shared)");
  }
  int fd = info[1].As<Napi::Number>().Int32Value();
  double offset = info[2].As<Napi::Number>().DoubleValue();
  double length = info[3].As<Napi::Number>().DoubleValue();
  bool shared = info.Length() > 4 && info[4].ToBoolean().Value();
  if (fd < 0 || !(offset >= 0) || !(length >= 0) || offset > 9007199254740991.0 || length > 9007199254740991.0) {
    throw Napi::RangeError::New(env, "writeFile: bad fd, offset or length");
  }
  if (!loop_) {
    if (!shared) close(fd);
    return Napi::Number::New(env, kReplyGone);
  }
  if (shared) {
    fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      throw Napi::Error::New(env, std::string("writeFile: cannot duplicate the descriptor: ") + std::strerror(errno));
    }
  }
  int rc = loop_->write_file(handle_arg(info), fd, static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  after_call();
  return Napi::Number::New(env, rc);
}

// An app's X-Sendfile / X-Accel-Redirect reply (static/responder.h).
Napi::Value Server::Offload(const Napi::CallbackInfo& info) {
  if (!loop_ || !files_) return Napi::Number::New(info.Env(), kReplyGone);
  int rc = static_offload(files_.get(), info);
  after_call();
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value Server::ReadData(const Napi::CallbackInfo& info) {
  if (!loop_) return Napi::Number::New(info.Env(), kReplyGone);
  int rc = loop_->read_data(handle_arg(info), info[1].ToBoolean().Value());
  after_call();
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value Server::WriteStderr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, kReplyGone);
  double handle = handle_arg(info);
  const char* data = nullptr;
  size_t len = 0;
  if (!chunk_arg(env, info[1], &data, &len)) throw Napi::TypeError::New(env, "writeStderr(handle, string | Uint8Array)");
  int rc = loop_->write_stderr(handle, data, len);
  call_done();
  after_call();
  return Napi::Number::New(env, rc);
}

Napi::Value Server::Abort(const Napi::CallbackInfo& info) {
  if (!loop_) return Napi::Number::New(info.Env(), kReplyGone);
  if (!sinks_.empty()) drop_sink(handle_arg(info));
  int rc = loop_->abort(handle_arg(info));
  after_call();
  return Napi::Number::New(info.Env(), rc);
}

// upgrade(handle, kind, headerBlock): the request's connection switches
// protocols (UpgradeKind); a WebSocket's 101 carries headerBlock's fields.
Napi::Value Server::Upgrade(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, kReplyGone);
  double handle = handle_arg(info);
  int kind = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
  const char* headers = nullptr;
  size_t headers_len = 0;
  if (info[2].IsString()) headers = read_string(env, info[2], true, &header_scratch_, &headers_len);
  int rc = loop_->upgrade(handle, kind, headers, headers_len);
  call_done();
  after_call();
  return Napi::Number::New(env, rc);
}

// wsSend(handle, string | Uint8Array, flags): one message (WsFlags).
Napi::Value Server::WsSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, kReplyGone);
  double handle = handle_arg(info);
  const char* data = nullptr;
  size_t len = 0;
  if (!chunk_arg(env, info[1], &data, &len)) throw Napi::TypeError::New(env, "wsSend(handle, string | Uint8Array, flags)");
  uint32_t flags = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  int rc = loop_->ws_send(handle, data, len, flags);
  call_done();
  after_call();
  return Napi::Number::New(env, rc);
}

// wsPublish(Float64Array handles, string | Uint8Array, flags): one message to
// each; returns how many took it.
Napi::Value Server::WsPublish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_ || !info[0].IsTypedArray()) return Napi::Number::New(env, 0);
  Napi::Float64Array handles = info[0].As<Napi::Float64Array>();
  const char* data = nullptr;
  size_t len = 0;
  if (!chunk_arg(env, info[1], &data, &len)) throw Napi::TypeError::New(env, "wsPublish(handles, string | Uint8Array, flags)");
  uint32_t flags = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  size_t n = loop_->ws_publish(handles.Data(), handles.ElementLength(), data, len, flags);
  call_done();
  after_call();
  return Napi::Number::New(env, static_cast<double>(n));
}

// ref(bool): whether the server keeps Node's event loop alive (node:http's
// server.ref()/unref()): the poller's watch counts, or not.
Napi::Value Server::Ref(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) {
    if (info[0].ToBoolean().Value()) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  return info.Env().Undefined();
}

// wsCounters(): [messages in, messages out, bytes in, bytes out] of the
// WebSockets so far, counted by the core (no JS work per message).
Napi::Value Server::WsCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, 4);
  Loop::WsCounters none;
  const Loop::WsCounters& n = loop_ ? loop_->ws_counters() : none;
  a.Set(0u, static_cast<double>(n.messages_in));
  a.Set(1u, static_cast<double>(n.messages_out));
  a.Set(2u, static_cast<double>(n.bytes_in));
  a.Set(3u, static_cast<double>(n.bytes_out));
  return a;
}

Napi::Value Server::Retract(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), loop_ ? loop_->retract(handle_arg(info)) : kReplyGone);
}

Napi::Value Server::Queued(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), loop_ ? static_cast<double>(loop_->queued(handle_arg(info))) : 0);
}

// wsClose(handle, code, reason): starts the close handshake (code 0: none).
Napi::Value Server::WsClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, kReplyGone);
  double handle = handle_arg(info);
  uint32_t code = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  const char* reason = nullptr;
  size_t reason_len = 0;
  if (info[2].IsString()) reason = read_string(env, info[2], false, &header_scratch_, &reason_len);
  int rc = code > 0xffff ? kReplyGone : loop_->ws_close(handle, static_cast<uint16_t>(code), reason, reason_len);
  call_done();
  after_call();
  return Napi::Number::New(env, rc);
}

Napi::Value Server::StopListening(const Napi::CallbackInfo& info) {
  if (loop_) loop_->stop_listening();
  return info.Env().Undefined();
}

Napi::Value Server::CloseIdle(const Napi::CallbackInfo& info) {
  // closeIdle(true): only the idle connections, the server goes on.
  size_t n = loop_ ? loop_->close_idle(!info[0].ToBoolean().Value()) : 0;
  after_call();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Server::DestroyAll(const Napi::CallbackInfo& info) {
  if (loop_) loop_->destroy_all();
  after_call();
  return info.Env().Undefined();
}

Napi::Value Server::ConnectionCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), loop_ ? static_cast<double>(loop_->connection_count()) : 0);
}

// Stops everything and releases the libuv handles so the process may exit.
void Server::teardown() {
  if (!loop_) return;
  loop_->stop_listening();
  loop_->destroy_all();
  events_.clear();
  stage_.clear();
  logs_.clear();
  for (napi_ref r : own_) napi_delete_reference(env_, r);
  own_.clear();
  for (BodySink& d : sinks_) {
    if (d.ref != nullptr) napi_delete_reference(env_, d.ref);
  }
  sinks_.clear();
  uv_poll_stop(poll_);
  uv_timer_stop(timer_);
  uv_idle_stop(idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(idle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  poll_ = nullptr;
  timer_ = nullptr;
  idle_ = nullptr;
  // libuv stopped watching the poller fd above, so the loop (and fd) can go.
  delete loop_;
  loop_ = nullptr;
  files_.reset();
  strings_.clear();  // the pins went with the loop
}

Napi::Value Server::Close(const Napi::CallbackInfo& info) {
  teardown();
  return info.Env().Undefined();
}

Napi::Function Server::Define(Napi::Env env) {
  return DefineClass(env, "Server", {
    InstanceMethod<&Server::Listen>("listen"),
    InstanceMethod<&Server::Respond>("respond"),
    InstanceMethod<&Server::Write>("write"),
    InstanceMethod<&Server::End>("end"),
    InstanceMethod<&Server::ReadBody>("readBody"),
    InstanceMethod<&Server::ReadInto>("readInto"),
    InstanceMethod<&Server::ReadData>("readData"),
    InstanceMethod<&Server::WriteFile>("writeFile"),
    InstanceMethod<&Server::WriteStderr>("writeStderr"),
    InstanceMethod<&Server::Offload>("offload"),
    InstanceMethod<&Server::Abort>("abort"),
    InstanceMethod<&Server::Upgrade>("upgrade"),
    InstanceMethod<&Server::WsSend>("wsSend"),
    InstanceMethod<&Server::WsPublish>("wsPublish"),
    InstanceMethod<&Server::WsClose>("wsClose"),
    InstanceMethod<&Server::Queued>("queued"),
    InstanceMethod<&Server::Retract>("retract"),
    InstanceMethod<&Server::WsCounters>("wsCounters"),
    InstanceMethod<&Server::Ref>("ref"),
    InstanceMethod<&Server::StopListening>("stopListening"),
    InstanceMethod<&Server::CloseIdle>("closeIdle"),
    InstanceMethod<&Server::DestroyAll>("destroyAll"),
    InstanceMethod<&Server::ConnectionCount>("connectionCount"),
    InstanceMethod<&Server::Close>("close"),
  });
}

// sdNotify(socket, message): systemd readiness (net/notify.h). 0 or -errno.
static Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "sdNotify(socket, message)");
  }
  int rc = net::sd_notify(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value());
  return Napi::Number::New(env, rc);
}

// listeningSocket(fd): { tcp } if fd is a listening stream socket, else null.
// tsgi started by a web server (spawn-fcgi, mod_fcgid, lighttpd bin-path)
// finds its FastCGI socket on fd 0 this way.
static Napi::Value ListeningSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "listeningSocket(fd)");
  bool is_tcp = false;
  std::string error;
  if (net::inspect_listening(info[0].As<Napi::Number>().Int32Value(), &is_tcp, &error) < 0) return env.Null();
  Napi::Object r = Napi::Object::New(env);
  r.Set("tcp", is_tcp);
  return r;
}

// dupListener(fd): a close-on-exec copy of a listening socket's fd, for one
// more server (a --threads thread) to own; closing it leaves the others open.
// listen({address: 'fd:N'}) keeps taking over the fd it is given, so every
// owner stays explicit.
static Napi::Value DupListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "dupListener(fd)");
  std::string error;
  int fd = net::dup_listener(info[0].As<Napi::Number>().Int32Value(), &error);
  if (fd < 0) {
    Napi::Error e = Napi::Error::New(env, error);
    e.Set("code", Napi::String::New(env, "TSGI_ERR_LISTEN"));
    throw e;
  }
  return Napi::Number::New(env, fd);
}

// bindListener({ address, mode, owner, group }): a listening socket bound as
// listen() binds one (address forms, stale-socket check, mode and owner set
// before listen()), but watched by no loop and owned by the caller: a master
// binds its listeners so and hands the fds to its workers. { fd, tcp, host,
// port, path }: path is the unix socket file to unlink after closing fd.
static Napi::Value BindListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "bindListener({ address, mode, owner, group })");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  std::string address = o.Get("address").ToString().Utf8Value();
  net::ListenOptions lo;
  lo.mode = opt_u32(o, "mode", 0);
  Napi::Value owner = o.Get("owner");
  Napi::Value group = o.Get("group");
  lo.owner = owner.IsNumber() ? owner.As<Napi::Number>().Int64Value() : -1;
  lo.group = group.IsNumber() ? group.As<Napi::Number>().Int64Value() : -1;
  std::string error;
  net::Address addr;
  int fd = net::parse_address(address, &addr, &error) ? net::listen_on(addr, lo, &error) : -EINVAL;
  bool is_tcp = addr.kind == net::AddrKind::kTcp;
  if (fd >= 0 && addr.kind == net::AddrKind::kFd && net::inspect_listening(fd, &is_tcp, &error) < 0) fd = -EINVAL;
  if (fd < 0) {
    Napi::Error e = Napi::Error::New(env, error.empty() ? "cannot listen on " + address : error);
    e.Set("code", Napi::String::New(env, "TSGI_ERR_LISTEN"));
    e.Set("errno", Napi::Number::New(env, -fd));
    throw e;
  }
  std::string host;
  uint16_t port = 0;
  if (is_tcp) {
    (void)net::set_nodelay(fd);  // inherited by accepted sockets on Linux
    net::local_name(fd, &host, &port);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("fd", fd);
  r.Set("tcp", is_tcp);
  r.Set("host", host);
  r.Set("port", port);
  r.Set("path", addr.kind == net::AddrKind::kUnix ? addr.host : std::string());
  return r;
}

// binding.abi: every list of napi/abi.h, JS key -> value, in its order.
static Napi::Object Abi(Napi::Env env) {
  Napi::Object abi = Napi::Object::New(env);
  Napi::Object o;
#define TSGI_X(name, key, value) o.Set(#key, static_cast<double>(value));
#define TSGI_LIST(js, LIST) \
  o = Napi::Object::New(env); \
  LIST(TSGI_X)                \
  abi.Set(js, o);
  TSGI_LIST("events", TSGI_ABI_EVENTS)
  TSGI_LIST("eventSlots", TSGI_ABI_EVENT_SLOTS)
  TSGI_LIST("record", TSGI_ABI_RECORD)
  TSGI_LIST("pair", TSGI_ABI_PAIR)
  o = Napi::Object::New(env);
  TSGI_ABI_HEAD_FLAGS(TSGI_X)
  TSGI_ABI_RECORD_FLAGS(TSGI_X)
  abi.Set("recordFlags", o);
  TSGI_LIST("reply", TSGI_ABI_REPLY)
  TSGI_LIST("replyFlags", TSGI_ABI_REPLY_FLAGS)
  TSGI_LIST("upgrades", TSGI_ABI_UPGRADES)
  TSGI_LIST("wsFlags", TSGI_ABI_WS_FLAGS)
  TSGI_LIST("protocols", TSGI_ABI_PROTOCOLS)
#undef TSGI_LIST
#undef TSGI_X
  return abi;
}

// binding.errors: each framer's error list, name -> text, in enum order, made
// from the list in its header, so a test names every error without a copy.
static Napi::Object ErrorLists(Napi::Env env) {
  Napi::Object all = Napi::Object::New(env);
  Napi::Object o = Napi::Object::New(env);
#define TSGI_X(name, text) o.Set(#name, text);
  TSGI_UWSGI_ERRORS(TSGI_X)
  all.Set("uwsgi", o);
  o = Napi::Object::New(env);
  TSGI_SCGI_ERRORS(TSGI_X)
  all.Set("scgi", o);
#undef TSGI_X
  o = Napi::Object::New(env);
#define TSGI_X(name, status, text) o.Set(#name, text);
  TSGI_FASTCGI_ERRORS(TSGI_X)
#undef TSGI_X
  all.Set("fastcgi", o);
  return all;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("listeningSocket", Napi::Function::New(env, ListeningSocket));
  exports.Set("dupListener", Napi::Function::New(env, DupListener));
  exports.Set("bindListener", Napi::Function::New(env, BindListener));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
  exports.Set("Server", Server::Define(env));
  exports.Set("abi", Abi(env));
  exports.Set("errors", ErrorLists(env));
  InitPlatform(env, exports);
  return exports;
}

}  // namespace tsgi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tsgi::Init(env, exports); }

NODE_API_MODULE(tsgi, InitAddon)
