// libFuzzer target for native/static/rules: the request path cleaner, the
// Range and Accept-Encoding parsers, HTTP-date and entity-tag lists. Every
// input goes through each of them (copied to a buffer of its exact size, so
// that ASan sees any read past it), and each result is checked:
//  - a cleaned path starts with '/', holds no NUL, backslash, "//", "." or
//    ".." segment, and cleaning it again (undecoded) changes nothing;
//  - ranges lie inside the file, at most kMaxRanges, and merged ones neither
//    overlap nor touch;
//  - the chosen coding is one that is available, or identity;
//  - a date that parses formats back to the same instant.
// A failed check traps.
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz.h"
#include "static/rules.h"

using namespace tsgi;
using namespace tsgi::files;

namespace {

void check_path(const char* p, size_t n, bool decode) {
  CleanPath out;
  if (clean_path(p, n, decode, &out) != PathError::kNone) return;
  const std::string& s = out.path;
  CHECK(!s.empty() && s[0] == '/');
  CHECK(s.find('\0') == std::string::npos);
  CHECK(s.find('\\') == std::string::npos);
  CHECK(s.find("//") == std::string::npos);
  CHECK(s == "/" || s.back() != '/');
  std::string seg = s + "/";
  CHECK(seg.find("/./") == std::string::npos);
  CHECK(seg.find("/../") == std::string::npos);
  CleanPath again;
  CHECK(clean_path(s.data(), s.size(), false, &again) == PathError::kNone);
  CHECK(again.path == s);
  CHECK(again.hidden == out.hidden);
}

void check_range(const char* p, size_t n, uint64_t size) {
  ByteRange r[kMaxRanges];
  size_t count = 99;
  RangeResult res = parse_range(Text{p, n}, size, r, &count);
  if (res != RangeResult::kOk) {
    CHECK(count == 0 || res == RangeResult::kIgnore);
    return;
  }
  CHECK(count >= 1 && count <= kMaxRanges);
  for (size_t i = 0; i < count; i++) CHECK(r[i].first <= r[i].last && r[i].last < size);
  for (size_t i = 0; i < count; i++) {
    for (size_t j = i + 1; j < count; j++) {
      bool apart = r[i].last + 1 < r[j].first || r[j].last + 1 < r[i].first;
      CHECK(apart);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto buf = fuzz::copy(data, size);
  const char* p = buf.get();
  check_path(p, size, true);
  check_path(p, size, false);

  uint64_t h = fuzz::hash(data, size);
  uint64_t sizes[] = {0, 1, 1000, h % 100000, (3ull << 30) + (h & 0xffff), UINT64_MAX};
  for (uint64_t s : sizes) check_range(p, size, s);

  for (unsigned available = 0; available < 8; available += 2) {
    Coding c = choose_coding(Text{p, size}, available);
    CHECK(c == kIdentity || (available & kCodingBit(c)));
  }

  int64_t t = 0;
  if (parse_http_date(p, size, &t)) {
    char out[kHttpDateLen];
    format_http_date(t, out);
    int64_t back = 0;
    CHECK(parse_http_date(out, kHttpDateLen, &back) && back == t);
  }

  char etag[kEtagMax];
  size_t elen = format_etag(etag, h, size, static_cast<int64_t>(h >> 7));
  CHECK(elen <= kEtagMax);
  Validator v{etag, elen, static_cast<int64_t>(h % 4000000000ull)};
  Preconditions pre{Text{p, size}, Text{p, size}, Text{p, size}, Text{p, size}};
  int st = evaluate_preconditions(pre, v);
  CHECK(st == 0 || st == 304 || st == 412);
  (void)if_range_holds(Text{p, size}, v);
  (void)etag_matches(Text{p, size}, etag, elen, true);
  return 0;
}
