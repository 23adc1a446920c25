// See fastcgi.h.
#include "loadgen/fastcgi.h"

#include <algorithm>

namespace tsgi::loadgen::fcgi {

namespace {

constexpr uint16_t kResponder = 1;
constexpr uint8_t kKeepConn = 1;
constexpr size_t kMaxContent = 65535;

void put_record(std::string* out, uint8_t type, uint16_t id, const char* data, size_t n) {
  uint8_t pad = uint8_t((8 - n % 8) % 8);
  const char head[8] = {char(kVersion), char(type), char(id >> 8), char(id & 0xff),
                        char((n >> 8) & 0xff), char(n & 0xff), char(pad), 0};
  out->append(head, 8);
  out->append(data, n);
  out->append(pad, '\0');
}

// Section 3.4: lengths under 128 in one byte, else four with the top bit set.
void put_length(std::string* out, size_t n) {
  if (n < 128) {
    out->push_back(char(n));
    return;
  }
  out->push_back(char(((n >> 24) & 0x7f) | 0x80));
  out->push_back(char((n >> 16) & 0xff));
  out->push_back(char((n >> 8) & 0xff));
  out->push_back(char(n & 0xff));
}

void put_stream(std::string* out, uint8_t type, uint16_t id, const std::string& data) {
  for (size_t at = 0; at < data.size(); at += kMaxContent)
    put_record(out, type, id, data.data() + at, std::min(kMaxContent, data.size() - at));
  put_record(out, type, id, nullptr, 0);
}

}  // namespace

std::string request(const std::vector<std::pair<std::string, std::string>>& params, const std::string& body,
                    bool keep_conn, uint16_t id) {
  std::string out;
  const char begin[8] = {0, char(kResponder), char(keep_conn ? kKeepConn : 0), 0, 0, 0, 0, 0};
  put_record(&out, kBeginRequest, id, begin, sizeof begin);
  std::string pairs;
  for (const auto& [k, v] : params) {
    put_length(&pairs, k.size());
    put_length(&pairs, v.size());
    pairs += k;
    pairs += v;
  }
  put_stream(&out, kParams, id, pairs);
  put_stream(&out, kStdin, id, body);
  return out;
}

void Reader::init(unsigned max_id, size_t max_head) {
  streams_.assign(max_id, Stream{});
  max_head_ = max_head;
  clear();
}

void Reader::begin(uint16_t id) {
  Stream& s = streams_[id - 1];
  s.active = true;
  s.head.clear();
  s.stdout_bytes = s.stderr_bytes = 0;
  s.protocol_status = 0;
}

void Reader::clear() {
  for (Stream& s : streams_) s.active = false;
  state_ = kHeader;
  got_ = 0;
}

Reader::Rc Reader::end(size_t i, size_t* used, uint16_t* id) {
  stream(id_).protocol_status = end_[4];
  state_ = kHeader;
  *used = i;
  *id = id_;
  return kEnd;
}

Reader::Rc Reader::feed(const char* data, size_t n, size_t* used, uint16_t* id, std::string* why) {
  size_t i = 0;
  auto fail = [&](Rc rc, const char* what) {
    if (why) *why = what;
    *used = i;
    return rc;
  };
  while (i < n) {
    switch (state_) {
      case kHeader: {
        hdr_[got_++] = uint8_t(data[i++]);
        if (got_ < 8) break;
        got_ = 0;
        type_ = hdr_[1];
        id_ = uint16_t(hdr_[2] << 8 | hdr_[3]);
        left_ = size_t(hdr_[4]) << 8 | hdr_[5];
        pad_ = hdr_[6];
        if (hdr_[0] != kVersion) return fail(kFraming, "record version is not 1");
        // Section 5.5: END_REQUEST's body is 8 bytes.
        if (type_ == kEndRequest ? left_ != 8 : type_ != kStdout && type_ != kStderr)
          return fail(kFraming, "unexpected record type or END_REQUEST length");
        if (id_ == 0 || id_ > streams_.size() || !streams_[id_ - 1].active)
          return fail(kProtocol, "record for a request id not in flight");
        state_ = left_ ? kContent : pad_ ? kPadding : kHeader;
        break;
      }
      case kContent: {
        size_t take = std::min(left_, n - i);
        Stream& s = stream(id_);
        if (type_ == kStdout) {
          if (s.head.size() < max_head_) s.head.append(data + i, std::min(take, max_head_ - s.head.size()));
          s.stdout_bytes += take;
        } else if (type_ == kStderr) {
          s.stderr_bytes += take;
        } else {
          for (size_t k = 0; k < take; k++) end_[8 - left_ + k] = uint8_t(data[i + k]);
        }
        i += take;
        left_ -= take;
        if (left_ == 0) state_ = pad_ ? kPadding : kHeader;
        if (left_ == 0 && !pad_ && type_ == kEndRequest) return end(i, used, id);
        break;
      }
      case kPadding: {
        size_t take = std::min<size_t>(pad_, n - i);
        i += take;
        pad_ = uint8_t(pad_ - take);
        if (pad_ == 0) state_ = kHeader;
        if (pad_ == 0 && type_ == kEndRequest) return end(i, used, id);
        break;
      }
    }
  }
  *used = i;
  return kAgain;
}

}  // namespace tsgi::loadgen::fcgi
