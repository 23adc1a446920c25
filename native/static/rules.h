// The pure part of static file serving: request paths, preconditions,
// ranges and content codings, as functions of bytes and numbers. No I/O, no
// state, nothing of the connection; the responder (static/responder.h)
// applies them to a file it opened. Each rule cites the RFC section that
// makes it. Unit-tested through the testing addon, fuzzed by
// test/fuzz/static_fuzz.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tsgi::files {

// A header value or CGI variable as bytes, absent when p is null.
struct Text {
  const char* p = nullptr;
  size_t n = 0;
  bool present() const { return p != nullptr; }
};

// ---- paths -----------------------------------------------------------------

enum class PathError : uint8_t {
  kNone,
  kNotAbsolute,  // does not start with '/'
  kBadEscape,    // '%' not followed by two hex digits
  kNul,          // a NUL byte, sent or decoded: no file name holds one
  kBackslash,    // '\': a separator elsewhere, refused rather than guessed
  kAboveRoot,    // a ".." segment would leave the root
};
const char* path_error_text(PathError e);

struct CleanPath {
  std::string path;           // starts with '/'; no "//", "." or ".." segments
  bool trailing_slash = false;  // the request named a directory ("/a/")
  bool hidden = false;          // a segment starts with '.' (a dot-file or dot-directory)
};

// Percent-decodes `p` once when `decode` (a request-target's path; a CGI
// PATH_INFO is decoded already and must not be decoded twice), then resolves
// "." and ".." segments and merges slashes (RFC 3986 5.2.4). Decoding comes
// first, so "%2e%2e" is "..", and "%252e" stays the name "%2e".
PathError clean_path(const char* p, size_t n, bool decode, CleanPath* out);

// ---- validators and preconditions (RFC 9110 8.8, 13) -----------------------

// A strong entity tag from what changes when the file does: inode, size and
// modification time (ns). Writes `"ino-size-mtime"` in hex; returns its length.
constexpr size_t kEtagMax = 3 * 16 + 4;
size_t format_etag(char* out, uint64_t ino, uint64_t size, int64_t mtime_ns);

// HTTP-date (RFC 9110 5.6.7): IMF-fixdate, and the obsolete RFC 850 and
// asctime forms a recipient must also accept. Seconds since the epoch.
bool parse_http_date(const char* p, size_t n, int64_t* out);
constexpr size_t kHttpDateLen = 29;
void format_http_date(int64_t t, char out[kHttpDateLen]);

// Whether the field `list` (an If-Match / If-None-Match value: "*" or
// entity-tags) matches `etag` (with its quotes): the strong comparison
// (RFC 9110 8.8.3.2) for If-Match and If-Range, the weak one for If-None-Match.
bool etag_matches(Text list, const char* etag, size_t etag_len, bool strong);

struct Preconditions {
  Text if_match, if_none_match, if_modified_since, if_unmodified_since;
};
struct Validator {
  const char* etag = nullptr;
  size_t etag_len = 0;
  int64_t mtime = 0;  // seconds, as Last-Modified says it
};
// RFC 9110 13.2.2's order, for GET and HEAD: 412 when If-Match or
// If-Unmodified-Since fail, 304 when If-None-Match or If-Modified-Since
// say the client's copy is current, else 0 (serve it).
int evaluate_preconditions(const Preconditions& pre, const Validator& v);

// RFC 9110 13.1.5: If-Range holds when it is the current strong entity-tag
// or exactly the Last-Modified date; otherwise the whole file is sent.
bool if_range_holds(Text if_range, const Validator& v);

// ---- ranges (RFC 9110 14) --------------------------------------------------

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};
// More ranges than this in one request are not served as ranges: the whole
// file is (14.2 lets a server ignore Range), so a thousand tiny ranges cost
// no more than one reply.
constexpr size_t kMaxRanges = 16;
enum class RangeResult : uint8_t {
  kIgnore,          // no valid "bytes" ranges: send the whole file (200)
  kOk,              // ranges[0..count) to send (206)
  kUnsatisfiable,   // none lies within the file (416)
};
// Parses a Range value against a file of `size` bytes. Satisfiable ranges
// are kept in the order asked; when any overlap or touch, they are sorted
// and merged (14.2 lets a server coalesce them), so no byte is sent twice.
RangeResult parse_range(Text value, uint64_t size, ByteRange* ranges, size_t* count);

// ---- content codings (RFC 9110 12.5.3) -------------------------------------

enum Coding : uint8_t { kIdentity = 0, kGzip = 1, kBrotli = 2 };
constexpr unsigned kCodingBit(Coding c) { return 1u << c; }

// The coding to send among `available` (bits of Coding; identity is always
// there) for this Accept-Encoding: the highest q-value above 0, brotli before
// gzip before identity on a tie. Without the field, identity.
Coding choose_coding(Text accept_encoding, unsigned available);

}  // namespace tsgi::files
