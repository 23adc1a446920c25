#include "proto/http1/writer.h"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace tsgi::http1 {

const char* DateCache::line() {
  time_t now = time(nullptr);
  if (now != second_) {
    second_ = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf_, sizeof buf_, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  }
  return buf_;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 200 ? "Informational" : status < 300 ? "Success"
                  : status < 400 ? "Redirection" : status < 500 ? "Client Error"
                  : "Server Error";
  }
}

size_t head_size(size_t app_headers_len) {
  // status line (<= 64) + headers + Date + framing (<= 40) + Connection (<= 26) + CRLF
  return 64 + app_headers_len + DateCache::kLen + 40 + 26 + 2;
}

static size_t put(char* out, const char* s, size_t n) {
  std::memcpy(out, s, n);
  return n;
}
#define PUT_LIT(out, lit) put(out, lit, sizeof(lit) - 1)

// Hand-rolled: snprintf was a fifth of the user-space instructions of a
// hello-world reply (bench/RESULTS.md, callgrind).
size_t put_decimal(char* out, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

size_t put_status(char* out, int status) {
  // status is 100..999 (the JS side allows 200..599; 1xx are the core's).
  out[0] = static_cast<char>('0' + status / 100 % 10);
  out[1] = static_cast<char>('0' + status / 10 % 10);
  out[2] = static_cast<char>('0' + status % 10);
  out[3] = ' ';
  const char* reason = reason_phrase(status);
  size_t len = std::strlen(reason);
  std::memcpy(out + 4, reason, len);
  out[4 + len] = '\r';
  out[5 + len] = '\n';
  return 6 + len;
}

size_t head(char* out, int status, bool http11, const char* app_headers,
            size_t app_headers_len, const char* date_line, HeadFraming framing,
            uint64_t content_length, bool keep_alive) {
  char* p = out;
  // RFC 9112 4: we answer with our highest minor version, HTTP/1.1, even to
  // 1.0 clients; keep-alive for 1.0 is then said explicitly below.
  p += PUT_LIT(p, "HTTP/1.1 ");
  p += put_status(p, status);
  p += put(p, app_headers, app_headers_len);
  if (date_line) p += put(p, date_line, DateCache::kLen);
  switch (framing) {
    case kFrameLength:
      p += PUT_LIT(p, "Content-Length: ");
      p += put_decimal(p, content_length);
      p += PUT_LIT(p, "\r\n");
      break;
    case kFrameChunked:
      p += PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
      break;
    case kFrameClose:
    case kFrameNone:
      break;
  }
  if (!keep_alive) {
    p += PUT_LIT(p, "Connection: close\r\n");
  } else if (!http11) {
    p += PUT_LIT(p, "Connection: keep-alive\r\n");
  }
  p += PUT_LIT(p, "\r\n");
  return static_cast<size_t>(p - out);
}

size_t error_response(char* out, int status, const char* date_line) {
  const char* reason = reason_phrase(status);
  int n = std::snprintf(out, 512,
                        "HTTP/1.1 %03d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s\n",
                        status, reason, std::strlen(reason) + 1, date_line, reason);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t chunk_prefix(char* out, size_t len) {
  int n = std::snprintf(out, 20, "%zx\r\n", len);
  return static_cast<size_t>(n);
}

}  // namespace tsgi::http1
