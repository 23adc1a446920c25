// The uwsgi request packet; see framer.h and docs/protocols.md.
//
// parse() decides everything it can from the 4-byte header as soon as those
// bytes are in (HTTP on the wrong socket, modifiers, an empty or oversized
// packet), then answers kAgain in O(1) until all 4 + datasize bytes are
// there, and only then walks the vars block once. So a prefix of a packet
// never fails for a reason the whole packet would not, and a caller may call
// parse() again after every read without paying for the bytes twice.
// Nothing at or past 4 + datasize is read: that is the body.
#include "proto/uwsgi/framer.h"

#include <cstring>

namespace tsgi::uwsgi {
namespace {

constexpr uint32_t kHeaderLen = 4;  // modifier1, datasize (u16le), modifier2

Result fail(Error e, uint32_t d, Error* err, uint32_t* detail) {
  *err = e;
  *detail = d;
  return Result::kError;
}

uint32_t le16(const unsigned char* p) { return p[0] | (uint32_t{p[1]} << 8); }

bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

// "GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI", "PATC", "CONN", "PRI " and
// any other method start: an upper-case letter, then letters or a space.
// As a uwsgi header that is modifier1 'G' (71) with datasize 21573 ("ET"):
// uWSGI's own log then says "invalid request block size: 21573", which the
// uWSGI docs (ThingsToKnow) explain as HTTP on a uwsgi socket. We name it.
bool looks_like_http(const unsigned char* h) {
  if (!is_upper(h[0])) return false;
  for (int i = 1; i < 4; ++i)
    if (!is_upper(h[i]) && h[i] != ' ') return false;
  return true;
}

// Keys are CGI meta-variable names (RFC 3875 4.1): nginx writes
// "HTTP_" + the upper-cased header name and its own uwsgi_param names,
// Apache and lighttpd the same. Printable ASCII without space covers all of
// them and keeps control bytes and obs-text out of names for good.
bool is_key_byte(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

bool is_content_length(const unsigned char* p, size_t n) {
  return n == 14 && std::memcmp(p, "CONTENT_LENGTH", 14) == 0;
}

http1::Slice slice(size_t off, size_t len) {
  return http1::Slice{static_cast<uint32_t>(off), static_cast<uint32_t>(len)};
}

// Walks the block b[kHeaderLen, end). For kMalformed, *detail is the offset
// of the pair that broke (from the start of the packet).
Result parse_vars(const unsigned char* b, size_t end, const Limits& limits, Packet* out,
                  Error* err, uint32_t* detail) {
  const uint32_t max_vars = limits.max_vars < cgi::kMaxVarsCap ? limits.max_vars
                                                               : cgi::kMaxVarsCap;
  cgi::VarTable& t = out->vars;
  bool have_length = false;
  size_t p = kHeaderLen;
  while (p < end) {
    const uint32_t pair = static_cast<uint32_t>(p);
    if (t.count == max_vars) return fail(Error::kTooManyVars, max_vars, err, detail);
    // uWSGI core/protocol.c uwsgi_parse_vars: "key cannot be null", and a
    // size running past the block is "invalid uwsgi request". So is a
    // trailing byte that cannot hold a size.
    if (end - p < 2) return fail(Error::kMalformed, pair, err, detail);
    const size_t klen = le16(b + p);
    p += 2;
    if (klen == 0 || klen > end - p) return fail(Error::kMalformed, pair, err, detail);
    const size_t koff = p;
    for (size_t i = 0; i < klen; ++i)
      if (!is_key_byte(b[p + i])) return fail(Error::kMalformed, pair, err, detail);
    p += klen;
    if (end - p < 2) return fail(Error::kMalformed, pair, err, detail);
    const size_t vlen = le16(b + p);
    p += 2;
    if (vlen > end - p) return fail(Error::kMalformed, pair, err, detail);
    const size_t voff = p;
    // Values may be empty and hold any byte but NUL: PATH_INFO is decoded
    // (RFC 3875 4.1.5), so it can carry CR, LF or obs-text, but nginx
    // refuses a decoded %00 (400) and no CGI variable can hold NUL (they are
    // environment strings, RFC 3875 7.2; SCGI cannot encode one at all).
    // A NUL would only let a C consumer see a shorter value than JS does.
    if (vlen && std::memchr(b + voff, 0, vlen)) return fail(Error::kMalformed, pair, err, detail);
    p += vlen;

    if (is_content_length(b + koff, klen)) {
      // nginx sends `CONTENT_LENGTH $content_length`, empty without a body.
      // A second CONTENT_LENGTH (a hand-written uwsgi_param) must agree:
      // two framings of one body is the smuggling shape.
      uint64_t v = 0;
      if (!cgi::parse_content_length(reinterpret_cast<const char*>(b + voff), vlen, &v) ||
          (have_length && v != out->content_length))
        return fail(Error::kBadContentLength, pair, err, detail);
      out->content_length = v;
      have_length = true;
    }
    // Repeated names are kept in order: nginx before 1.23 sends a repeated
    // request header as repeated HTTP_* pairs; the gateway layer joins them.
    t.vars[t.count++] = cgi::Var{slice(koff, klen), slice(voff, vlen)};
  }
  return Result::kOk;
}

}  // namespace

Result parse(const char* buf, size_t len, const Limits& limits, Packet* out, Error* err,
             uint32_t* detail) {
  *err = Error::kNone;
  *detail = 0;
  out->vars.count = 0;
  out->content_length = 0;
  if (len < kHeaderLen) return Result::kAgain;
  const unsigned char* b = reinterpret_cast<const unsigned char*>(buf);

  // Before the size test, so HTTP on a uwsgi socket never reads as a size
  // error (uWSGI ThingsToKnow: "invalid request block size: 21573").
  if (looks_like_http(b)) return fail(Error::kLooksLikeHttp, b[0], err, detail);
  // uWSGI Protocol: modifier1 0 is a WSGI/CGI request, 30 the same with
  // SCRIPT_NAME to be stripped from PATH_INFO; nginx, Apache and lighttpd
  // send 0 unless configured. modifier2 is 0 for both; other values belong
  // to uWSGI plugins or to other packet types (ping, spooler, ...).
  if ((b[0] != 0 && b[0] != 30) || b[3] != 0)
    return fail(Error::kBadModifier, b[0], err, detail);
  // The datasize is little-endian on the wire whatever the host (uWSGI
  // Protocol; nginx writes len & 0xff first).
  const uint32_t datasize = le16(b + 1);
  // A request needs at least REQUEST_METHOD; no web server sends an empty
  // block (nginx's "uwsgi request is too little" check is compiled out, but
  // it always has its params), so an empty packet is refused, not served.
  if (datasize == 0) return fail(Error::kMalformed, kHeaderLen, err, detail);
  const uint32_t head_len = kHeaderLen + datasize;
  if (head_len > limits.max_block) return fail(Error::kTooLarge, head_len, err, detail);
  if (len < head_len) return Result::kAgain;

  out->modifier1 = b[0];
  out->modifier2 = b[3];
  out->datasize = datasize;
  out->head_len = head_len;
  return parse_vars(b, head_len, limits, out, err, detail);
}

const char* error_text(Error e) {
  switch (e) {
    case Error::kNone: return "no error";
#define TSGI_X(name, text) \
  case Error::name:        \
    return text;
    TSGI_UWSGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return "unknown uwsgi error";
}

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone: return "kNone";
#define TSGI_X(name, text) \
  case Error::name:        \
    return #name;
    TSGI_UWSGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return "?";
}

}  // namespace tsgi::uwsgi
