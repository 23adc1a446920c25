// Checking replies: an HTTP/1.1 reply parsed as it arrives (head, then a body
// framed by Content-Length, chunked coding or the connection's end), and a
// whole CGI-style reply (uwsgi, SCGI, FastCGI's STDOUT) checked at its end.
// No I/O; resumable at any byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "loadgen/loadgen.h"

namespace tsgi::loadgen {

constexpr size_t kMaxHead = 64 * 1024;

struct Head {
  int status = -1;
  int64_t content_length = -1;
  bool chunked = false;
  bool close = false;
  size_t len = 0;  // bytes through the blank line
};

// A reply head in data[0, n). HTTP (cgi = false): a status line, then fields.
// CGI: a status line or a Status field, as nginx accepts from uwsgi and SCGI
// apps, else 200 (RFC 3875 6.3.3). Lines may end in LF or CRLF. Returns 1
// (complete, *h filled), 0 (need more), -1 (malformed).
int parse_head(const char* data, size_t n, bool cgi, Head* h);

// A whole CGI reply: its first `stored` bytes are in data, `total` is its
// length. Returns -1 if it is valid, else the Error kind (reason in *why;
// the reply's status in *status once its head parsed).
int check_cgi_reply(const Options& o, const char* data, size_t stored, uint64_t total, std::string* why,
                    int* status = nullptr);

// One HTTP/1.1 reply as bytes arrive.
class HttpReply {
 public:
  enum Rc { kAgain, kDone, kFraming };
  void reset() { *this = HttpReply(); }
  // Takes bytes from data[0, n): *used is how many. kDone: the reply ended
  // inside them. kAgain: all used, more needed.
  Rc feed(const char* data, size_t n, size_t* used, bool head_request);
  // The connection ended: a body delimited by it is complete; anything else short.
  bool complete_at_eof() const { return head_done_ && mode_ == kUntilClose; }
  bool started() const { return head_done_; }
  const Head& head() const { return head_; }
  uint64_t body_bytes() const { return seen_; }

 private:
  enum Mode : uint8_t { kNone, kLength, kChunked, kUntilClose };
  enum Chunk : uint8_t { kSize, kData, kDataEnd, kTrailer };
  Rc chunked(const char* data, size_t n, size_t* i);

  bool head_done_ = false;
  Head head_;
  Mode mode_ = kNone;
  Chunk chunk_ = kSize;
  uint64_t left_ = 0, seen_ = 0;
};

}  // namespace tsgi::loadgen
