// HTTP/1.1 request head parser and chunked decoder; see parser.h.
//
// parse_head() works in two passes over bytes it has already got. The scan
// pass runs on every call: it skips leading empty lines, checks the method,
// and looks for the blank line from `scan_from` on, rejecting bare LF as it
// goes. Its checks look only at bytes up to the one that decides them, so a
// prefix of a request never fails for a different reason than the whole
// request would; the fixtures and the fuzzer check that property. The parse
// pass runs once, when the blank line has arrived, and validates everything.
// Nothing past min(len, max_head) is ever read.
#include "proto/http1/parser.h"

#include <cstring>

// SSE2 is in every x86-64. The portable build (TSGI_FORCE_PORTABLE) stands
// for the platforms without it, arm64 macOS among them, so that CI on x86-64
// runs the word-at-a-time scans as well.
#if defined(__SSE2__) && !defined(TSGI_FORCE_PORTABLE)
#define TSGI_HTTP1_SSE2 1
#include <emmintrin.h>
#else
#define TSGI_HTTP1_SSE2 0
#endif

namespace tsgi::http1 {
namespace {

// ---- Character classes -----------------------------------------------------

enum : uint8_t {
  kTchar = 1,       // token (RFC 9110 5.6.2)
  kFieldChar = 2,   // field-vchar, obs-text, SP, HTAB (RFC 9110 5.5)
  kTargetChar = 4,  // visible US-ASCII but '#' (RFC 9112 3.2, RFC 3986 3.5)
  kAuthChar = 8,    // unreserved, pct, sub-delims, ':', '[', ']' (RFC 3986 3.2)
  kQdText = 16,     // qdtext of quoted-string (RFC 9110 5.6.4)
};

constexpr bool is_alnum(unsigned c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool in_set(unsigned c, const char* set) {
  for (; *set; ++set)
    if (static_cast<unsigned char>(*set) == c) return true;
  return false;
}

constexpr uint8_t classify(unsigned c) {
  uint8_t v = 0;
  if (is_alnum(c) || in_set(c, "!#$%&'*+-.^_`|~")) v |= kTchar;
  if (c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f)) v |= kFieldChar;
  if (c >= 0x21 && c <= 0x7e && c != '#') v |= kTargetChar;
  if (is_alnum(c) || in_set(c, "-._~%!$&'()*+,;=:[]")) v |= kAuthChar;
  if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
      (c >= 0x5d && c <= 0x7e) || c >= 0x80)
    v |= kQdText;
  return v;
}

struct CharTable {
  uint8_t v[256] = {};
  constexpr CharTable() {
    for (unsigned c = 0; c < 256; ++c) v[c] = classify(c);
  }
};
constexpr CharTable kChars;

inline bool is(char c, uint8_t cls) { return kChars.v[static_cast<unsigned char>(c)] & cls; }
inline bool is_ws(char c) { return c == ' ' || c == '\t'; }

// ---- Block scans ---------------------------------------------------------------
//
// Field values are most of a head's bytes (a browser's User-Agent, Accept and
// Cookie run to a hundred), and each must be a field-vchar, obs-text, SP or
// HTAB up to the CR ending its line. skip_field_chars() finds the first byte
// that is not, a block at a time: with SSE2 (every x86-64) a block is 16
// bytes and the test flags exactly the bytes outside the class, so its first
// flag is the answer; without, the block is 8 bytes in a 64-bit word (SWAR),
// whose test says only whether some byte is outside (in either byte order),
// and such a block is looked up in the table byte by byte. Either way the
// answer is the byte-at-a-time loop's; test/proto/http1-parser.test.ts puts
// each edge of the class at every offset of values 0 to 64 bytes long, which
// a block test that missed a byte would fail.
//
// Blocks are read only inside [0, limit), the bytes the caller has; the tail
// shorter than a block goes a byte at a time and ends, as the whole loop did
// before, at a byte outside the class the caller knows is there (the line's
// CR). Names and the target stay with the table: they are short (the target
// most often "/"), and blocks measured slower on them (bench/RESULTS.md).

#if TSGI_HTTP1_SSE2
constexpr size_t kBlock = 16;

inline __m128i load_block(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline __m128i bytes(char c) { return _mm_set1_epi8(c); }
inline unsigned flagged(__m128i m) { return static_cast<unsigned>(_mm_movemask_epi8(m)); }

// Bit i set when byte i of the block at p is not in kFieldChar: 0x00-0x1F but
// HTAB, and DEL. min(x, 0x1F) == x is the unsigned x <= 0x1F.
inline unsigned field_stops(const char* p) {
  __m128i x = load_block(p);
  __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, bytes(0x1f)), x);
  ctl = _mm_andnot_si128(_mm_cmpeq_epi8(x, bytes('\t')), ctl);
  return flagged(_mm_or_si128(ctl, _mm_cmpeq_epi8(x, bytes(0x7f))));
}

