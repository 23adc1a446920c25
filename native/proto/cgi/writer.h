// Reply heads for the CGI-style protocols. The front server (nginx, Apache)
// frames the reply to its client, so these heads carry no Date, no
// Connection and never Transfer-Encoding: the body ends with the connection,
// and its length is stated when known.
//   kStatusLine    uwsgi: "HTTP/1.1 200 OK" first (Apache's mod_proxy_uwsgi
//                  requires a status line; nginx accepts it)
//   kStatusHeader  SCGI (and CGI, FastCGI): "Status: 200 OK" as a header
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsgi::cgi {

enum class Style : uint8_t { kStatusLine, kStatusHeader };

size_t head_size(size_t app_headers_len);

size_t head(char* out, Style style, int status, const char* app_headers, size_t app_headers_len,
            bool has_length, uint64_t content_length);

// A complete reply for a request the server refuses itself (out holds 512).
size_t error_response(char* out, Style style, int status);

}  // namespace tsgi::cgi
