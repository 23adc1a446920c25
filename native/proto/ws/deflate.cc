// permessage-deflate's compression and decompression; see deflate.h.
// Sections are RFC 7692's unless named otherwise.
//
// zlib.h comes from Node's own headers in the addons (Node exports zlib's
// symbols, so no zlib is linked into them) and from the system's in the
// standalone fuzz build, which links libz.
#include "proto/ws/deflate.h"

#include <zlib.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "proto/ws/utf8.h"

namespace tsgi::ws {
namespace {

struct Entry {
  const char* name;
  const char* text;
  uint16_t code;
};

constexpr Entry kEntries[] = {
#define TSGI_X(name, code, text) {#name, text, code},
    TSGI_WS_DEFLATE_RESULTS(TSGI_X)
#undef TSGI_X
};

// 7.2.2: what a sender removed (7.2.1) and a receiver appends.
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};

// Every zlib allocation is counted into the owner's memory_, so memory()
// is what the connection holds, not an estimate. The size rides in front.
constexpr size_t kHeader = alignof(std::max_align_t) > sizeof(size_t) ? alignof(std::max_align_t) : sizeof(size_t);

void* counted_alloc(void* opaque, uInt items, uInt size) {
  const size_t n = size_t(items) * size;
  char* p = static_cast<char*>(std::malloc(kHeader + n));
  if (p == nullptr) return Z_NULL;
  std::memcpy(p, &n, sizeof n);
  *static_cast<size_t*>(opaque) += n;
  return p + kHeader;
}

void counted_free(void* opaque, void* address) {
  if (address == nullptr) return;
  char* p = static_cast<char*>(address) - kHeader;
  size_t n;
  std::memcpy(&n, p, sizeof n);
  *static_cast<size_t*>(opaque) -= n;
  std::free(p);
}

z_stream* new_stream(size_t* memory) {
  z_stream* z = new (std::nothrow) z_stream;
  if (z == nullptr) return nullptr;
  std::memset(z, 0, sizeof *z);
  z->zalloc = counted_alloc;
  z->zfree = counted_free;
  z->opaque = memory;
  *memory += sizeof *z;
  return z;
}

void delete_stream(z_stream* z, size_t* memory) {
  delete z;
  *memory -= sizeof *z;
}

uInt clamp_uint(size_t n) { return n > UINT_MAX ? UINT_MAX : uInt(n); }

}  // namespace

const char* result_name(DeflateResult r) { return kEntries[static_cast<uint8_t>(r)].name; }
const char* result_text(DeflateResult r) { return kEntries[static_cast<uint8_t>(r)].text; }
uint16_t close_code(DeflateResult r) { return kEntries[static_cast<uint8_t>(r)].code; }

// ---------------------------------------------------------------- Inflater

Inflater::~Inflater() { release(); }

void Inflater::release() {
  if (z_ == nullptr) return;
  inflateEnd(z_);
  delete_stream(z_, &memory_);
  z_ = nullptr;
  boundary_ = true;
  ended_ = restart_ = false;
}

DeflateResult Inflater::fail(DeflateResult r) {
  if (error_ == DeflateResult::kOk) error_ = r;
  return error_;
}

void Inflater::begin(bool text) {
  // A stream that ended with BFINAL starts again with this message.
  if (ended_) restart_ = true;
  ended_ = false;
  text_ = text;
  utf8_ = utf8::kAccept;
  out_ = 0;
  in_ = 0;
}

DeflateResult Inflater::feed(const char* in, size_t len, Sink& sink) {
  if (error_ != DeflateResult::kOk) return error_;
  in_ += len;
  return run(reinterpret_cast<const unsigned char*>(in), len, sink);
}

