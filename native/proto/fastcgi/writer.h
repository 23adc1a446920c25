// FastCGI 1.0 output, the application's side: STDOUT/STDERR streams,
// END_REQUEST, GET_VALUES_RESULT and UNKNOWN_TYPE (record layout in
// record.h). Pure: each function fills memory the caller provides, sized by
// the constant or the *_size() function beside it, and returns the bytes
// written.
//
// Stream content is offered two ways, for the two paths of conn/OutQueue:
//   plan_stream()   records as (header, the caller's data, padding) triples,
//                   for writev: the body is referenced, never copied. The
//                   header bytes live in the caller's StreamRecord array and
//                   padding comes from kPaddingBytes.
//   write_stream()  the same bytes copied into one buffer, for small bodies.
// Both give identical bytes (the test hooks and the fuzz target check).
//
// Padding is the caller's choice: the spec recommends 8-byte records and
// nginx and PHP-FPM pad, uWSGI and lighttpd do not, and every receiver must
// skip it (spec 3.3). With padding, full records carry 65528 bytes, a
// multiple of 8, so only a stream's last record is padded.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/fastcgi/framer.h"
#include "proto/fastcgi/record.h"

namespace tsgi::fastcgi {

inline constexpr char kPaddingBytes[8] = {0, 0, 0, 0, 0, 0, 0, 0};

constexpr uint8_t padding_for(size_t content_len, bool pad) {
  return pad ? static_cast<uint8_t>((8 - content_len % 8) % 8) : 0;
}
constexpr uint32_t max_record_content(bool pad) { return pad ? 65528 : kMaxContentLength; }

// Writes an FCGI_Header at out[0, 8).
void put_header(char* out, uint8_t type, uint16_t request_id, uint16_t content_len,
                uint8_t padding);

struct StreamRecord {
  char header[kHeaderLen];
  const char* data;  // inside the data given to plan_stream()
  uint32_t len;      // 1 .. 65535
  uint8_t padding;   // bytes of kPaddingBytes that follow
};

// Records that data of `len` bytes takes: 0 for 0 bytes, since an empty
// record would end the stream (spec 3.3); end it with write_stream_end().
size_t stream_record_count(size_t len, bool pad);

// Plans the records of `type` (kStdout, kStderr) for data[0, len) into
// out[0, cap). Returns the records planned; *consumed is the data they
// cover, less than len only when cap ran out (plan the rest next).
size_t plan_stream(uint8_t type, uint16_t request_id, const char* data, size_t len, bool pad,
                   StreamRecord* out, size_t cap, size_t* consumed);

// The same records as one run of bytes: stream_size() bytes at out.
size_t stream_size(size_t len, bool pad);
size_t write_stream(char* out, uint8_t type, uint16_t request_id, const char* data, size_t len,
                    bool pad);

// The empty record that ends a stream (spec 3.3). A responder always sends
// the empty STDOUT, even after no content (spec 6.1), before END_REQUEST.
constexpr size_t kStreamEndLen = kHeaderLen;
size_t write_stream_end(char* out, uint8_t type, uint16_t request_id);

// {FCGI_END_REQUEST, id, {appStatus, protocolStatus}} (spec 5.5).
constexpr size_t kEndRequestLen = kHeaderLen + sizeof(EndRequestBody);
size_t write_end_request(char* out, uint16_t request_id, uint32_t app_status,
                         uint8_t protocol_status);

// {FCGI_UNKNOWN_TYPE, 0, {type}} (spec 4.2).
constexpr size_t kUnknownTypeLen = kHeaderLen + sizeof(UnknownTypeBody);
size_t write_unknown_type(char* out, uint8_t type);

// What this server says about itself in GET_VALUES_RESULT (spec 4.1).
struct ServerValues {
  uint32_t max_conns = 1;
  uint32_t max_reqs = 1;
  bool mpxs_conns = false;
};

// {FCGI_GET_VALUES_RESULT, 0, ...}: the names the query asked, in its order,
// with their values; the names it did not know are already left out.
constexpr size_t kGetValuesResultMax = kHeaderLen + kGetValueCount * (2 + 15 + 10) + 7;
size_t write_get_values_result(char* out, const GetValuesQuery& query, const ServerValues& values,
                               bool pad);

// One name-value pair (spec 3.4), for GET_VALUES_RESULT and for tools and
// tests that build PARAMS. Lengths are at most kMaxNvLength.
constexpr size_t nv_pair_size(uint32_t name_len, uint32_t value_len) {
  return nv_length_size(name_len) + nv_length_size(value_len) + name_len + value_len;
}
size_t write_nv_pair(char* out, const char* name, uint32_t name_len, const char* value,
                     uint32_t value_len);

}  // namespace tsgi::fastcgi