size_t skip_field_chars(const char* b, size_t p, size_t limit) {
  for (; p + kBlock <= limit; p += kBlock)
    if (unsigned m = field_stops(b + p)) return p + static_cast<size_t>(__builtin_ctz(m));
  while (is(b[p], kFieldChar)) ++p;
  return p;
}
#else
constexpr size_t kBlock = 8;
constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// Whether some byte of the 8 at p is below 0x20 or is DEL: the classic "has a
// byte less than n" and "has a zero byte" word tests, exact as to whether
// (not where), in either byte order. HTAB is below 0x20 too: the table, which
// the caller then asks, lets it by.
inline bool has_field_stop(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, sizeof x);
  uint64_t below = (x - kOnes * 0x20) & ~x & kHighs;
  uint64_t del = x ^ (kOnes * 0x7f);
  return (below | ((del - kOnes) & ~del & kHighs)) != 0;
}

size_t skip_field_chars(const char* b, size_t p, size_t limit) {
  while (p + kBlock <= limit) {
    if (!has_field_stop(b + p)) {
      p += kBlock;
      continue;
    }
    for (size_t e = p + kBlock; p < e; ++p)
      if (!is(b[p], kFieldChar)) return p;
  }
  while (is(b[p], kFieldChar)) ++p;
  return p;
}
#endif

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// `lit` is lower case letters, digits, '-', ':' and '/'. OR-ing 0x20 folds A-Z
// onto a-z; the other bytes it folds onto those are CTLs, which never get here.
bool eq_nocase(const char* p, size_t n, const char* lit) {
  for (size_t i = 0; i < n; ++i, ++lit)
    if (*lit == 0 || (p[i] | 0x20) != *lit) return false;
  return *lit == 0;
}

Slice slice(size_t off, size_t len) {
  return Slice{static_cast<uint32_t>(off), static_cast<uint32_t>(len)};
}

Result fail(HeadError* err, int status, const char* reason) {
  err->status = status;
  err->reason = reason;
  return Result::kError;
}

// ---- Scan pass ---------------------------------------------------------------

constexpr size_t kMaxMethod = 32;
constexpr int kMaxEmptyLines = 4;
enum class Scan { kDone, kMore, kError };

Scan scan_fail(HeadError* err, int status, const char* reason) {
  fail(err, status, reason);
  return Scan::kError;
}

// RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
// request-line; a few are skipped, more is not a client being sloppy.
Scan skip_empty_lines(const char* b, size_t avail, size_t* start, HeadError* err) {
  size_t p = 0;
  for (int n = 0;; ++n, p += 2) {
    if (p >= avail) return Scan::kMore;
    if (b[p] == '\n') return scan_fail(err, 400, "bare LF");  // RFC 9112 2.2
    if (b[p] != '\r') break;
    if (n == kMaxEmptyLines) return scan_fail(err, 400, "too many empty lines");
    if (p + 1 >= avail) return Scan::kMore;
    if (b[p + 1] != '\n') return scan_fail(err, 400, "bare CR");  // RFC 9112 2.2
  }
  *start = p;
  return Scan::kDone;
}

// method = token (RFC 9112 3.1), then exactly one SP. Sets *method_end.
Scan check_method(const char* b, size_t start, size_t avail, size_t* method_end,
                  HeadError* err) {
  size_t end = start + kMaxMethod + 1 < avail ? start + kMaxMethod + 1 : avail;
  for (size_t p = start; p < end; ++p) {
    if (b[p] == ' ') {
      if (p == start) return scan_fail(err, 400, "empty method");  // RFC 9112 3
      *method_end = p;
      return Scan::kDone;
    }
    if (!is(b[p], kTchar)) return scan_fail(err, 400, "invalid method");  // RFC 9112 3.1
  }
  if (end == start + kMaxMethod + 1)  // RFC 9112 3: longer than any we know -> 501
    return scan_fail(err, 501, "method too long");
  return Scan::kMore;
}

// Length of the request-target in b[method_end + 1, end): up to SP or `end`.
size_t partial_target_len(const char* b, size_t method_end, size_t end) {
  size_t t = method_end + 1, p = t;
  while (p < end && b[p] != ' ') ++p;
  return p - t;
}

// The most a valid request-line and its CR can take.
size_t max_line(const Limits& limits) {
  return kMaxMethod + 1 + size_t{limits.max_target} + 1 + 8 + 1;
}

