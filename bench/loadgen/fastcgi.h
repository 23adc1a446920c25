// FastCGI for the load generator (FastCGI 1.0 specification): the records a
// web server sends for one RESPONDER request, and a reader for the records of
// the reply. Header-only: loadgen.cc is the only user.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tsgi::loadgen::fcgi {

constexpr uint8_t kVersion = 1;
enum Type : uint8_t { kBeginRequest = 1, kEndRequest = 3, kParams = 4, kStdin = 5, kStdout = 6, kStderr = 7 };
constexpr uint16_t kResponder = 1;
constexpr uint8_t kKeepConn = 1;           // FCGI_KEEP_CONN: the application leaves the connection open
constexpr uint16_t kRequestId = 1;         // one request at a time per connection, as nginx numbers it
constexpr uint8_t kRequestComplete = 0;    // END_REQUEST protocolStatus
constexpr size_t kMaxContent = 65535;

// One record; content padded to a multiple of 8 bytes, as nginx and the
// specification's examples do (section 3.3: "recommended").
inline void put_record(std::string* out, uint8_t type, const char* data, size_t n) {
  uint8_t pad = static_cast<uint8_t>((8 - n % 8) % 8);
  const char head[8] = {static_cast<char>(kVersion), static_cast<char>(type), static_cast<char>(kRequestId >> 8),
                        static_cast<char>(kRequestId & 0xff), static_cast<char>((n >> 8) & 0xff),
                        static_cast<char>(n & 0xff), static_cast<char>(pad), 0};
  out->append(head, 8);
  out->append(data, n);
  out->append(pad, '\0');
}

// A name-value pair: lengths under 128 in one byte, else four with the top bit set (section 3.4).
inline void put_length(std::string* out, size_t n) {
  if (n < 128) {
    out->push_back(static_cast<char>(n));
    return;
  }
  out->push_back(static_cast<char>(((n >> 24) & 0x7f) | 0x80));
  out->push_back(static_cast<char>((n >> 16) & 0xff));
  out->push_back(static_cast<char>((n >> 8) & 0xff));
  out->push_back(static_cast<char>(n & 0xff));
}

// BEGIN_REQUEST (RESPONDER, FCGI_KEEP_CONN if keep_conn), the params in
// PARAMS records of at most 64 KiB each, an empty PARAMS, an empty STDIN: the
// bytes nginx writes for a request without a body.
inline std::string request(const std::vector<std::pair<std::string, std::string>>& params, bool keep_conn) {
  std::string out;
  const char begin[8] = {0, static_cast<char>(kResponder), static_cast<char>(keep_conn ? kKeepConn : 0), 0, 0, 0, 0, 0};
  put_record(&out, kBeginRequest, begin, sizeof begin);
  std::string pairs;
  for (const auto& [k, v] : params) {
    put_length(&pairs, k.size());
    put_length(&pairs, v.size());
    pairs += k;
    pairs += v;
  }
  for (size_t at = 0; at < pairs.size(); at += kMaxContent) {
    put_record(&out, kParams, pairs.data() + at, std::min(kMaxContent, pairs.size() - at));
  }
  put_record(&out, kParams, nullptr, 0);
  put_record(&out, kStdin, nullptr, 0);
  return out;
}

// The reply: a state machine over the record stream, resumable at any byte,
// no buffering but the first bytes of STDOUT (the CGI head the caller checks).
class Reader {
 public:
  enum Rc { kAgain, kEnd, kError };

  void reset(size_t max_head) {
    max_head_ = max_head;
    head.clear();
    stdout_bytes = stderr_bytes = 0;
    app_status = 0;
    protocol_status = 0;
    state_ = kHeader;
    got_ = 0;
  }

  // Takes bytes from data[0, n); *used is how many (through the END_REQUEST
  // record on kEnd). kError: not a reply to our request, reason in *why.
  Rc feed(const char* data, size_t n, size_t* used, std::string* why) {
    size_t i = 0;
    while (i < n) {
      switch (state_) {
        case kHeader:
          hdr_[got_++] = static_cast<uint8_t>(data[i++]);
          if (got_ < 8) break;
          got_ = 0;
          type_ = hdr_[1];
          left_ = static_cast<size_t>(hdr_[4]) << 8 | hdr_[5];
          pad_ = hdr_[6];
          if (hdr_[0] != kVersion) return fail(why, "record version " + std::to_string(hdr_[0]), i, used);
          if ((hdr_[2] << 8 | hdr_[3]) != kRequestId) return fail(why, "record for another request id", i, used);
          if (type_ == kEndRequest ? left_ != 8 : type_ != kStdout && type_ != kStderr) {
            return fail(why, "unexpected record type " + std::to_string(type_), i, used);
          }
          state_ = left_ ? kContent : pad_ ? kPadding : kHeader;
          break;
        case kContent: {
          size_t take = std::min(left_, n - i);
          if (type_ == kStdout) {
            if (head.size() < max_head_) head.append(data + i, std::min(take, max_head_ - head.size()));
            stdout_bytes += take;
          } else if (type_ == kStderr) {
            stderr_bytes += take;
          } else {
            for (size_t k = 0; k < take; k++) end_[8 - left_ + k] = static_cast<uint8_t>(data[i + k]);
          }
          i += take;
          left_ -= take;
          if (left_ == 0) state_ = pad_ ? kPadding : kHeader;
          if (left_ == 0 && !pad_ && type_ == kEndRequest) return end(i, used);
          break;
        }
        case kPadding: {
          size_t take = std::min<size_t>(pad_, n - i);
          i += take;
          pad_ = static_cast<uint8_t>(pad_ - take);
          if (pad_ == 0) state_ = kHeader;
          if (pad_ == 0 && type_ == kEndRequest) return end(i, used);
          break;
        }
      }
    }
    *used = i;
    return kAgain;
  }

  std::string head;        // the first max_head bytes of STDOUT
  uint64_t stdout_bytes = 0, stderr_bytes = 0;
  uint32_t app_status = 0;
  uint8_t protocol_status = 0;

 private:
  enum State : uint8_t { kHeader, kContent, kPadding };

  Rc end(size_t i, size_t* used) {
    app_status = static_cast<uint32_t>(end_[0]) << 24 | static_cast<uint32_t>(end_[1]) << 16 |
                 static_cast<uint32_t>(end_[2]) << 8 | end_[3];
    protocol_status = end_[4];
    state_ = kHeader;
    *used = i;
    return kEnd;
  }
  Rc fail(std::string* why, const std::string& what, size_t i, size_t* used) {
    if (why) *why = what;
    *used = i;
    return kError;
  }

  size_t max_head_ = 0;
  State state_ = kHeader;
  uint8_t hdr_[8] = {};
  uint8_t end_[8] = {};
  size_t got_ = 0;
  uint8_t type_ = 0;
  size_t left_ = 0;
  uint8_t pad_ = 0;
};

}  // namespace tsgi::loadgen::fcgi
