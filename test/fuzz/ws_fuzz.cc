// libFuzzer target for native/proto/ws: Decoder::feed() and the writer.
//
// For each input and three sets of limits (default, tight with
// permessage-deflate allowed, derived from the data) the stream is decoded
// whole, in two pieces cut at a data-derived split and, for short inputs,
// byte by byte; the events (data pieces joined) must be the same. Each
// feeding is checked as it goes: feed() consumes no more than it is given,
// kAgain consumes everything, a kData piece is exactly the bytes consumed,
// a finished text message is valid UTF-8, a close carries a valid code and a
// UTF-8 reason, control payloads fit 125 bytes, frames and messages respect
// the limits, an error names a close code of 1002, 1007 or 1009. Then the
// input as a close reason: write_close() must cut it on a character
// boundary and decode back to the same code and reason. Inputs and pieces
// are copied to buffers of their exact size so that ASan sees any read past
// them. A failed check traps.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz.h"
#include "proto/ws/framer.h"
#include "proto/ws/utf8.h"
#include "proto/ws/writer.h"

using namespace tsgi;
using namespace tsgi::ws;

namespace {

struct Norm {
  Ev type;
  uint8_t opcode, message;
  bool fin, rsv1;
  uint64_t length;
  std::string data;
  uint16_t code;
  Error error;
  uint64_t detail, position;

  bool operator==(const Norm& o) const {
    return type == o.type && opcode == o.opcode && message == o.message && fin == o.fin &&
           rsv1 == o.rsv1 && length == o.length && data == o.data && code == o.code &&
           error == o.error && detail == o.detail && position == o.position;
  }
};

// Decodes d[0, size) cut at `cuts` (ascending), checking each event.
std::vector<Norm> decode(const uint8_t* d, size_t size, const Limits& lim, const std::vector<size_t>& cuts) {
  Decoder dec(lim);
  std::vector<Norm> out;
  std::string text;  // the open message's bytes, when it is checked text
  bool text_open = false, failed = false;
  uint64_t message_len = 0;
  size_t start = 0;
  for (size_t c = 0; c <= cuts.size() && !failed; ++c) {
    const size_t end = c < cuts.size() ? cuts[c] : size;
    auto piece = fuzz::copy(d + start, end - start);
    char* p = piece.get();
    const size_t plen = end - start;
    size_t off = 0;
    for (;;) {
      Event ev;
      const size_t used = dec.feed(p + off, plen - off, &ev);
      CHECK(used <= plen - off);
      if (ev.type == Ev::kAgain) {
        CHECK(off + used == plen);
        break;
      }
      if (ev.type == Ev::kData) CHECK(ev.len > 0 && ev.data == p + off && ev.len == used);
      off += used;
      Norm n{ev.type, ev.opcode, ev.message, ev.fin, ev.rsv1, ev.length, {}, ev.code, ev.error, ev.detail, 0};
      switch (ev.type) {
        case Ev::kFrame:
          CHECK(ev.length <= lim.max_frame);
          CHECK(ev.message == kText || ev.message == kBinary);
          CHECK(!ev.rsv1 || (lim.allow_rsv1 && ev.opcode != kContinuation));
          if (ev.opcode != kContinuation) {
            message_len = 0;
            text.clear();
            text_open = ev.message == kText && !ev.rsv1;
          }
          message_len += ev.length;
          CHECK(message_len <= lim.max_message);
          break;
        case Ev::kData:
          if (text_open) text.append(ev.data, ev.len);
          if (!out.empty() && out.back().type == Ev::kData) {
            out.back().data.append(ev.data, ev.len);
            continue;
          }
          n.data.assign(ev.data, ev.len);
          break;
        case Ev::kMessageEnd:
          if (text_open)
            CHECK(utf8::valid(reinterpret_cast<const unsigned char*>(text.data()), uint32_t(text.size())));
          text_open = false;
          break;
        case Ev::kPing:
        case Ev::kPong:
          CHECK(ev.len <= kMaxControlPayload);
          n.data.assign(ev.data, ev.len);
          break;
        case Ev::kClose:
          CHECK(ev.code == 0 ? ev.len == 0 : close_code_valid(ev.code));
          CHECK(ev.len <= kMaxControlPayload - 2);
          CHECK(utf8::valid(reinterpret_cast<const unsigned char*>(ev.data), uint32_t(ev.len)));
          CHECK(dec.closed());
          n.data.assign(ev.data, ev.len);
          break;
        case Ev::kError:
          CHECK(ev.code == 1002 || ev.code == 1007 || ev.code == 1009);
          CHECK(ev.code == close_code(ev.error) && ev.error != Error::kNone);
          n.position = dec.position();
          failed = true;
          break;
        default:
          CHECK(false);
      }
      out.push_back(n);
      if (failed) break;
    }
    start = end;
  }
  return out;
}

void check_limits(const uint8_t* d, size_t size, const Limits& lim, size_t split) {
  const std::vector<Norm> whole = decode(d, size, lim, {});
  std::vector<size_t> cuts;
  if (split > 0 && split < size) cuts.push_back(split);
  CHECK(decode(d, size, lim, cuts) == whole);
  if (size <= fuzz::kByteByByteMax) {
    cuts.clear();
    for (size_t k = 1; k < size; ++k) cuts.push_back(k);
    CHECK(decode(d, size, lim, cuts) == whole);
  }
}

// The input as a close reason: cut on a character boundary, read back whole.
void check_close_writer(const uint8_t* d, size_t size, uint32_t h) {
  const char* s = reinterpret_cast<const char*>(d);
  const size_t max = h % 130;
  const size_t n = utf8_prefix(s, size, max);
  CHECK(n <= max || n == size);
  CHECK(n <= size);
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  if (size > (1u << 20) || !utf8::valid(u, uint32_t(size))) return;
  CHECK(utf8::valid(u, uint32_t(n)));
  const uint16_t code = static_cast<uint16_t>(h >> 16);
  char frame[kMaxControlFrame];
  const size_t len = write_close(frame, code, s, size);
  if (!close_code_valid(code)) {
    CHECK(len == 0 || code == 0);
    if (code != 0) return;
  }
  CHECK(len >= 2 && len <= kMaxControlFrame);
  Limits lim;
  lim.require_mask = false;
  Decoder dec(lim);
  Event ev;
  CHECK(dec.feed(frame, len, &ev) == len && ev.type == Ev::kClose && ev.code == code);
  const size_t kept = code ? utf8_prefix(s, size, kMaxControlPayload - 2) : 0;
  CHECK(ev.len == kept && std::memcmp(ev.data, s, kept) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint32_t h = fuzz::hash(data, size);
  const size_t split = fuzz::split_of(h, size);
  Limits sets[3];
  sets[1].max_frame = 64;
  sets[1].max_message = 100;
  sets[1].allow_rsv1 = true;
  sets[2].max_frame = split;
  sets[2].max_message = (h >> 8) % 1024;
  sets[2].require_mask = h & 1;
  sets[2].allow_rsv1 = h & 2;
  for (const Limits& lim : sets) check_limits(data, size, lim, split);
  check_close_writer(data, size, h);
  return 0;
}
