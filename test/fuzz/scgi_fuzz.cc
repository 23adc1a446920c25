// libFuzzer target for native/proto/scgi: parse().
//
// For each input and three sets of limits (default, tight, derived from the
// data) the request is parsed whole, fed in growing prefixes from a
// data-derived split and, for short inputs, byte by byte; all must agree.
// An accepted request is then re-read from the bytes: the netstring length
// and its ',', every name and value and the NULs after them (the pairs must
// tile the block exactly), CONTENT_LENGTH first, unique names, SCGI=1. Each
// error and kAgain must be justified by the bytes. Prefixes are copied to
// buffers of their exact size so that ASan sees any read past them. A failed
// check traps.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "fuzz.h"
#include "proto/scgi/framer.h"

using namespace tsgi;
using namespace tsgi::scgi;


namespace {

struct Outcome {
  Result result = Result::kAgain;
  Error err = Error::kNone;
  uint32_t detail = 0;
  Request req;
};

bool same(const Outcome& a, const Outcome& b) {
  if (a.result != b.result) return false;
  if (a.result == Result::kError) return a.err == b.err && a.detail == b.detail;
  if (a.result == Result::kAgain) return true;
  const Request& x = a.req;
  const Request& y = b.req;
  if (x.head_len != y.head_len || x.content_length != y.content_length)
    return false;
  return fuzz::same_vars(x.vars, y.vars);
}

uint32_t max_vars_of(const Limits& lim) {
  return lim.max_vars < cgi::kMaxVarsCap ? lim.max_vars : cgi::kMaxVarsCap;
}

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

// The netstring length prefix as the rules read it: *digits digits, value
// *n. False if it is not "<digits>:" with no leading zero.
bool read_length(const uint8_t* d, size_t size, size_t* digits, uint64_t* n) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < size && i < 11 && is_digit(d[i])) v = v * 10 + (d[i++] - '0');
  if (i == 0 || i > 10 || i == size || d[i] != ':' || (i > 1 && d[0] == '0')) return false;
  *digits = i;
  *n = v;
  return true;
}

bool same_name(const uint8_t* d, const cgi::Var& v, const char* lit) {
  size_t n = std::strlen(lit);
  return v.name.len == n && std::memcmp(d + v.name.off, lit, n) == 0;
}

// What an accepted request must satisfy, read from the bytes.
void check_request(const uint8_t* d, size_t size, const Limits& lim, const Request& r) {
  size_t digits = 0;
  uint64_t n = 0;
  CHECK(read_length(d, size, &digits, &n));
  CHECK(r.head_len == digits + 1 + n + 1 && r.head_len <= size && r.head_len <= lim.max_block);
  CHECK(d[r.head_len - 1] == ',');
  CHECK(r.vars.count >= 2 && r.vars.count <= max_vars_of(lim));
  size_t pos = digits + 1;
  bool scgi_one = false;
  for (uint32_t i = 0; i < r.vars.count; ++i) {
    const cgi::Var& v = r.vars.vars[i];
    CHECK(v.name.off == pos && v.name.len >= 1);
    for (uint32_t j = 0; j < v.name.len; ++j)
      CHECK(d[v.name.off + j] >= 0x21 && d[v.name.off + j] <= 0x7e);
    CHECK(d[v.name.off + v.name.len] == 0);
    CHECK(v.value.off == v.name.off + v.name.len + 1);
    for (uint32_t j = 0; j < v.value.len; ++j) CHECK(d[v.value.off + j] != 0);
    CHECK(uint64_t{v.value.off} + v.value.len < r.head_len - 1);
    CHECK(d[v.value.off + v.value.len] == 0);
    pos = v.value.off + v.value.len + 1;
    // Only HTTP_* names may repeat (nginx < 1.23 sends them; docs/protocols.md).
    const bool http_var = v.name.len > 5 && std::memcmp(d + v.name.off, "HTTP_", 5) == 0;
    for (uint32_t j = 0; j < i && !http_var; ++j) {
      const cgi::Var& o = r.vars.vars[j];
      CHECK(o.name.len != v.name.len || std::memcmp(d + o.name.off, d + v.name.off, v.name.len) != 0);
    }
    if (same_name(d, v, "SCGI")) scgi_one = v.value.len == 1 && d[v.value.off] == '1';
  }
  CHECK(pos == r.head_len - 1);  // the pairs tile the block exactly
  CHECK(scgi_one);
  const cgi::Var& first = r.vars.vars[0];
  CHECK(same_name(d, first, "CONTENT_LENGTH"));
  CHECK(first.value.len >= 1 && first.value.len <= 19);
  uint64_t cl = 0;
  for (uint32_t j = 0; j < first.value.len; ++j) {
    CHECK(is_digit(d[first.value.off + j]));
    cl = cl * 10 + (d[first.value.off + j] - '0');
  }
  CHECK(cl == r.content_length);
}