// Finds the blank line ending the head in b[from, avail). Each LF looks back
// at its CR and at the LF before, so a CRLFCRLF split across calls is found
// with no need to back off `from`.
//
// With SSE2 a block of 16 bytes is judged at once: the bytes one and two
// before each are loaded as blocks of their own, so every LF in the block is
// looked back from together, with no branch per line (a browser's lines
// average some 40 bytes). The first LF that is bare or ends the head decides,
// as it would a line at a time. The first two bytes after `start`, where
// looking back would leave the request, and a tail shorter than a block go by
// memchr.
Scan find_head_end(const char* b, size_t start, size_t from, size_t avail,
                   size_t* head_end, HeadError* err) {
  while (from < avail) {
    size_t stop = avail;
#if TSGI_HTTP1_SSE2
    if (from >= start + 2 && from + kBlock <= avail) {
      __m128i lf = _mm_cmpeq_epi8(load_block(b + from), bytes('\n'));
      __m128i cr = _mm_cmpeq_epi8(load_block(b + from - 1), bytes('\r'));
      __m128i lf2 = _mm_cmpeq_epi8(load_block(b + from - 2), bytes('\n'));
      unsigned bare = flagged(_mm_andnot_si128(cr, lf));
      unsigned done = flagged(_mm_and_si128(lf, _mm_and_si128(cr, lf2)));
      unsigned any = bare | done;
      if (any == 0) {
        from += kBlock;
        continue;
      }
      if (bare & any & (0u - any)) return scan_fail(err, 400, "bare LF");  // RFC 9112 2.2
      *head_end = from + static_cast<size_t>(__builtin_ctz(done)) + 1;
      return Scan::kDone;
    }
    if (from < start + 2 && start + 2 < avail) stop = start + 2;
#endif
    const void* q = std::memchr(b + from, '\n', stop - from);
    if (!q) {
      from = stop;
      continue;
    }
    size_t p = static_cast<const char*>(q) - b;
    if (p == start || b[p - 1] != '\r') return scan_fail(err, 400, "bare LF");  // RFC 9112 2.2
    if (p >= start + 2 && b[p - 2] == '\n') {
      *head_end = p + 1;
      return Scan::kDone;
    }
    from = p + 1;
  }
  return Scan::kMore;
}

// ---- Parse pass --------------------------------------------------------------

struct Fields {
  int host_count = 0;
  bool te = false, te_chunked = false, te_last_chunked = false, te_other = false;
  bool cl = false, conn_close = false, conn_keep_alive = false;
  bool expect_continue = false, upgrade = false;
};

// request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 3).
// Returns the offset just past its CRLF in *next.
Result parse_request_line(const char* b, size_t start, size_t method_end, size_t head_end,
                          const Limits& limits, RequestHead* out, HeadError* err,
                          size_t* next) {
  out->method = slice(start, method_end - start);
  size_t t = method_end + 1, p = t;
  while (is(b[p], kTargetChar)) ++p;  // stops at the CR ending the line at last
  if (p - t > limits.max_target) return fail(err, 414, "request-target too long");  // RFC 9112 3
  if (b[p] == '#') return fail(err, 400, "fragment in request-target");  // RFC 9112 3.2
  if (b[p] != ' ') return fail(err, 400, "invalid request-target");  // RFC 9112 3.2
  if (p == t) return fail(err, 400, "empty request-target");  // RFC 9112 3: one SP
  out->target = slice(t, p - t);
  size_t v = p + 1;
  // The scan saw a CR before the line's LF, so there is one before head_end.
  size_t cr = static_cast<const char*>(std::memchr(b + v, '\r', head_end - v)) - b;
  if (b[cr + 1] != '\n') return fail(err, 400, "bare CR");  // RFC 9112 2.2
  const char* ver = b + v;
  size_t vlen = cr - v;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3). RFC 9110 2.5: a
  // higher minor version within a supported major is processed as the highest
  // minor we conform to, so HTTP/1.2 to 1.9 are HTTP/1.1; 505 is for a major
  // version we do not support.
  if (vlen == 8 && std::memcmp(ver, "HTTP/1.", 7) == 0 && ver[7] >= '0' && ver[7] <= '9') {
    if (ver[7] != '0') out->flags |= kHttp11;
  } else if (vlen == 8 && std::memcmp(ver, "HTTP/", 5) == 0 && ver[5] >= '0' &&
             ver[5] <= '9' && ver[6] == '.' && ver[7] >= '0' && ver[7] <= '9') {
    return fail(err, 505, "HTTP version not supported");  // RFC 9110 15.6.6
  } else {
    return fail(err, 400, "invalid HTTP version");  // RFC 9112 2.3, case-sensitive
  }
  *next = cr + 2;
  return Result::kOk;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// dec-octet "." dec-octet "." dec-octet "." dec-octet, each 0-255 with no
// leading zero (RFC 3986 3.2.2).
bool valid_ipv4(const char* p, size_t n) {
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0 && (i == n || p[i++] != '.')) return false;
    size_t s = i;
    unsigned v = 0;
    while (i < n && i - s < 3 && is_digit(p[i])) v = v * 10 + static_cast<unsigned>(p[i++] - '0');
    if (i == s || v > 255 || (i - s > 1 && p[s] == '0')) return false;
  }
  return i == n;
}