DeflateResult Inflater::finish(Sink& sink) {
  if (error_ != DeflateResult::kOk) return error_;
  // After a final block the tail is not read (7.2.3.4); a new stream
  // starts with the next message.
  if (!ended_) {
    const DeflateResult r = run(kTail, sizeof kTail, sink);
    if (r != DeflateResult::kOk) return r;
    // With the tail the data must end between blocks: a message cut inside
    // one (or an empty payload, which 7.2.1 never makes: it sends 00) is
    // not a message.
    if (!ended_ && !boundary_) return fail(DeflateResult::kBadData);
  }
  if (text_ && utf8_ != utf8::kAccept) return fail(DeflateResult::kBadUtf8);
  // 7.1.1.2: the client starts each message with an empty window.
  if (cfg_.no_context_takeover && !ended_ && inflateReset(z_) != Z_OK) return fail(DeflateResult::kBadData);
  return DeflateResult::kOk;
}

// The limit is checked before a chunk reaches the sink, so a bomb costs at
// most max_message bytes of the caller's memory and one chunk of stack. The
// first offending byte decides: UTF-8 is checked up to the limit, then the
// limit, so the result does not depend on how the output was chunked.
DeflateResult Inflater::emit(const unsigned char* p, size_t n, Sink& sink) {
  const uint64_t room = cfg_.max_message - out_;
  const size_t within = n > room ? size_t(room) : n;
  if (text_) {
    uint8_t s = utf8_;
    for (size_t i = 0; i < within && s != utf8::kReject; ++i) s = utf8::step(s, p[i]);
    utf8_ = s;
    if (s == utf8::kReject) return DeflateResult::kBadUtf8;
  }
  if (within < n) return DeflateResult::kTooBig;
  out_ += n;
  return sink.append(reinterpret_cast<const char*>(p), n) ? DeflateResult::kOk : DeflateResult::kSinkFailed;
}

// A block with BFINAL set ends the DEFLATE stream (7.2.3.4); the next
// message starts a new one, which keeps the window (the last 2^window_bits
// bytes) unless the peer agreed to drop it.
DeflateResult Inflater::restart() {
  restart_ = false;
  if (cfg_.no_context_takeover) return inflateReset(z_) == Z_OK ? DeflateResult::kOk : DeflateResult::kBadData;
  std::unique_ptr<unsigned char[]> dict(new (std::nothrow) unsigned char[size_t(1) << cfg_.window_bits]);
  if (!dict) return DeflateResult::kNoMemory;
  uInt n = 0;
  if (inflateGetDictionary(z_, dict.get(), &n) != Z_OK || inflateReset(z_) != Z_OK ||
      (n > 0 && inflateSetDictionary(z_, dict.get(), n) != Z_OK))
    return DeflateResult::kBadData;
  return DeflateResult::kOk;
}

DeflateResult Inflater::run(const unsigned char* in, size_t len, Sink& sink) {
  if (z_ == nullptr) {
    z_ = new_stream(&memory_);
    if (z_ == nullptr) return fail(DeflateResult::kNoMemory);
    // Raw DEFLATE (negative bits): 7.2 carries no zlib header.
    if (inflateInit2(z_, -int(cfg_.window_bits)) != Z_OK) {
      delete_stream(z_, &memory_);
      z_ = nullptr;
      return fail(DeflateResult::kNoMemory);
    }
  }
  if (restart_) {
    const DeflateResult r = restart();
    if (r != DeflateResult::kOk) return fail(r);
  }
  // 7.2.2 decompresses "using DEFLATE", which ends at the final block: the
  // rest of the message (the RFC's own example sends a byte more) is unread.
  if (ended_) return DeflateResult::kOk;
  unsigned char buf[kChunk];
  size_t left = len;
  z_->next_in = const_cast<unsigned char*>(in);
  z_->avail_in = 0;
  for (;;) {
    if (z_->avail_in == 0 && left > 0) {
      z_->avail_in = clamp_uint(left);
      left -= z_->avail_in;
    }
    z_->next_out = buf;
    z_->avail_out = kChunk;
    const int ret = inflate(z_, Z_SYNC_FLUSH);
    const size_t got = kChunk - z_->avail_out;
    if (got > 0) {
      const DeflateResult r = emit(buf, got, sink);
      if (r != DeflateResult::kOk) return fail(r);
    }
    if (ret == Z_STREAM_END) {
      ended_ = true;
      boundary_ = true;
      return DeflateResult::kOk;
    }
    if (ret == Z_MEM_ERROR) return fail(DeflateResult::kNoMemory);
    if (ret != Z_OK && ret != Z_BUF_ERROR) return fail(DeflateResult::kBadData);
    // zlib's data_type: 128 when it stopped right after a block's end.
    boundary_ = (z_->data_type & 128) != 0;
    if (z_->avail_out == 0) continue;  // more output is waiting
    if (z_->avail_in == 0 && left == 0) return DeflateResult::kOk;
    if (ret == Z_BUF_ERROR) return fail(DeflateResult::kBadData);  // no progress with input left
  }
}

