// permessage-deflate (RFC 7692 7.2) on one connection's messages, with zlib:
// an Inflater for what the client sends, a Deflater for what the server
// sends. Pure: bytes in, bytes to a caller's Sink, no I/O. zlib.h is not
// included here; its state is allocated on the first compressed message and
// can be given back between messages (release()), so an idle connection
// holds only these objects (under 100 bytes each).
//
// Memory, counted: every zlib allocation goes through a counting allocator
// (memory()). zlib's own formula (zconf.h) for deflate is (1 << (window_bits
// + 2)) + (1 << (mem_level + 9)) and for inflate 1 << window_bits, each plus
// its structs. Node's zlib (Chromium's, which the addons use) keeps a hash
// table of at least 2^16 bytes whatever mem_level and a literal buffer a
// quarter larger; the bounds below (deflate_memory_bound,
// inflate_memory_bound) cover both and the tests hold memory() to them.
// Measured with Node's zlib, DeflateConfig's defaults (13, 7, client 15):
// a Deflater 142 KiB, an Inflater 41 KiB, only while they hold state.
// Output goes through a buffer on the stack (kChunk), never through one the
// size of a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/ws/extension.h"

struct z_stream_s;

namespace tsgi::ws {

// X(name, close code, text): the results of Inflater and Deflater calls.
#define TSGI_WS_DEFLATE_RESULTS(X)                                                            \
  X(kOk, 0, "ok")                                                                             \
  /* the inflated message passes InflateConfig::max_message (RFC 6455 7.4.1) */              \
  X(kTooBig, 1009, "WebSocket message larger than the limit once inflated")                  \
  /* not a DEFLATE stream, or one cut inside a block (RFC 7692 7.2.2) */                     \
  X(kBadData, 1007, "WebSocket compressed message is not valid DEFLATE data")                 \
  /* RFC 6455 8.1: an inflated text message that is not UTF-8 */                              \
  X(kBadUtf8, 1007, "WebSocket text message is not valid UTF-8 once inflated")                \
  /* zlib could not allocate its state */                                                     \
  X(kNoMemory, 1011, "WebSocket compression state could not be allocated")                    \
  /* the Sink refused a chunk */                                                              \
  X(kSinkFailed, 1011, "WebSocket message could not be stored")

enum class DeflateResult : uint8_t {
#define TSGI_X(name, code, text) name,
  TSGI_WS_DEFLATE_RESULTS(TSGI_X)
#undef TSGI_X
};
const char* result_name(DeflateResult r);
const char* result_text(DeflateResult r);
uint16_t close_code(DeflateResult r);  // 0 for kOk

// Where output goes, a chunk at a time (at most kChunk bytes per call).
class Sink {
 public:
  // Appends p[0, n); false stops the call with kSinkFailed.
  virtual bool append(const char* p, size_t n) = 0;

 protected:
  ~Sink() = default;
};

class StringSink final : public Sink {
 public:
  explicit StringSink(std::string* s) : s_(s) {}
  bool append(const char* p, size_t n) override {
    s_->append(p, n);
    return true;
  }

 private:
  std::string* s_;
};

constexpr size_t kChunk = 16384;

// Upper bounds of memory() (see above): the window (two bytes per position
// and a link each), the hash table, the literal buffer, the structs.
constexpr size_t deflate_memory_bound(unsigned window_bits, unsigned mem_level) {
  return (size_t(1) << ((window_bits < 9 ? 9 : window_bits) + 2)) +
         (mem_level + 8 > 16 ? size_t(1) << (mem_level + 8) : size_t(1) << 16) + 5 * (size_t(1) << (mem_level + 6)) +
         8192;
}
constexpr size_t inflate_memory_bound(unsigned window_bits) { return (size_t(1) << window_bits) + 10240; }

struct InflateConfig {
  uint8_t window_bits = 15;           // the agreed client_max_window_bits
  bool no_context_takeover = false;   // the agreed client_no_context_takeover
  uint64_t max_message = 16u << 20;   // inflated bytes per message (1009 past it)
};

// Results do not depend on how a message is split, with one exception
// that is zlib's: it checks a distance against the window it holds plus
// what the current call wrote, so a stream that refers back past an agreed
// window under 15 bits may be read whole and refused in pieces. A
// conforming peer never sends one; memory stays bounded either way.
class Inflater {
 public:
  explicit Inflater(const InflateConfig& config) : cfg_(config) {}
  Inflater(const DeflateAgreement& a, uint64_t max_message)
      : cfg_{a.client_max_window_bits, a.client_no_context_takeover, max_message} {}
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // A compressed message begins (the framer's kFrame with rsv1). text: its
  // inflated bytes must be UTF-8, which the framer could not check.
  void begin(bool text);
  // A piece of its payload, as the framer hands it (kData), in any split.
  DeflateResult feed(const char* in, size_t len, Sink& sink);
  // Its end (kMessageEnd): 7.2.2's 00 00 ff ff tail, then the checks a
  // whole message allows (ends on a block boundary; text ends a character).
  DeflateResult finish(Sink& sink);

  // Frees zlib's state. Between messages only; the next begin() allocates
  // again, so with no context takeover an idle connection holds nothing.
  void release();
  size_t memory() const { return memory_; }         // bytes zlib holds now
  uint64_t message_size() const { return out_; }    // inflated bytes of this message
  DeflateResult error() const { return error_; }    // the first failure, sticky

 private:
  DeflateResult run(const unsigned char* in, size_t len, Sink& sink);
  DeflateResult emit(const unsigned char* p, size_t n, Sink& sink);
  DeflateResult restart();
  DeflateResult fail(DeflateResult r);

  InflateConfig cfg_;
  z_stream_s* z_ = nullptr;
  size_t memory_ = 0;
  uint64_t out_ = 0;
  uint64_t in_ = 0;       // compressed bytes of this message
  bool text_ = false;
  uint8_t utf8_ = 0;
  bool boundary_ = true;  // the stream stands between blocks
  bool ended_ = false;    // a final block (BFINAL) ended this message's stream
  bool restart_ = false;  // ... and the next message must start a new one
  DeflateResult error_ = DeflateResult::kOk;
};

struct DeflaterConfig {
  uint8_t window_bits = 15;          // the agreed server_max_window_bits
  uint8_t mem_level = 8;             // 1-9
  int level = 6;                     // zlib's 0-9
  bool no_context_takeover = false;  // the agreed server_no_context_takeover
};

// Messages shorter than this are sent uncompressed by default: a DEFLATE
// block costs at least its header and a flush, so below a few hundred bytes
// the saving is small next to the work; past 1 KiB text usually halves.
constexpr size_t kDefaultCompressMin = 1024;

class Deflater {
 public:
  explicit Deflater(const DeflaterConfig& config) : cfg_(config) {}
  explicit Deflater(const DeflateAgreement& a, int level = 6)
      : cfg_{a.server_max_window_bits, a.mem_level, level, a.server_no_context_takeover} {}
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // One whole message, compressed to the payload of a frame with RSV1
  // (7.2.1: the trailing 00 00 ff ff removed). An empty message is the one
  // byte 00 (7.2.3.6), without touching zlib.
  DeflateResult compress(const char* msg, size_t len, Sink& sink);

  void release();  // frees zlib's state; the next compress() allocates again
  size_t memory() const { return memory_; }

 private:
  DeflaterConfig cfg_;
  z_stream_s* z_ = nullptr;
  size_t memory_ = 0;
};

}  // namespace tsgi::ws