// IPv6address (RFC 3986 3.2.2): eight h16 of 1-4 HEXDIG, the last two of
// which may be an IPv4 address; one "::" stands for one or more zero groups.
// No zone id: RFC 6874 is not part of HTTP's Host (RFC 9110 4.2.1).
bool valid_ipv6(const char* p, size_t n) {
  int groups = 0;
  bool gap = false;
  size_t i = 0;
  if (n >= 2 && p[0] == ':' && p[1] == ':') {
    gap = true;
    i = 2;
  }
  while (i < n) {
    size_t s = i;
    while (i < n && i - s < 4 && hex_value(static_cast<unsigned char>(p[i])) >= 0) ++i;
    if (i == s) return false;
    if (i < n && p[i] == '.') {  // ls32 as an IPv4address ends the address
      if (!valid_ipv4(p + s, n - s)) return false;
      groups += 2;
      break;
    }
    ++groups;
    if (i == n) break;
    if (p[i++] != ':' || i == n) return false;
    if (p[i] == ':') {
      if (gap) return false;
      gap = true;
      ++i;
    }
  }
  return gap ? groups <= 7 : groups == 8;
}

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) (RFC 3986 3.2.2).
bool valid_ipvfuture(const char* p, size_t n) {
  if (n == 0 || (p[0] | 0x20) != 'v') return false;
  size_t i = 1;
  while (i < n && hex_value(static_cast<unsigned char>(p[i])) >= 0) ++i;
  if (i == 1 || i == n || p[i] != '.' || ++i == n) return false;
  for (; i < n; ++i)
    if (!is(p[i], kAuthChar) || p[i] == '%' || p[i] == '[' || p[i] == ']') return false;
  return true;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 3.2.2);
// returns its length in p[0, n), stopping at ':' or at the first invalid byte.
size_t reg_name_len(const char* p, size_t n) {
  size_t i = 0;
  while (i < n && p[i] != ':' && p[i] != '[' && p[i] != ']' && is(p[i], kAuthChar)) {
    if (p[i] == '%') {  // pct-encoded = "%" HEXDIG HEXDIG
      if (n - i < 3 || hex_value(static_cast<unsigned char>(p[i + 1])) < 0 ||
          hex_value(static_cast<unsigned char>(p[i + 2])) < 0)
        return i;
      i += 2;
    }
    ++i;
  }
  return i;
}

// authority = host [ ":" port ] with no userinfo (RFC 9110 4.2.1, 4.2.4);
// host = IP-literal / IPv4address / reg-name, IP-literal = "[" ( IPv6address
// / IPvFuture ) "]" (RFC 3986 3.2.2). port = *DIGIT (RFC 3986 3.2.3): an
// empty port is valid and means the scheme's default, as "a:" does for
// SERVER_PORT; so exactly one ':' may follow the host, then digits only.
bool valid_authority(const char* p, size_t n) {
  size_t i;
  if (n > 0 && p[0] == '[') {
    const void* close = std::memchr(p, ']', n);
    if (!close) return false;  // RFC 3986 3.2.2: an IP-literal ends in "]"
    i = static_cast<size_t>(static_cast<const char*>(close) - p);
    if (!valid_ipv6(p + 1, i - 1) && !valid_ipvfuture(p + 1, i - 1)) return false;
    ++i;
  } else {
    i = reg_name_len(p, n);
    if (i == 0) return false;  // RFC 9110 4.2.1: no empty host
  }
  if (i == n) return true;
  if (p[i] != ':') return false;  // RFC 3986 3.2: only ":" port after the host
  for (++i; i < n; ++i)
    if (!is_digit(p[i])) return false;  // RFC 3986 3.2.3: port = *DIGIT
  return true;
}

// Splits b[from, end) at the first '?' into path and query.
void split_query(const char* b, size_t from, size_t end, RequestHead* out) {
  const void* q = std::memchr(b + from, '?', end - from);
  size_t qpos = q ? static_cast<const char*>(q) - b : end;
  out->path = slice(from, qpos - from);
  out->query = q ? slice(qpos + 1, end - qpos - 1) : slice(end, 0);
}

// The four request-target forms (RFC 9112 3.2).
Result parse_target(const char* b, RequestHead* out, HeadError* err) {
  const char* t = b + out->target.off;
  size_t n = out->target.len, end = out->target.off + n;
  if (t[0] == '/') {  // origin-form, RFC 9112 3.2.1
    split_query(b, out->target.off, end, out);
    return Result::kOk;
  }
  if (n == 1 && t[0] == '*') {  // asterisk-form, RFC 9112 3.2.4: OPTIONS only
    if (out->method.len != 7 || std::memcmp(b + out->method.off, "OPTIONS", 7) != 0)
      return fail(err, 400, "asterisk-form without OPTIONS");
    out->flags |= kAsteriskForm;
    out->path = out->target;
    out->query = slice(end, 0);
    return Result::kOk;
  }
  size_t scheme = 0;  // absolute-form, RFC 9112 3.2.2; schemes are case-insensitive
  if (n >= 7 && eq_nocase(t, 7, "http://")) scheme = 7;
  if (n >= 8 && eq_nocase(t, 8, "https://")) scheme = 8;
  if (scheme == 0) return fail(err, 400, "invalid request-target");  // RFC 9112 3.2
  size_t a = out->target.off + scheme, p = a;
  while (p < end && b[p] != '/' && b[p] != '?') ++p;
  if (!valid_authority(b + a, p - a)) return fail(err, 400, "invalid authority");  // RFC 9110 4.2.1
  out->host = slice(a, p - a);
  out->flags |= kAbsoluteForm;
  split_query(b, p, end, out);  // path len 0 = "/" (parser.h)
  return Result::kOk;
}

