// See reply.h.
#include "loadgen/reply.h"

#include <algorithm>
#include <cstring>
#include <strings.h>

namespace tsgi::loadgen {

namespace {

bool iequals(const char* a, size_t n, const char* lit) {
  return n == std::strlen(lit) && strncasecmp(a, lit, n) == 0;
}

bool icontains(const char* a, size_t n, const char* lit) {
  size_t m = std::strlen(lit);
  for (size_t i = 0; i + m <= n; i++)
    if (strncasecmp(a + i, lit, m) == 0) return true;
  return false;
}

// Three digits, then the end or a space (RFC 9112 4).
int parse_status(const char* p, size_t n) {
  if (n < 3) return -1;
  for (int i = 0; i < 3; i++)
    if (p[i] < '0' || p[i] > '9') return -1;
  if (n > 3 && p[3] != ' ') return -1;
  return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

int64_t parse_length(const char* p, size_t n) {
  if (n == 0 || n > 18) return -2;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -2;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

int parse_head(const char* data, size_t n, bool cgi, Head* h) {
  *h = Head{};
  size_t pos = 0;
  bool first = true;
  for (;;) {
    const void* nl = std::memchr(data + pos, '\n', n - pos);
    if (nl == nullptr) return n >= kMaxHead ? -1 : 0;
    size_t end = size_t(static_cast<const char*>(nl) - data);
    size_t line_end = end > pos && data[end - 1] == '\r' ? end - 1 : end;
    const char* line = data + pos;
    size_t len = line_end - pos;
    pos = end + 1;
    if (len == 0) {
      if (first) return -1;
      if (h->status < 0) {
        if (!cgi) return -1;
        h->status = 200;
      }
      h->len = pos;
      return 1;
    }
    if (first && len >= 5 && std::memcmp(line, "HTTP/", 5) == 0) {
      // HTTP-version SP 3DIGIT SP [reason] (RFC 9112 4)
      if (len < 12 || line[5] < '0' || line[5] > '9' || line[6] != '.' || line[7] < '0' || line[7] > '9' ||
          line[8] != ' ')
        return -1;
      h->status = parse_status(line + 9, len - 9);
      if (h->status < 0) return -1;
      first = false;
      continue;
    }
    if (first && !cgi) return -1;
    first = false;
    const char* colon = static_cast<const char*>(std::memchr(line, ':', len));
    if (colon == nullptr || colon == line) return -1;
    size_t name_len = size_t(colon - line);
    const char* value = colon + 1;
    size_t value_len = len - name_len - 1;
    while (value_len > 0 && (*value == ' ' || *value == '\t')) value++, value_len--;
    while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t')) value_len--;
    if (iequals(line, name_len, "content-length")) {
      int64_t v = parse_length(value, value_len);
      // RFC 9112 6.3: an invalid or conflicting length is unrecoverable.
      if (v < 0 || (h->content_length >= 0 && h->content_length != v)) return -1;
      h->content_length = v;
    } else if (iequals(line, name_len, "transfer-encoding")) {
      if (icontains(value, value_len, "chunked")) h->chunked = true;
    } else if (iequals(line, name_len, "connection")) {
      if (icontains(value, value_len, "close")) h->close = true;
    } else if (cgi && iequals(line, name_len, "status") && h->status < 0) {
      h->status = parse_status(value, value_len);
      if (h->status < 0) return -1;
    }
  }
}

int check_cgi_reply(const Options& o, const char* data, size_t stored, uint64_t total, std::string* why, int* status) {
  Head h;
  int rc = parse_head(data, stored, true, &h);
  if (rc != 1) {
    if (why) *why = total == 0 ? "empty reply" : rc == 0 ? "reply ends inside its head" : "malformed reply head";
    return total == 0 ? kErrRead : rc == 0 ? kErrShortBody : kErrFraming;
  }
  if (status) *status = h.status;
  uint64_t body = total - h.len;
  if (o.expect_status != 0 && h.status != o.expect_status) {
    if (why) *why = "status " + std::to_string(h.status);
    return kErrStatus;
  }
  if (h.content_length >= 0 && body != uint64_t(h.content_length)) {
    if (why) *why = "body of " + std::to_string(body) + " bytes, Content-Length " + std::to_string(h.content_length);
    return body < uint64_t(h.content_length) ? kErrShortBody : kErrLength;
  }
  if (o.expect_body_length >= 0 && body != uint64_t(o.expect_body_length)) {
    if (why) *why = "body of " + std::to_string(body) + " bytes, expected " + std::to_string(o.expect_body_length);
    return kErrLength;
  }
  return -1;
}

HttpReply::Rc HttpReply::feed(const char* data, size_t n, size_t* used, bool head_request) {
  size_t i = 0;
  while (!head_done_) {
    int rc = parse_head(data + i, n - i, false, &head_);
    if (rc < 0) {
      *used = i;
      return kFraming;
    }
    if (rc == 0) {
      *used = i;  // the head is re-parsed whole when more arrives
      return kAgain;
    }
    i += head_.len;
    if (head_.status >= 100 && head_.status < 200) continue;  // 1xx: the real reply follows
    head_done_ = true;
    seen_ = 0;
    chunk_ = kSize;
    // RFC 9112 6.3: no body after HEAD, 204, 304; chunked wins over a length.
    if (head_request || head_.status == 204 || head_.status == 304) mode_ = kNone;
    else if (head_.chunked) mode_ = kChunked;
    else if (head_.content_length >= 0) mode_ = kLength, left_ = uint64_t(head_.content_length);
    else mode_ = kUntilClose;
  }
  Rc rc = kAgain;
  switch (mode_) {
    case kNone:
      rc = kDone;
      break;
    case kLength: {
      uint64_t take = std::min<uint64_t>(n - i, left_);
      i += take;
      left_ -= take;
      seen_ += take;
      rc = left_ == 0 ? kDone : kAgain;
      break;
    }
    case kUntilClose:
      seen_ += n - i;
      i = n;
      break;
    case kChunked:
      rc = chunked(data, n, &i);
      break;
  }
  *used = i;
  return rc;
}

// RFC 9112 7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF trailers CRLF.
HttpReply::Rc HttpReply::chunked(const char* data, size_t n, size_t* at) {
  size_t i = *at;
  for (;;) {
    if (chunk_ == kData) {
      uint64_t take = std::min<uint64_t>(n - i, left_);
      i += take;
      left_ -= take;
      seen_ += take;
      if (left_ > 0) break;
      chunk_ = kDataEnd;
    }
    if (chunk_ == kDataEnd) {
      if (i >= n) break;
      if (data[i] == '\r') {
        if (i + 1 >= n) break;
        if (data[i + 1] != '\n') return *at = i, kFraming;
        i += 2;
      } else if (data[i] == '\n') {
        i += 1;
      } else {
        return *at = i, kFraming;
      }
      chunk_ = kSize;
    }
    const char* p = data + i;
    const void* nl = std::memchr(p, '\n', n - i);
    if (nl == nullptr) {
      if (n - i > 4096) return *at = i, kFraming;
      break;
    }
    size_t line = size_t(static_cast<const char*>(nl) - p);
    if (chunk_ == kTrailer) {
      i += line + 1;
      if (line == 0 || (line == 1 && p[0] == '\r')) return *at = i, kDone;
      continue;
    }
    uint64_t size = 0;
    size_t k = 0;
    for (; k < line && hex(p[k]) >= 0; k++) {
      if (k >= 15) return *at = i, kFraming;
      size = size * 16 + uint64_t(hex(p[k]));
    }
    if (k == 0 || (k < line && p[k] != ';' && p[k] != '\r' && p[k] != ' ' && p[k] != '\t')) return *at = i, kFraming;
    i += line + 1;
    left_ = size;
    chunk_ = size == 0 ? kTrailer : kData;
  }
  *at = i;
  return kAgain;
}

}  // namespace tsgi::loadgen