// Why a kError or kAgain: what the bytes say must back it.
void check_refusal(const uint8_t* d, size_t len, const Limits& lim, const Outcome& o) {
  if (o.result == Result::kOk) return;
  if (o.result == Result::kError) {
    const char* text = error_text(o.err);
    CHECK(o.err != Error::kNone && text && text[0]);
  }
  if (len == 0) {
    CHECK(o.result == Result::kAgain);
    return;
  }
  const bool upper = d[0] >= 'A' && d[0] <= 'Z';
  CHECK(upper == (o.result == Result::kError && o.err == Error::kLooksLikeHttp));
  if (upper) return;
  size_t digits = 0;
  uint64_t n = 0;
  if (!read_length(d, len, &digits, &n)) {
    // Still reading the digits (kAgain), or they are wrong or too big.
    size_t i = 0;
    uint64_t v = 0;
    while (i < len && i <= 10 && is_digit(d[i])) v = v * 10 + (d[i++] - '0');
    if (o.result == Result::kAgain) {
      CHECK(i == len && i <= 10 && !(i > 1 && d[0] == '0') && i + 2 + v <= lim.max_block);
      return;
    }
    CHECK(o.err == Error::kBadNetstring || o.err == Error::kTooLarge);
    return;
  }
  const uint64_t head = digits + 1 + n + 1;
  if (o.result == Result::kAgain) {
    CHECK(head <= lim.max_block && len < head);
    return;
  }
  if (o.err == Error::kTooLarge) {
    CHECK(head > lim.max_block && o.detail <= n);
    return;
  }
  CHECK(head <= lim.max_block && len >= head);
  if (o.err == Error::kBadNetstring) CHECK(d[head - 1] != ',' && o.detail == head - 1);
  else CHECK(d[head - 1] == ',');
}

// Parses buf[0, len) into *o (reset first; the var table is not cleared,
// only its count, as parse() does).
void parse_once(const char* buf, size_t len, const Limits& lim, Outcome* o) {
  o->err = Error::kNone;
  o->detail = 0;
  o->result = parse(buf, len, lim, &o->req, &o->err, &o->detail);
  if (o->result == Result::kOk) CHECK(o->err == Error::kNone);
  check_refusal(reinterpret_cast<const uint8_t*>(buf), len, lim, *o);
}

// Parsed whole, then fed in growing prefixes: the answers must agree.
void check_consistency(const uint8_t* d, size_t size, const Limits& lim, size_t split) {
  auto once = [&](const char* buf, size_t len, Outcome* o) { parse_once(buf, len, lim, o); };
  auto whole = fuzz::check_whole_and_prefixes<Outcome>(d, size, split, 0, once, same);
  if (whole->result == Result::kOk) check_request(d, size, lim, whole->req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint32_t h = fuzz::hash(data, size);
  size_t split = fuzz::split_of(h, size);
  fuzz::for_each_cgi_limits<Limits>(h, split, [&](const Limits& lim) { check_consistency(data, size, lim, split); });
  return 0;
}