// #element list iteration (RFC 9110 5.6.1): calls f(elem, len) for each
// element with OWS trimmed, empty ones included; stops at the first false.
template <typename F>
bool for_each_element(const char* p, size_t n, F f) {
  size_t i = 0;
  for (;;) {
    size_t s = i;
    while (i < n && p[i] != ',') ++i;
    size_t e = i;
    while (s < e && is_ws(p[s])) ++s;
    while (e > s && is_ws(p[e - 1])) --e;
    if (!f(p + s, e - s)) return false;
    if (i == n) return true;
    ++i;
  }
}

bool is_token(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!is(p[i], kTchar)) return false;
  return n > 0;
}

// RFC 9110 8.6: 1*DIGIT; a list of one repeated value is that value.
bool parse_content_length(const char* v, size_t n, Fields* f, RequestHead* out) {
  return for_each_element(v, n, [&](const char* p, size_t len) {
    if (len == 0 || len > 19) return false;  // 19 digits cannot overflow uint64
    uint64_t x = 0;
    for (size_t i = 0; i < len; ++i) {
      if (p[i] < '0' || p[i] > '9') return false;
      x = x * 10 + static_cast<uint64_t>(p[i] - '0');
    }
    if (f->cl && x != out->content_length) return false;  // RFC 9112 6.3 (5)
    f->cl = true;
    out->content_length = x;
    return true;
  });
}

// transfer-coding = token *( OWS ";" OWS transfer-parameter ) (RFC 9112 7).
Result parse_transfer_encoding(const char* v, size_t n, Fields* f, HeadError* err) {
  const char* why = nullptr;
  auto bad = [&why](const char* reason) { return why = reason, false; };
  f->te = true;
  for_each_element(v, n, [&](const char* p, size_t len) {
    size_t tok = 0;
    while (tok < len && is(p[tok], kTchar)) ++tok;
    if (tok == 0) return bad("invalid transfer-coding");  // empty elements too
    if (eq_nocase(p, tok, "chunked")) {
      if (tok != len) return bad("parameters on chunked");  // RFC 9112 7: chunked has none
      if (f->te_chunked) return bad("chunked applied twice");  // RFC 9112 6.1
      f->te_chunked = f->te_last_chunked = true;
      return true;
    }
    if (tok != len && !is_ws(p[tok]) && p[tok] != ';') return bad("invalid transfer-coding");
    f->te_other = true;
    f->te_last_chunked = false;
    return true;
  });
  return why ? fail(err, 400, why) : Result::kOk;
}

// Connection = #connection-option, a token (RFC 9110 7.6.1).
bool parse_connection(const char* v, size_t n, Fields* f) {
  return for_each_element(v, n, [&](const char* p, size_t len) {
    if (len == 0) return true;  // RFC 9110 5.6.1: ignore empty elements
    if (!is_token(p, len)) return false;
    if (eq_nocase(p, len, "close")) f->conn_close = true;
    if (eq_nocase(p, len, "keep-alive")) f->conn_keep_alive = true;
    return true;
  });
}

// The first letter, lower case, of the one field on_field() looks at that has
// a name of each length (0: none has): Host, Expect, Upgrade, Connection,
// Content-Length, Transfer-Encoding.
constexpr char kFieldFirst[18] = {0, 0, 0, 0, 'h', 0, 'e', 'u', 0, 0, 'c', 0, 0, 0, 'c', 0, 0, 't'};

// Recognises the fields that shape framing and the connection. Most fields are
// none of them and are let go on their length and first letter, a test that
// takes no branch per name length (tchars OR 0x20 onto a lower case letter
// only from that letter's two cases; never onto 0).
Result on_field(const char* b, const Header& h, Fields* f, RequestHead* out,
                HeadError* err) {
  const char* name = b + h.name.off;
  if (h.name.len >= sizeof kFieldFirst || kFieldFirst[h.name.len] != (name[0] | 0x20)) return Result::kOk;
  const char* v = b + h.value.off;
  size_t n = h.value.len;
  switch (h.name.len) {
    case 4:
      if (!eq_nocase(name, 4, "host")) break;
      if (++f->host_count > 1) return fail(err, 400, "duplicate Host");  // RFC 9112 3.2
      // RFC 9112 3.2: 400 for an invalid Host; an empty one names no http host
      // (RFC 9110 4.2.1), which only absolute-form may leave unused.
      if (n != 0 && !valid_authority(v, n)) return fail(err, 400, "invalid Host");
      if (n == 0 && !(out->flags & kAbsoluteForm)) return fail(err, 400, "empty Host");
      if (!(out->flags & kAbsoluteForm)) out->host = h.value;  // RFC 9112 3.2.2
      break;
    case 14:
      if (!eq_nocase(name, 14, "content-length")) break;
      if (!parse_content_length(v, n, f, out))  // RFC 9112 6.3 (5)
        return fail(err, 400, "invalid Content-Length");
      break;
    case 17:
      if (!eq_nocase(name, 17, "transfer-encoding")) break;
      return parse_transfer_encoding(v, n, f, err);
    case 10:
      if (!eq_nocase(name, 10, "connection")) break;
      if (!parse_connection(v, n, f)) return fail(err, 400, "invalid Connection");
      break;
    case 6:
      if (!eq_nocase(name, 6, "expect")) break;
      if (!eq_nocase(v, n, "100-continue"))  // RFC 9110 10.1.1
        return fail(err, 417, "unsupported expectation");
      f->expect_continue = true;
      break;
    case 7:
      if (eq_nocase(name, 7, "upgrade")) f->upgrade = true;
      break;
  }
  return Result::kOk;
}

