// The state of one reply, whoever carries it: a connection's current request
// (HTTP/1.1, uwsgi, SCGI) or one FastCGI request among the several a
// connection may hold. Its framing is chosen once, when the reply begins, by
// the same rules on every protocol; each protocol only writes it its own way.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/http1/writer.h"

namespace tsgi {

struct ReplyState {
  bool started = false;
  bool ended = false;
  bool head_method = false;     // the request was HEAD: a head, no content
  bool no_body_status = false;  // 1xx, 204, 304: never content (RFC 9112 6.3)
  bool want_drain = false;      // the app was told to wait for on_drain
  http1::HeadFraming framing = http1::kFrameLength;
  uint64_t left = 0;            // kFrameLength: content bytes still owed
  uint64_t out_mark = 0;        // the output queue's mark() where the reply's head begins

  void reset(bool head) {
    *this = ReplyState();
    head_method = head;
  }

  // The reply begins: its framing follows from the status and from what the
  // app said of its length (the whole body, a stated Content-Length, or
  // neither: chunked where the protocol can, else the end of the stream).
  void begin(int status, bool ends, size_t body_len, int64_t content_length, bool can_chunk) {
    started = true;
    no_body_status = status < 200 || status == 204 || status == 304;
    left = 0;
    if (no_body_status) {
      framing = http1::kFrameNone;
    } else if (ends) {
      framing = http1::kFrameLength;
      left = body_len;
    } else if (content_length >= 0) {
      framing = http1::kFrameLength;
      left = static_cast<uint64_t>(content_length);
    } else {
      framing = can_chunk ? http1::kFrameChunked : http1::kFrameClose;
    }
  }

  // RFC 9110 9.3.2 / 6.4.1: HEAD, 204 and 304 replies carry no content.
  bool has_content() const { return !head_method && !no_body_status; }

  // Counts a body piece against a stated length, clipping it to what is
  // still owed; returns true when the app gave more than that.
  bool take(size_t* len) {
    if (framing != http1::kFrameLength) return false;
    bool over = *len > left;
    if (over) *len = static_cast<size_t>(left);
    left -= *len;
    return over;
  }

  // The reply ends with fewer bytes than its Content-Length promised.
  bool short_of_length() const { return has_content() && framing == http1::kFrameLength && left > 0; }
};

}  // namespace tsgi