// ---------------------------------------------------------------- Deflater

Deflater::~Deflater() { release(); }

void Deflater::release() {
  if (z_ == nullptr) return;
  deflateEnd(z_);
  delete_stream(z_, &memory_);
  z_ = nullptr;
}

DeflateResult Deflater::compress(const char* msg, size_t len, Sink& sink) {
  // 7.2.3.6: an empty message is an empty stored block, tail removed. zlib
  // would write nothing for it after a flush (no new input), so it is ours.
  if (len == 0) return sink.append("", 1) ? DeflateResult::kOk : DeflateResult::kSinkFailed;
  if (z_ == nullptr) {
    z_ = new_stream(&memory_);
    if (z_ == nullptr) return DeflateResult::kNoMemory;
    // zlib refuses a raw window of 8 bits: 9 never refers back more than
    // 250 bytes (its window less MIN_LOOKAHEAD, 262), so a peer that holds
    // us to 8 (256 bytes) still reads every stream.
    const int bits = cfg_.window_bits < 9 ? 9 : cfg_.window_bits;
    if (deflateInit2(z_, cfg_.level, Z_DEFLATED, -bits, cfg_.mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
      delete_stream(z_, &memory_);
      z_ = nullptr;
      return DeflateResult::kNoMemory;
    }
  }
  unsigned char buf[kChunk];
  unsigned char held[4];  // 7.2.1: the last four bytes, sent only if not the tail
  size_t held_n = 0;
  size_t left = len;
  z_->next_in = reinterpret_cast<unsigned char*>(const_cast<char*>(msg));
  z_->avail_in = 0;
  for (;;) {
    if (z_->avail_in == 0 && left > 0) {
      z_->avail_in = clamp_uint(left);
      left -= z_->avail_in;
    }
    const bool last = left == 0;
    z_->next_out = buf;
    z_->avail_out = kChunk;
    const int ret = deflate(z_, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
    if (ret == Z_STREAM_ERROR) return DeflateResult::kBadData;
    const size_t got = kChunk - z_->avail_out;
    const size_t total = held_n + got;
    if (total > 4) {
      const size_t send = total - 4;
      const size_t from_held = send < held_n ? send : held_n;
      if (from_held && !sink.append(reinterpret_cast<char*>(held), from_held)) return DeflateResult::kSinkFailed;
      if (send > from_held && !sink.append(reinterpret_cast<char*>(buf), send - from_held))
        return DeflateResult::kSinkFailed;
      unsigned char next[4];
      size_t k = 0;
      for (size_t i = from_held; i < held_n; ++i) next[k++] = held[i];
      for (size_t i = send - from_held; i < got; ++i) next[k++] = buf[i];
      std::memcpy(held, next, 4);
      held_n = 4;
    } else {
      std::memcpy(held + held_n, buf, got);
      held_n = total;
    }
    if (last && z_->avail_in == 0 && z_->avail_out != 0) break;
  }
  // A sync flush always ends in the tail; were it not there, 7.2.1 would
  // have us append one and remove it again: the bytes go out as they are.
  if (!(held_n == 4 && std::memcmp(held, kTail, 4) == 0) && held_n > 0 &&
      !sink.append(reinterpret_cast<char*>(held), held_n))
    return DeflateResult::kSinkFailed;
  // 7.1.1.1: each message from an empty window.
  if (cfg_.no_context_takeover && deflateReset(z_) != Z_OK) return DeflateResult::kBadData;
  return DeflateResult::kOk;
}

}  // namespace tsgi::ws