// field-line = field-name ":" OWS field-value OWS, each ending in CRLF
// (RFC 9112 5). `p` is the first line, `end` the final CRLF; the head's bytes
// run to head_end.
Result parse_fields(const char* b, size_t p, size_t end, size_t head_end, const Limits& limits,
                    RequestHead* out, HeadError* err, Fields* f) {
  uint32_t max = limits.max_headers < kMaxHeadersCap ? limits.max_headers : kMaxHeadersCap;
  while (p < end) {
    if (is_ws(b[p])) return fail(err, 400, "obs-fold");  // RFC 9112 5.2 (and 2.2 on line 1)
    size_t q = p;
    while (is(b[q], kTchar)) ++q;  // stops at the line's CR at last
    if (is_ws(b[q])) return fail(err, 400, "whitespace before colon");  // RFC 9112 5.1
    if (b[q] != ':') return fail(err, 400, "invalid field name");  // RFC 9110 5.1
    if (q == p) return fail(err, 400, "empty field name");  // RFC 9110 5.1
    size_t vs = q + 1;
    while (is_ws(b[vs])) ++vs;
    size_t ve = skip_field_chars(b, vs, head_end);
    if (b[ve] != '\r') return fail(err, 400, "invalid field value");  // RFC 9110 5.5
    if (b[ve + 1] != '\n') return fail(err, 400, "bare CR");  // RFC 9112 2.2
    size_t next = ve + 2;
    while (ve > vs && is_ws(b[ve - 1])) --ve;  // RFC 9112 5: OWS is not in the value
    if (out->num_headers == max) return fail(err, 431, "too many header fields");  // RFC 6585 5
    Header& h = out->headers[out->num_headers++];
    h.name = slice(p, q - p);
    h.value = slice(vs, ve - vs);
    if (on_field(b, h, f, out, err) != Result::kOk) return Result::kError;
    p = next;
  }
  return Result::kOk;
}

// Whole-message rules once every field has been seen.
Result finish(const Fields& f, RequestHead* out, HeadError* err) {
  bool http11 = out->flags & kHttp11;
  if (http11 && f.host_count == 0) return fail(err, 400, "missing Host");  // RFC 9112 3.2
  if (f.te) {
    if (!http11) return fail(err, 400, "Transfer-Encoding in HTTP/1.0");  // RFC 9112 6.1
    if (f.cl) return fail(err, 400, "Content-Length with Transfer-Encoding");  // RFC 9112 6.1
    if (!f.te_last_chunked) return fail(err, 400, "chunked is not the final coding");  // RFC 9112 6.3 (4)
    if (f.te_other) return fail(err, 501, "unsupported transfer-coding");  // RFC 9112 6.1
    out->flags |= kChunked;
  }
  if (f.cl) out->flags |= kContentLength;
  if (f.expect_continue && http11) out->flags |= kExpectContinue;  // RFC 9110 10.1.1: ignore for 1.0
  if (f.upgrade && http11) out->flags |= kUpgrade;  // RFC 9110 7.8: ignore for 1.0
  if (http11 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close))  // RFC 9112 9.3
    out->flags |= kKeepAlive;
  return Result::kOk;
}

Result parse_all(const char* b, size_t start, size_t method_end, size_t head_end,
                 const Limits& limits, RequestHead* out, HeadError* err) {
  out->target = out->path = out->query = out->host = Slice{};
  out->flags = 0;
  out->content_length = 0;
  out->num_headers = 0;
  size_t fields = 0;
  if (parse_request_line(b, start, method_end, head_end, limits, out, err, &fields) !=
      Result::kOk)
    return Result::kError;
  if (out->method.len == 7 && std::memcmp(b + start, "CONNECT", 7) == 0)
    return fail(err, 501, "CONNECT not supported");  // RFC 9112 3.2.3: authority-form
  if (parse_target(b, out, err) != Result::kOk) return Result::kError;
  Fields f;
  if (parse_fields(b, fields, head_end - 2, head_end, limits, out, err, &f) != Result::kOk)
    return Result::kError;
  if (finish(f, out, err) != Result::kOk) return Result::kError;
  out->head_len = static_cast<uint32_t>(head_end);
  return Result::kOk;
}

