// The SCGI request; see framer.h and docs/protocols.md.
//
// parse() reads the netstring length digit by digit and refuses it at the
// byte that makes it wrong (a letter first, a non-digit, a leading zero, an
// eleventh digit, a length the limit cannot hold). Once the ':' is in it
// answers kAgain in O(1) until the whole netstring through its ',' is there,
// and only then walks the header block once. So a prefix of a request never
// fails for a reason the whole request would not, and a caller may call
// parse() again after every read. Nothing past the ',' is read: that is the
// body.
#include "proto/scgi/framer.h"

#include <cstring>

namespace tsgi::scgi {
namespace {

// Netstrings (cr.yp.to/proto/netstrings.txt) put no bound on [len]; ten
// digits are more than any max_block (a uint32) can accept.
constexpr size_t kMaxDigits = 10;

Result fail(Error e, uint64_t d, Error* err, uint32_t* detail) {
  *err = e;
  *detail = d > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(d);
  return Result::kError;
}

// Header names are CGI meta-variable names (RFC 3875 4.1) as nginx, Apache
// and lighttpd write them; the SCGI grammar would allow any non-NUL byte, we
// keep control bytes, spaces and obs-text out of names.
bool is_name_byte(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

bool name_is(const unsigned char* p, size_t n, const char* lit, size_t lit_len) {
  return n == lit_len && std::memcmp(p, lit, n) == 0;
}

http1::Slice slice(size_t off, size_t len) {
  return http1::Slice{static_cast<uint32_t>(off), static_cast<uint32_t>(len)};
}

// The digits before ':'. kOk with *colon at the ':' and *block_len parsed;
// kAgain while the ':' has not arrived; kError at the first wrong byte.
Result parse_length(const unsigned char* b, size_t len, const Limits& limits, size_t* colon,
                    uint64_t* block_len, Error* err, uint32_t* detail) {
  uint64_t n = 0;
  for (size_t i = 0;; ++i) {
    if (i == len) return Result::kAgain;
    const unsigned char c = b[i];
    if (c == ':') {
      if (i == 0) return fail(Error::kBadNetstring, i, err, detail);
      *colon = i;
      *block_len = n;
      return Result::kOk;
    }
    const unsigned d = c - unsigned{'0'};
    // netstrings.txt: "[len] begins with <30> exactly when [string] is
    // empty", so "0:" is the only length starting with '0'.
    if (d > 9 || (i == 1 && b[0] == '0') || i == kMaxDigits)
      return fail(Error::kBadNetstring, i, err, detail);
    n = n * 10 + d;
    // The whole netstring is at least (i + 1) digits + ':' + n + ','; more
    // digits only make it longer, so refuse now rather than wait for ':'.
    // The detail is the length as read so far (exact unless more digits
    // were on their way).
    if (i + 3 + n > limits.max_block) return fail(Error::kTooLarge, n, err, detail);
  }
}

// Walks the block b[start, stop): { name NUL value NUL }*. For kMalformed,
// *detail is the offset of the pair that broke (from the start of buf).
Result parse_block(const unsigned char* b, size_t start, size_t stop, const Limits& limits,
                   Request* out, Error* err, uint32_t* detail) {
  const uint32_t max_vars = limits.max_vars < cgi::kMaxVarsCap ? limits.max_vars
                                                               : cgi::kMaxVarsCap;
  cgi::VarTable& t = out->vars;
  bool scgi_one = false;
  // scgi.txt: the first header must be CONTENT_LENGTH, "present even if its
  // value is 0", so an empty block has none.
  if (start == stop) return fail(Error::kNoContentLength, start, err, detail);
  size_t p = start;
  while (p < stop) {
    const size_t pair = p;
    if (t.count == max_vars) return fail(Error::kTooManyVars, max_vars, err, detail);
    // The block must end right after a value's NUL: a name or a value cut
    // off by the end of the block has no terminator in it.
    const void* nul = std::memchr(b + p, 0, stop - p);
    if (!nul) return fail(Error::kMalformed, pair, err, detail);
    const size_t nlen = static_cast<const unsigned char*>(nul) - (b + p);
    if (nlen == 0) return fail(Error::kMalformed, pair, err, detail);  // name ::= notnull+
    for (size_t i = 0; i < nlen; ++i)
      if (!is_name_byte(b[p + i])) return fail(Error::kMalformed, pair, err, detail);
    const size_t voff = p + nlen + 1;
    nul = std::memchr(b + voff, 0, stop - voff);
    if (!nul) return fail(Error::kMalformed, pair, err, detail);
    const size_t vlen = static_cast<const unsigned char*>(nul) - (b + voff);
    const unsigned char* name = b + p;

    if (t.count == 0) {
      if (!name_is(name, nlen, "CONTENT_LENGTH", 14))
        return fail(Error::kNoContentLength, pair, err, detail);
      // scgi.txt: "a value that is a nonempty sequence of ASCII digits";
      // nginx writes "0" without a body, never an empty value.
      uint64_t v = 0;
      if (vlen == 0 ||
          !cgi::parse_content_length(reinterpret_cast<const char*>(b + voff), vlen, &v))
        return fail(Error::kBadContentLength, pair, err, detail);
      out->content_length = v;
    } else {
      // scgi.txt: "Duplicate names are not allowed in the headers." This
      // also refuses a second CONTENT_LENGTH, so the body has one framing.
      // Except HTTP_* names: nginx before 1.23 (Debian 12 ships 1.22) sends
      // a repeated request header as repeated HTTP_* pairs, and refusing
      // them would break the distribution's own nginx; the gateway joins
      // them as nginx 1.23+ would. They carry no framing.
      const bool http_var = nlen > 5 && std::memcmp(name, "HTTP_", 5) == 0;
      for (uint32_t j = 0; j < t.count && !http_var; ++j) {
        const cgi::Var& o = t.vars[j];
        if (o.name.len == nlen && std::memcmp(b + o.name.off, name, nlen) == 0)
          return fail(Error::kMalformed, pair, err, detail);
      }
    }
    if (name_is(name, nlen, "SCGI", 4)) scgi_one = vlen == 1 && b[voff] == '1';
    t.vars[t.count++] = cgi::Var{slice(p, nlen), slice(voff, vlen)};
    p = voff + vlen + 1;
  }
  // scgi.txt: "There must also always be a header with the name "SCGI" and
  // a value of "1"." nginx takes it from the stock scgi_params, so a
  // hand-written config that omits it lands here; the log line says so.
  if (!scgi_one) return fail(Error::kNoScgi, 0, err, detail);
  return Result::kOk;
}

}  // namespace

Result parse(const char* buf, size_t len, const Limits& limits, Request* out, Error* err,
             uint32_t* detail) {
  *err = Error::kNone;
  *detail = 0;
  out->vars.count = 0;
  out->content_length = 0;
  if (len == 0) return Result::kAgain;
  const unsigned char* b = reinterpret_cast<const unsigned char*>(buf);
  // A request line ("GET / HTTP/1.1") on an SCGI socket: say so instead of
  // "bad netstring".
  if (b[0] >= 'A' && b[0] <= 'Z') return fail(Error::kLooksLikeHttp, b[0], err, detail);

  size_t colon = 0;
  uint64_t block_len = 0;
  Result r = parse_length(b, len, limits, &colon, &block_len, err, detail);
  if (r != Result::kOk) return r;
  // block_len + colon + 2 <= max_block here, so it fits in 32 bits.
  const size_t start = colon + 1;
  const size_t stop = start + static_cast<size_t>(block_len);
  const size_t head_len = stop + 1;
  if (len < head_len) return Result::kAgain;
  if (b[stop] != ',') return fail(Error::kBadNetstring, stop, err, detail);

  out->head_len = static_cast<uint32_t>(head_len);
  return parse_block(b, start, stop, limits, out, err, detail);
}

const char* error_text(Error e) {
  switch (e) {
    case Error::kNone: return "no error";
#define TSGI_X(name, text) \
  case Error::name:        \
    return text;
    TSGI_SCGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return "unknown SCGI error";
}

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone: return "kNone";
#define TSGI_X(name, text) \
  case Error::name:        \
    return #name;
    TSGI_SCGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return "?";
}

}  // namespace tsgi::scgi
