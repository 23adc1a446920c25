// HTTP/1.1 request framing (RFC 9110, RFC 9112). Pure: bytes in, results out,
// no I/O, no allocation. Two pieces:
//   parse_head()    a request line and header block, strict, bounded;
//   ChunkedDecoder  the chunked transfer coding, resumable at any byte.
// A connection calls parse_head() on the bytes it has buffered from the start
// of a request (it returns kAgain until the blank line arrives, cheaply: a
// caller passes `scan_from` so already-seen bytes are not searched again), then
// drives the body with the Content-Length it reports or with ChunkedDecoder.
#pragma once

#include <cstddef>
#include <cstdint>

#include "napi/abi.h"

namespace tsgi::http1 {

// Offsets into the buffer given to parse_head(); len 0 = absent.
struct Slice {
  uint32_t off = 0;
  uint32_t len = 0;
};

struct Header {
  Slice name;   // as sent (case kept), validated token
  Slice value;  // leading and trailing whitespace trimmed
};

constexpr uint32_t kMaxHeadersCap = 256;

struct Limits {
  uint32_t max_head = 64 * 1024;  // request line + headers + blank line -> 431 beyond
  uint32_t max_headers = 100;     // header fields -> 431 beyond (<= kMaxHeadersCap)
  uint32_t max_target = 16 * 1024;  // request-target -> 414 beyond
};

enum class Result : uint8_t { kOk, kAgain, kError };

// HeadFlags (kHttp11, kKeepAlive, kChunked, ...) are in napi/abi.h: they
// reach JS as they are, in the request record's FLAGS word.

struct RequestHead {
  Slice method;
  Slice target;   // the request-target as sent (REQUEST_URI)
  Slice path;     // absolute path part: for absolute-form, after the authority;
                  // len 0 when an absolute-form target has no path (the
                  // connection treats it as "/"); "*" for OPTIONS *
  Slice query;    // after '?', excluding it (len 0 if none or empty)
  Slice host;     // authority of absolute-form, else the Host header value
                  // (len 0 for HTTP/1.0 without Host, or an empty Host)
  uint32_t flags = 0;
  uint64_t content_length = 0;  // valid when kContentLength
  uint32_t head_len = 0;        // bytes of the head, through the blank line
  uint32_t num_headers = 0;
  Header headers[kMaxHeadersCap];
};

// On kError, `status` is the HTTP status to answer with (400, 414, 417, 431,
// 501, 505) and `reason` a short static text for logs.
struct HeadError {
  int status = 0;
  const char* reason = "";
};

// Parses the head at buf[0, len). `scan_from` is how many bytes of buf a
// previous kAgain already searched (0 the first time); on kAgain it is updated.
// kAgain while the blank line has not arrived and len < max_head; past that it
// is a 431 (or 414 while still in the request line).
Result parse_head(const char* buf, size_t len, const Limits& limits,
                  size_t* scan_from, RequestHead* out, HeadError* err);

// The chunked transfer coding (RFC 9112 7.1), trailers parsed and validated
// but not kept. Limits: chunk-size of at most 16 hex digits (no overflow),
// chunk extensions and the trailer section bounded.
class ChunkedDecoder {
 public:
  enum class Step : uint8_t {
    kAgain,  // consumed everything given; feed more
    kChunk,  // a chunk-size line ended: chunk_size() bytes of chunk-data
             // follow (never 0: the last chunk goes on to the trailers), so a
             // body limit is checked before any of them arrive
    kData,   // *data / *data_len point at body bytes inside the input
    kDone,   // last chunk and trailers complete; *consumed stops right after
    kError,  // malformed: answer 400 and close
  };

  void reset();
  // Feeds in[0, len). Sets *consumed to the bytes used by this call (for kData
  // that includes the data returned). Call again with the rest.
  Step feed(const char* in, size_t len, size_t* consumed, const char** data,
            size_t* data_len);
  const char* error() const { return error_; }
  // The size of the chunk whose size line ended last (after kChunk).
  uint64_t chunk_size() const { return chunk_size_; }

 private:
  // State per position in the grammar; the names follow RFC 9112 7.1.
  // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): kExt is
  // after ";", then kExtName, kExtNameWs, kExtValWs (after "="), kExtToken or
  // kExtQuoted/kExtQuotedPair, kExtValEnd. A trailer line is kTrailerLine
  // (the name) then kTrailerValue.
  enum class State : uint8_t {
    kSize, kSizeWs, kExt, kExtName, kExtNameWs, kExtValWs, kExtToken,
    kExtQuoted, kExtQuotedPair, kExtValEnd, kSizeLf, kData, kDataCr, kDataLf,
    kTrailerStart, kTrailerLine, kTrailerValue, kTrailerLf, kFinalLf, kDone,
  };
  bool step(unsigned char c);  // one framing byte; false (and error_) on error
  bool step_ext(unsigned char c);
  bool step_trailer(unsigned char c);
  bool fail(const char* why) { error_ = why; return false; }

  State state_ = State::kSize;
  uint8_t size_digits_ = 0;
  uint64_t remaining_ = 0;
  uint64_t chunk_size_ = 0;
  uint32_t ext_len_ = 0;
  uint32_t trailer_len_ = 0;
  const char* error_ = nullptr;
};

}  // namespace tsgi::http1