// The head limit was reached with no blank line: 414 if the request-line is
// still open and its target is already too long, else 431 (RFC 6585 5).
Result head_too_large(const char* b, size_t start, bool have_method, size_t method_end,
                      size_t avail, const Limits& limits, HeadError* err) {
  if (have_method && !std::memchr(b + start, '\n', avail - start) &&
      partial_target_len(b, method_end, avail) > limits.max_target)
    return fail(err, 414, "request-target too long");  // RFC 9112 3
  return fail(err, 431, "request head too large");  // RFC 6585 5
}

}  // namespace

Result parse_head(const char* buf, size_t len, const Limits& limits,
                  size_t* scan_from, RequestHead* out, HeadError* err) {
  size_t avail = len < limits.max_head ? len : limits.max_head;
  size_t start = 0, method_end = 0, head_end = 0;
  bool have_start = false, have_method = false;
  Scan s = skip_empty_lines(buf, avail, &start, err);
  if (s == Scan::kError) return Result::kError;
  if (s == Scan::kDone) {
    have_start = true;
    s = check_method(buf, start, avail, &method_end, err);
    if (s == Scan::kError) return Result::kError;
    have_method = s == Scan::kDone;
  }
  if (have_method) {
    // A request-line that cannot end in time is answered now, from the first
    // max_line bytes alone (RFC 9112 3: 414 for a long target).
    size_t window = max_line(limits) + 1;
    if (avail - start >= window && !std::memchr(buf + start, '\n', window)) {
      if (partial_target_len(buf, method_end, start + window) > limits.max_target)
        return fail(err, 414, "request-target too long");  // RFC 9112 3
      return fail(err, 400, "request-line too long");  // RFC 9112 3
    }
    size_t from = scan_from && *scan_from > start ? *scan_from : start;
    if (from > avail) from = avail;
    s = find_head_end(buf, start, from, avail, &head_end, err);
    if (s == Scan::kError) return Result::kError;
    if (s == Scan::kDone) return parse_all(buf, start, method_end, head_end, limits, out, err);
  }
  if (len >= limits.max_head) {
    if (!have_start) return fail(err, 431, "request head too large");  // RFC 6585 5
    return head_too_large(buf, start, have_method, method_end, avail, limits, err);
  }
  if (scan_from) *scan_from = avail;
  return Result::kAgain;
}

// ---- ChunkedDecoder ------------------------------------------------------------

namespace {
constexpr uint32_t kMaxExtLen = 4 * 1024;       // chunk-ext bytes per chunk line
constexpr uint32_t kMaxTrailerLen = 16 * 1024;  // trailer section, final CRLF included
}  // namespace

void ChunkedDecoder::reset() { *this = ChunkedDecoder(); }

ChunkedDecoder::Step ChunkedDecoder::feed(const char* in, size_t len, size_t* consumed,
                                          const char** data, size_t* data_len) {
  *data = nullptr;
  *data_len = 0;
  *consumed = 0;
  if (error_) return Step::kError;
  if (state_ == State::kDone) return Step::kDone;
  size_t p = 0;
  while (p < len) {
    if (state_ == State::kData) {  // body bytes are handed out in place
      size_t n = len - p < remaining_ ? len - p : static_cast<size_t>(remaining_);
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kDataCr;
      *data = in + p;
      *data_len = n;
      *consumed = p + n;
      return Step::kData;
    }
    if (!step(static_cast<unsigned char>(in[p]))) {
      *consumed = p;
      return Step::kError;
    }
    ++p;
    if (state_ == State::kData) {  // the LF ending a chunk-size line, data next
      chunk_size_ = remaining_;
      *consumed = p;
      return Step::kChunk;
    }
    if (state_ == State::kDone) {
      *consumed = p;
      return Step::kDone;
    }
  }
  *consumed = p;
  return Step::kAgain;
}

// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 7.1).
bool ChunkedDecoder::step(unsigned char c) {
  switch (state_) {
    case State::kSize: {
      int h = hex_value(c);
      if (h >= 0) {
        if (size_digits_ == 16) return fail("chunk-size too long");  // uint64 bound
        remaining_ = remaining_ << 4 | static_cast<unsigned>(h);
        ++size_digits_;
        return true;
      }
      if (size_digits_ == 0) return fail("invalid chunk-size");  // RFC 9112 7.1: 1*HEXDIG
      if (c == '\r') return state_ = State::kSizeLf, true;
      if (c == ';' || is_ws(static_cast<char>(c))) {  // RFC 9112 7.1.1: BWS ";"
        state_ = c == ';' ? State::kExt : State::kSizeWs;
        return ++ext_len_, true;
      }
      return fail(c == '\n' ? "bare LF" : "invalid chunk-size");  // RFC 9112 2.2
    }
    case State::kSizeLf:
      if (c != '\n') return fail("bare CR");  // RFC 9112 2.2
      state_ = remaining_ ? State::kData : State::kTrailerStart;  // last-chunk: 1*"0"
      return true;
    case State::kDataCr:
      if (c != '\r') return fail("chunk-data not followed by CRLF");  // RFC 9112 7.1
      return state_ = State::kDataLf, true;
    case State::kDataLf:
      if (c != '\n') return fail("chunk-data not followed by CRLF");  // RFC 9112 7.1
      state_ = State::kSize;
      size_digits_ = 0;
      ext_len_ = 0;
      return true;
    case State::kTrailerStart:
    case State::kTrailerLine:
    case State::kTrailerValue:
    case State::kTrailerLf:
    case State::kFinalLf:
      return step_trailer(c);
    case State::kData:
    case State::kDone:
      return fail("internal state");  // feed() never steps these
    default:
      return step_ext(c);
  }
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
// ext-val = token / quoted-string (RFC 9112 7.1.1).
bool ChunkedDecoder::step_ext(unsigned char c) {
  if (++ext_len_ > kMaxExtLen) return fail("chunk-ext too long");
  char ch = static_cast<char>(c);
  bool ws = is_ws(ch), tchar = is(ch, kTchar);
  switch (state_) {
    case State::kSizeWs:  // BWS between chunk-size and ";"
      if (ws) return true;
      if (c == ';') return state_ = State::kExt, true;
      break;
    case State::kExt:  // after ";"
      if (ws) return true;
      if (tchar) return state_ = State::kExtName, true;
      break;
    case State::kExtName:
      if (tchar) return true;
      if (ws) return state_ = State::kExtNameWs, true;
      if (c == '=') return state_ = State::kExtValWs, true;
      if (c == ';') return state_ = State::kExt, true;
      if (c == '\r') return state_ = State::kSizeLf, true;
      break;
    case State::kExtNameWs:  // BWS before "=" or the next ";"
      if (ws) return true;
      if (c == '=') return state_ = State::kExtValWs, true;
      if (c == ';') return state_ = State::kExt, true;
      break;
    case State::kExtValWs:
      if (ws) return true;
      if (c == '"') return state_ = State::kExtQuoted, true;
      if (tchar) return state_ = State::kExtToken, true;
      break;
    case State::kExtToken:
      if (tchar) return true;
      if (ws) return state_ = State::kExtValEnd, true;
      if (c == ';') return state_ = State::kExt, true;
      if (c == '\r') return state_ = State::kSizeLf, true;
      break;
    case State::kExtQuoted:
      if (c == '"') return state_ = State::kExtValEnd, true;
      if (c == '\\') return state_ = State::kExtQuotedPair, true;
      if (is(ch, kQdText)) return true;
      break;
    case State::kExtQuotedPair:  // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      if (is(ch, kFieldChar)) return state_ = State::kExtQuoted, true;
      break;
    case State::kExtValEnd:  // after a value: BWS ";" or the CRLF
      if (ws) return true;
      if (c == ';') return state_ = State::kExt, true;
      if (c == '\r') return state_ = State::kSizeLf, true;
      break;
    default:
      break;
  }
  return fail(c == '\n' ? "bare LF" : "invalid chunk-ext");  // RFC 9112 7.1.1
}

// trailer-section = *( field-line CRLF ), then CRLF (RFC 9112 7.1.2); lines
// are checked like header fields and then dropped.
bool ChunkedDecoder::step_trailer(unsigned char c) {
  if (++trailer_len_ > kMaxTrailerLen) return fail("trailer section too large");
  char ch = static_cast<char>(c);
  switch (state_) {
    case State::kTrailerStart:
      if (c == '\r') return state_ = State::kFinalLf, true;
      if (is(ch, kTchar)) return state_ = State::kTrailerLine, true;
      if (is_ws(ch)) return fail("obs-fold in trailer");  // RFC 9112 5.2
      break;
    case State::kTrailerLine:
      if (is(ch, kTchar)) return true;
      if (c == ':') return state_ = State::kTrailerValue, true;
      if (is_ws(ch)) return fail("whitespace before colon");  // RFC 9112 5.1
      break;
    case State::kTrailerValue:
      if (is(ch, kFieldChar)) return true;  // OWS and field-vchar (RFC 9110 5.5)
      if (c == '\r') return state_ = State::kTrailerLf, true;
      break;
    case State::kTrailerLf:
      if (c != '\n') return fail("bare CR");  // RFC 9112 2.2
      return state_ = State::kTrailerStart, true;
    case State::kFinalLf:
      if (c != '\n') return fail("bare CR");  // RFC 9112 2.2
      return state_ = State::kDone, true;
    default:
      break;
  }
  return fail(c == '\n' ? "bare LF" : "invalid trailer field");
}

}  // namespace tsgi::http1
