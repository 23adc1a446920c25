// libFuzzer target for native/proto/uwsgi: parse().
//
// For each input and three sets of limits (default, tight, derived from the
// data) the packet is parsed whole, fed in growing prefixes from a
// data-derived split and, for short inputs, byte by byte; all must agree.
// An accepted packet is then re-read from the bytes: the header fields, every
// pair's length prefix and position (the pairs must tile the block exactly),
// the key and value bytes the rules allow, and CONTENT_LENGTH. Each error
// and kAgain must be justified by the header. Prefixes are copied to buffers
// of their exact size so that ASan sees any read past them. A failed check
// traps.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "fuzz.h"
#include "proto/uwsgi/framer.h"

using namespace tsgi;
using namespace tsgi::uwsgi;


namespace {

struct Outcome {
  Result result = Result::kAgain;
  Error err = Error::kNone;
  uint32_t detail = 0;
  Packet pkt;
};

bool same(const Outcome& a, const Outcome& b) {
  if (a.result != b.result) return false;
  if (a.result == Result::kError) return a.err == b.err && a.detail == b.detail;
  if (a.result == Result::kAgain) return true;
  const Packet& x = a.pkt;
  const Packet& y = b.pkt;
  if (x.modifier1 != y.modifier1 || x.modifier2 != y.modifier2 || x.datasize != y.datasize ||
      x.head_len != y.head_len || x.content_length != y.content_length)
    return false;
  return fuzz::same_vars(x.vars, y.vars);
}

uint32_t le16(const uint8_t* p) { return p[0] | (uint32_t{p[1]} << 8); }

uint32_t max_vars_of(const Limits& lim) {
  return lim.max_vars < cgi::kMaxVarsCap ? lim.max_vars : cgi::kMaxVarsCap;
}

// What an accepted packet must satisfy, read from the bytes.
void check_packet(const uint8_t* d, size_t size, const Limits& lim, const Packet& p) {
  CHECK(size >= 4);
  CHECK(p.modifier1 == d[0] && p.modifier2 == d[3]);
  CHECK((p.modifier1 == 0 || p.modifier1 == 30) && p.modifier2 == 0);
  CHECK(p.datasize == le16(d + 1) && p.datasize >= 1);
  CHECK(p.head_len == 4 + p.datasize && p.head_len <= size && p.head_len <= lim.max_block);
  CHECK(p.vars.count >= 1 && p.vars.count <= max_vars_of(lim));
  size_t pos = 4;
  bool have_length = false;
  for (uint32_t i = 0; i < p.vars.count; ++i) {
    const cgi::Var& v = p.vars.vars[i];
    CHECK(v.name.off == pos + 2 && le16(d + pos) == v.name.len && v.name.len >= 1);
    for (uint32_t j = 0; j < v.name.len; ++j)
      CHECK(d[v.name.off + j] >= 0x21 && d[v.name.off + j] <= 0x7e);
    pos = v.name.off + v.name.len;
    CHECK(pos + 2 <= p.head_len);
    CHECK(v.value.off == pos + 2 && le16(d + pos) == v.value.len);
    CHECK(uint64_t{v.value.off} + v.value.len <= p.head_len);
    for (uint32_t j = 0; j < v.value.len; ++j) CHECK(d[v.value.off + j] != 0);
    pos = v.value.off + v.value.len;
    if (v.name.len == 14 && std::memcmp(d + v.name.off, "CONTENT_LENGTH", 14) == 0) {
      uint64_t n = 0;
      CHECK(v.value.len <= 19);
      for (uint32_t j = 0; j < v.value.len; ++j) {
        uint8_t c = d[v.value.off + j];
        CHECK(c >= '0' && c <= '9');
        n = n * 10 + (c - '0');
      }
      CHECK(n == p.content_length);
      have_length = true;
    }
  }
  CHECK(pos == p.head_len);  // the pairs tile the block exactly
  if (!have_length) CHECK(p.content_length == 0);
}

// Why a kError or kAgain: what the header says must back it.
void check_refusal(const uint8_t* d, size_t len, const Limits& lim, const Outcome& o) {
  if (len < 4) {
    CHECK(o.result == Result::kAgain);
    return;
  }
  bool http = d[0] >= 'A' && d[0] <= 'Z';
  for (int i = 1; i < 4; ++i) http = http && ((d[i] >= 'A' && d[i] <= 'Z') || d[i] == ' ');
  const bool bad_modifier = (d[0] != 0 && d[0] != 30) || d[3] != 0;
  const uint32_t head = 4 + le16(d + 1);
  if (o.result == Result::kOk) {
    CHECK(!http && !bad_modifier);
    return;
  }
  if (o.result == Result::kAgain) {
    CHECK(!http && !bad_modifier && head > 4 && head <= lim.max_block && len < head);
    return;
  }
  const char* text = error_text(o.err);
  CHECK(o.err != Error::kNone && text && text[0]);
  CHECK(http == (o.err == Error::kLooksLikeHttp));
  if (http) return;
  CHECK(bad_modifier == (o.err == Error::kBadModifier));
  if (bad_modifier) {
    CHECK(o.detail == d[0]);
    return;
  }
  if (o.err == Error::kTooLarge) CHECK(o.detail == head && head > lim.max_block && head > 4);
  // Anything else about the block is only judged once the block is in.
  if (o.err != Error::kTooLarge && head > 4) CHECK(len >= head && head <= lim.max_block);
  if (head == 4) CHECK(o.err == Error::kMalformed);
}

// Parses buf[0, len) into *o (reset first; the var table is not cleared,
// only its count, as parse() does).
void parse_once(const char* buf, size_t len, const Limits& lim, Outcome* o) {
  o->err = Error::kNone;
  o->detail = 0;
  o->result = parse(buf, len, lim, &o->pkt, &o->err, &o->detail);
  if (o->result == Result::kOk) CHECK(o->err == Error::kNone);
  check_refusal(reinterpret_cast<const uint8_t*>(buf), len, lim, *o);
}

// Parsed whole, then fed in growing prefixes: the answers must agree.
void check_consistency(const uint8_t* d, size_t size, const Limits& lim, size_t split) {
  auto once = [&](const char* buf, size_t len, Outcome* o) { parse_once(buf, len, lim, o); };
  auto whole = fuzz::check_whole_and_prefixes<Outcome>(d, size, split, 0, once, same);
  if (whole->result == Result::kOk) check_packet(d, size, lim, whole->pkt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint32_t h = fuzz::hash(data, size);
  size_t split = fuzz::split_of(h, size);
  fuzz::for_each_cgi_limits<Limits>(h, split, [&](const Limits& lim) { check_consistency(data, size, lim, split); });
  return 0;
}
