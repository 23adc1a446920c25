// libFuzzer target for native/proto/ws/deflate.h and extension.h.
//
// The first byte picks the inflater's settings (window 8-15, context
// takeover or not, text or binary), the input's hash a small limit (at most
// 4 KiB) and a split; the rest is two compressed messages, cut at the
// split. Each is inflated whole, in two pieces and (short inputs) byte by
// byte: the results and bytes must agree, never pass the limit, be UTF-8
// when text, and zlib's memory stay within inflate_memory_bound. Then the
// rest is compressed by a Deflater with the same window and read back by an
// Inflater, and must come back the same. Last, the input as a
// Sec-WebSocket-Extensions value: the response written must fit its buffer,
// and read back as an offer be accepted with the same agreement.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz.h"
#include "proto/ws/deflate.h"
#include "proto/ws/extension.h"
#include "proto/ws/utf8.h"

using namespace tsgi;
using namespace tsgi::ws;

namespace {

struct Outcome {
  std::vector<DeflateResult> results;
  std::vector<std::string> data;
  bool operator==(const Outcome& o) const { return results == o.results && data == o.data; }
};

// Inflates the messages in order on one Inflater, each fed at its cuts.
Outcome inflate(const std::vector<std::string>& messages, const InflateConfig& c, bool text,
                const std::vector<std::vector<size_t>>& cuts) {
  Inflater inf(c);
  Outcome out;
  for (size_t m = 0; m < messages.size(); ++m) {
    std::string data;
    StringSink sink(&data);
    inf.begin(text);
    DeflateResult r = DeflateResult::kOk;
    size_t start = 0;
    const std::string& msg = messages[m];
    for (size_t k = 0; k <= cuts[m].size() && r == DeflateResult::kOk; ++k) {
      const size_t end = k < cuts[m].size() ? cuts[m][k] : msg.size();
      auto piece = fuzz::copy(msg.data() + start, end - start);
      if (end > start) r = inf.feed(piece.get(), end - start, sink);
      start = end;
    }
    if (r == DeflateResult::kOk) r = inf.finish(sink);
    CHECK(data.size() <= c.max_message);
    CHECK(inf.memory() <= inflate_memory_bound(c.window_bits));
    if (r == DeflateResult::kOk) {
      CHECK(inf.message_size() == data.size());
      if (text) CHECK(utf8::valid(reinterpret_cast<const unsigned char*>(data.data()), uint32_t(data.size())));
    } else {
      CHECK(close_code(r) == 1007 || close_code(r) == 1009);
      CHECK(inf.error() == r);
      data.clear();  // how much reached the sink first depends on the cuts
    }
    out.results.push_back(r);
    out.data.push_back(data);
    if (r != DeflateResult::kOk) break;
  }
  return out;
}

// zlib checks a distance against the window it holds plus what the current
// call wrote, so a stream that refers back past a window under 15 bits may
// be read whole and refused in pieces (or the reverse). Only that may
// differ: the first message whose outcome differs is kBadData on one side.
bool agrees(const Outcome& got, const Outcome& whole, const InflateConfig& c) {
  if (got == whole) return true;
  if (c.window_bits == 15) return false;
  for (size_t m = 0; m < got.results.size() && m < whole.results.size(); ++m) {
    if (got.results[m] == whole.results[m] && got.data[m] == whole.data[m]) continue;
    return got.results[m] == DeflateResult::kBadData || whole.results[m] == DeflateResult::kBadData;
  }
  return false;
}

void check_inflate(const std::vector<std::string>& messages, const InflateConfig& c, bool text, uint32_t h) {
  const std::vector<std::vector<size_t>> none(messages.size());
  const Outcome whole = inflate(messages, c, text, none);
  std::vector<std::vector<size_t>> cuts(messages.size());
  for (size_t m = 0; m < messages.size(); ++m)
    if (!messages[m].empty()) cuts[m].push_back((h >> (8 * m)) % (messages[m].size() + 1));
  CHECK(agrees(inflate(messages, c, text, cuts), whole, c));
  size_t total = 0;
  for (const std::string& m : messages) total += m.size();
  if (total <= fuzz::kByteByByteMax) {
    for (size_t m = 0; m < messages.size(); ++m) {
      cuts[m].clear();
      for (size_t k = 1; k < messages[m].size(); ++k) cuts[m].push_back(k);
    }
    CHECK(agrees(inflate(messages, c, text, cuts), whole, c));
  }
}

void check_round_trip(const std::string& msg, uint8_t bits, bool no_takeover) {
  DeflaterConfig dc;
  dc.window_bits = bits;
  dc.mem_level = uint8_t(1 + bits % 9);
  dc.no_context_takeover = no_takeover;
  Deflater def(dc);
  InflateConfig ic;
  ic.window_bits = bits;
  ic.no_context_takeover = no_takeover;
  ic.max_message = msg.size();
  Inflater inf(ic);
  for (int round = 0; round < 2; ++round) {
    std::string packed, back;
    StringSink ps(&packed), bs(&back);
    CHECK(def.compress(msg.data(), msg.size(), ps) == DeflateResult::kOk);
    CHECK(!packed.empty());
    CHECK(def.memory() <= deflate_memory_bound(dc.window_bits, dc.mem_level));
    inf.begin(false);
    CHECK(inf.feed(packed.data(), packed.size(), bs) == DeflateResult::kOk);
    CHECK(inf.finish(bs) == DeflateResult::kOk);
    CHECK(back == msg);
  }
}

void check_negotiation(const uint8_t* d, size_t size, uint8_t sel) {
  DeflateConfig c;
  c.server_max_window_bits = uint8_t(8 + sel % 8);
  c.client_max_window_bits = uint8_t(8 + (sel >> 3) % 8);
  c.server_no_context_takeover = sel & 0x40;
  c.client_no_context_takeover = sel & 0x80;
  // Two field values, cut at a data-derived point, as two header lines.
  const size_t cut = size ? d[0] % (size + 1) : 0;
  const HeaderValue values[2] = {{reinterpret_cast<const char*>(d), cut},
                                 {reinterpret_cast<const char*>(d) + cut, size - cut}};
  char out[kMaxExtensionResponse];
  const NegotiationResult r = negotiate(values, 2, c, out);
  if (r.outcome != Negotiation::kAccepted) {
    CHECK(r.response_len == 0);
    return;
  }
  CHECK(r.response_len > 0 && r.response_len <= kMaxExtensionResponse);
  const DeflateAgreement& a = r.agreed;
  CHECK(a.server_max_window_bits >= 8 && a.server_max_window_bits <= c.server_max_window_bits);
  CHECK(a.client_max_window_bits >= 8 && a.client_max_window_bits <= 15);
  CHECK(!c.server_no_context_takeover || a.server_no_context_takeover);
  // The response, read as an offer with the widest config, is accepted the same.
  DeflateConfig wide;
  wide.server_max_window_bits = 15;
  const HeaderValue again{out, r.response_len};
  char out2[kMaxExtensionResponse];
  const NegotiationResult r2 = negotiate(&again, 1, wide, out2);
  CHECK(r2.outcome == Negotiation::kAccepted);
  CHECK(r2.agreed.server_no_context_takeover == a.server_no_context_takeover);
  CHECK(r2.agreed.client_no_context_takeover == a.client_no_context_takeover);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t sel = data[0];
  const uint32_t h = fuzz::hash(data, size);
  InflateConfig c;
  c.window_bits = uint8_t(8 + sel % 8);
  c.no_context_takeover = sel & 0x08;
  c.max_message = (h >> 16) % 4097;
  const bool text = sel & 0x10;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = fuzz::split_of(h, rest.size());
  check_inflate({rest.substr(0, split), rest.substr(split)}, c, text, h);
  if (rest.size() <= 65536) check_round_trip(rest, c.window_bits, c.no_context_takeover);
  check_negotiation(data, size, sel);
  return 0;
}
