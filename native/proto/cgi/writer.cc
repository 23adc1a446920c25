#include "proto/cgi/writer.h"

#include <cstdio>
#include <cstring>

#include "proto/http1/writer.h"

namespace tsgi::cgi {

size_t head_size(size_t app_headers_len) {
  return 64 + app_headers_len + 40 + 2;
}

static size_t status(char* out, Style style, int code) {
  const char* prefix = style == Style::kStatusLine ? "HTTP/1.1 " : "Status: ";
  size_t n = std::strlen(prefix);
  std::memcpy(out, prefix, n);
  return n + http1::put_status(out + n, code);
}

size_t head(char* out, Style style, int code, const char* app_headers, size_t app_headers_len,
            bool has_length, uint64_t content_length) {
  char* p = out;
  p += status(p, style, code);
  std::memcpy(p, app_headers, app_headers_len);
  p += app_headers_len;
  if (has_length) {
    std::memcpy(p, "Content-Length: ", 16);
    p += 16;
    p += http1::put_decimal(p, content_length);
    *p++ = '\r';
    *p++ = '\n';
  }
  *p++ = '\r';
  *p++ = '\n';
  return static_cast<size_t>(p - out);
}

size_t error_response(char* out, Style style, int code) {
  size_t n = status(out, style, code);
  const char* reason = http1::reason_phrase(code);
  int m = std::snprintf(out + n, 512 - n,
                        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s\n",
                        std::strlen(reason) + 1, reason);
  return n + (m > 0 ? static_cast<size_t>(m) : 0);
}

}  // namespace tsgi::cgi
