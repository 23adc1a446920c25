// CONTENT_LENGTH as the CGI-style protocols carry it; see vars.h.
#include "proto/cgi/vars.h"

namespace tsgi::cgi {

// RFC 3875 4.1.2: CONTENT_LENGTH = "" | 1*digit. No sign, no spaces, no
// list: a value nginx, Apache or lighttpd would never write is refused
// rather than guessed at, since it frames the body. Leading zeros are
// allowed, as RFC 9110 8.6 allows them in Content-Length. 19 digits always
// fit in 64 bits (10^19 - 1 < 2^64), so no overflow check is needed.
bool parse_content_length(const char* p, size_t len, uint64_t* out) {
  if (len > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; ++i) {
    unsigned d = static_cast<unsigned char>(p[i]) - unsigned{'0'};
    if (d > 9) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

}  // namespace tsgi::cgi
