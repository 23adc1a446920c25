#include "proto/cgi/writer.h"

#include <cstdio>
#include <cstring>

#include "proto/http1/writer.h"

namespace tsgi::cgi {

size_t head_size(size_t app_headers_len) {
  return 64 + app_headers_len + 40 + 2;
}

static size_t status(char* out, Style style, int code) {
  const char* fmt = style == Style::kStatusLine ? "HTTP/1.1 %03d %s\r\n" : "Status: %03d %s\r\n";
  int n = std::snprintf(out, 64, fmt, code, http1::reason_phrase(code));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t head(char* out, Style style, int code, const char* app_headers, size_t app_headers_len,
            bool has_length, uint64_t content_length) {
  char* p = out;
  p += status(p, style, code);
  std::memcpy(p, app_headers, app_headers_len);
  p += app_headers_len;
  if (has_length) {
    p += std::snprintf(p, 40, "Content-Length: %llu\r\n", static_cast<unsigned long long>(content_length));
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
