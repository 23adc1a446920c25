// FastCGI 1.0 output; see writer.h. "Spec" is the FastCGI Specification,
// Open Market, 1996, by section.
#include "proto/fastcgi/writer.h"

#include <cstring>

namespace tsgi::fastcgi {
namespace {

uint32_t record_content(size_t left, bool pad) {
  const uint32_t max = max_record_content(pad);
  return left < max ? static_cast<uint32_t>(left) : max;
}

size_t put_decimal(char* out, uint32_t v) {
  char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t k = 0; k < n; ++k) out[k] = tmp[n - 1 - k];
  return n;
}

size_t put_nv_length(char* out, uint32_t n) {
  if (n <= 127) {
    out[0] = static_cast<char>(n);
    return 1;
  }
  // Spec 3.4: the four-byte form, its top bit set.
  out[0] = static_cast<char>(0x80 | (n >> 24 & 0x7f));
  out[1] = static_cast<char>(n >> 16 & 0xff);
  out[2] = static_cast<char>(n >> 8 & 0xff);
  out[3] = static_cast<char>(n & 0xff);
  return 4;
}

}  // namespace

void put_header(char* out, uint8_t type, uint16_t request_id, uint16_t content_len,
                uint8_t padding) {
  Header h;
  h.version = kVersion1;
  h.type = type;
  h.request_id_b1 = static_cast<uint8_t>(request_id >> 8);
  h.request_id_b0 = static_cast<uint8_t>(request_id & 0xff);
  h.content_length_b1 = static_cast<uint8_t>(content_len >> 8);
  h.content_length_b0 = static_cast<uint8_t>(content_len & 0xff);
  h.padding_length = padding;
  h.reserved = 0;
  std::memcpy(out, &h, sizeof h);
}

size_t stream_record_count(size_t len, bool pad) {
  const uint32_t max = max_record_content(pad);
  return len / max + (len % max != 0);
}

size_t plan_stream(uint8_t type, uint16_t request_id, const char* data, size_t len, bool pad,
                   StreamRecord* out, size_t cap, size_t* consumed) {
  size_t off = 0, n = 0;
  while (off < len && n < cap) {
    StreamRecord& r = out[n++];
    r.data = data + off;
    r.len = record_content(len - off, pad);
    r.padding = padding_for(r.len, pad);
    put_header(r.header, type, request_id, static_cast<uint16_t>(r.len), r.padding);
    off += r.len;
  }
  *consumed = off;
  return n;
}

size_t stream_size(size_t len, bool pad) {
  const size_t records = stream_record_count(len, pad);
  const size_t last = len - (records ? (records - 1) * size_t{max_record_content(pad)} : 0);
  return records * kHeaderLen + len + padding_for(last, pad);
}

size_t write_stream(char* out, uint8_t type, uint16_t request_id, const char* data, size_t len,
                    bool pad) {
  size_t w = 0, off = 0;
  while (off < len) {
    const uint32_t n = record_content(len - off, pad);
    const uint8_t padding = padding_for(n, pad);
    put_header(out + w, type, request_id, static_cast<uint16_t>(n), padding);
    std::memcpy(out + w + kHeaderLen, data + off, n);
    std::memset(out + w + kHeaderLen + n, 0, padding);
    w += kHeaderLen + n + padding;
    off += n;
  }
  return w;
}

size_t write_stream_end(char* out, uint8_t type, uint16_t request_id) {
  put_header(out, type, request_id, 0, 0);
  return kStreamEndLen;
}

size_t write_end_request(char* out, uint16_t request_id, uint32_t app_status,
                         uint8_t protocol_status) {
  put_header(out, kEndRequest, request_id, sizeof(EndRequestBody), 0);
  EndRequestBody b{};
  b.app_status_b3 = static_cast<uint8_t>(app_status >> 24);
  b.app_status_b2 = static_cast<uint8_t>(app_status >> 16 & 0xff);
  b.app_status_b1 = static_cast<uint8_t>(app_status >> 8 & 0xff);
  b.app_status_b0 = static_cast<uint8_t>(app_status & 0xff);
  b.protocol_status = protocol_status;
  std::memcpy(out + kHeaderLen, &b, sizeof b);
  return kEndRequestLen;
}

size_t write_unknown_type(char* out, uint8_t type) {
  put_header(out, kUnknownType, kNullRequestId, sizeof(UnknownTypeBody), 0);
  UnknownTypeBody b{};
  b.type = type;
  std::memcpy(out + kHeaderLen, &b, sizeof b);
  return kUnknownTypeLen;
}

size_t write_nv_pair(char* out, const char* name, uint32_t name_len, const char* value,
                     uint32_t value_len) {
  size_t w = put_nv_length(out, name_len);
  w += put_nv_length(out + w, value_len);
  if (name_len) std::memcpy(out + w, name, name_len);
  w += name_len;
  if (value_len) std::memcpy(out + w, value, value_len);
  return w + value_len;
}

size_t write_get_values_result(char* out, const GetValuesQuery& query, const ServerValues& values,
                               bool pad) {
  size_t w = kHeaderLen;
  const uint8_t count = query.count < kGetValueCount ? query.count : kGetValueCount;
  for (uint8_t k = 0; k < count; ++k) {
    char digits[10];
    size_t n = 0;
    switch (query.names[k]) {
      case GetValue::kMaxConns: n = put_decimal(digits, values.max_conns); break;
      case GetValue::kMaxReqs: n = put_decimal(digits, values.max_reqs); break;
      case GetValue::kMpxsConns: n = put_decimal(digits, values.mpxs_conns ? 1 : 0); break;
    }
    const char* name = get_value_name(query.names[k]);
    w += write_nv_pair(out + w, name, static_cast<uint32_t>(std::strlen(name)), digits,
                       static_cast<uint32_t>(n));
  }
  const size_t content = w - kHeaderLen;
  const uint8_t padding = padding_for(content, pad);
  std::memset(out + w, 0, padding);
  put_header(out, kGetValuesResult, kNullRequestId, static_cast<uint16_t>(content), padding);
  return w + padding;
}

}  // namespace tsgi::fastcgi
