// HTTP/1.1 response serialization: sizes first, fills one buffer. The header
// block from the app arrives already validated (no CR, LF or NUL: the JS side
// refuses those before calling in), so this file only frames.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsgi::http1 {

// "Date: <IMF-fixdate>\r\n", refreshed at most once a second (RFC 9110 6.6.1).
class DateCache {
 public:
  // Returns the header line for now; call once per batch.
  const char* line();
  static constexpr size_t kLen = 37;  // "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

 private:
  long long second_ = -1;
  char buf_[kLen + 1] = {0};
};

const char* reason_phrase(int status);

// "200 OK\r\n" for a status 100..999; returns bytes written (at most 64).
size_t put_status(char* out, int status);
// Decimal digits of v; returns bytes written (at most 20).
size_t put_decimal(char* out, uint64_t v);

// Upper bound of the bytes head() writes for these inputs.
size_t head_size(size_t app_headers_len);

enum HeadFraming : uint8_t {
  kFrameLength,   // Content-Length: content_length
  kFrameChunked,  // Transfer-Encoding: chunked
  kFrameClose,    // neither: the body ends when the connection closes (HTTP/1.0)
  kFrameNone,     // 1xx/204/304: no framing header at all
};

// Writes the status line, the app's header block (each line ends in CRLF),
// Date (unless date_line is null), the framing header and Connection when it must be said, then the blank
// line. Returns bytes written to `out`, which must hold head_size().
size_t head(char* out, int status, bool http11, const char* app_headers,
            size_t app_headers_len, const char* date_line, HeadFraming framing,
            uint64_t content_length, bool keep_alive);

// A complete canned reply for a request the server refuses itself: short
// text body, Connection: close. Returns bytes written (out must hold 512).
size_t error_response(char* out, int status, const char* date_line);

// Chunk framing: "<hex>\r\n" before data (out must hold 20), and the last
// chunk "0\r\n\r\n".
size_t chunk_prefix(char* out, size_t len);
constexpr const char kChunkSuffix[] = "\r\n";
constexpr const char kLastChunk[] = "0\r\n\r\n";

constexpr const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace tsgi::http1
