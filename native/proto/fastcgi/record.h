// The FastCGI 1.0 record (Open Market, "FastCGI Specification", 1996,
// sections 3.3 and 8): an 8-byte header, 0-65535 content bytes, 0-255
// padding bytes. Every multi-byte number is big-endian and spelled as single
// bytes, B1 the high one, so these structs need no packing and no byte swap:
// they are copied or filled a byte at a time (nginx ngx_http_fastcgi_header_t
// does the same).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tsgi::fastcgi {

// Spec 8: FCGI_VERSION_1, FCGI_HEADER_LEN ("future versions of the protocol
// will not reduce this number"), FCGI_NULL_REQUEST_ID.
constexpr uint8_t kVersion1 = 1;
constexpr size_t kHeaderLen = 8;
constexpr uint16_t kNullRequestId = 0;
// Spec 3.3: contentData is "between 0 and 65535 bytes", paddingData
// "between 0 and 255 bytes, which are ignored".
constexpr uint32_t kMaxContentLength = 65535;
constexpr uint32_t kMaxPaddingLength = 255;

// Record types (spec 8). 1, 2, 4, 5, 8 and 9 go from the web server to the
// application; 3, 6, 7, 10 and 11 the other way (spec appendix A).
constexpr uint8_t kBeginRequest = 1;
constexpr uint8_t kAbortRequest = 2;
constexpr uint8_t kEndRequest = 3;
constexpr uint8_t kParams = 4;
constexpr uint8_t kStdin = 5;
constexpr uint8_t kStdout = 6;
constexpr uint8_t kStderr = 7;
constexpr uint8_t kData = 8;
constexpr uint8_t kGetValues = 9;
constexpr uint8_t kGetValuesResult = 10;
constexpr uint8_t kUnknownType = 11;
constexpr uint8_t kMaxType = kUnknownType;

// FCGI_BeginRequestBody.role (spec 5.1, 6).
constexpr uint16_t kResponder = 1;
constexpr uint16_t kAuthorizer = 2;
constexpr uint16_t kFilter = 3;

// FCGI_BeginRequestBody.flags: the only defined bit. 0 = the application
// closes the connection after this request; 1 = the web server keeps it.
constexpr uint8_t kKeepConn = 1;

// FCGI_EndRequestBody.protocolStatus (spec 5.5).
constexpr uint8_t kRequestComplete = 0;
constexpr uint8_t kCantMpxConn = 1;
constexpr uint8_t kOverloaded = 2;
constexpr uint8_t kUnknownRole = 3;

// FCGI_GET_VALUES variable names (spec 4.1, 8).
constexpr char kMaxConnsName[] = "FCGI_MAX_CONNS";
constexpr char kMaxReqsName[] = "FCGI_MAX_REQS";
constexpr char kMpxsConnsName[] = "FCGI_MPXS_CONNS";

// FCGI_Header.
struct Header {
  uint8_t version;
  uint8_t type;
  uint8_t request_id_b1;
  uint8_t request_id_b0;
  uint8_t content_length_b1;
  uint8_t content_length_b0;
  uint8_t padding_length;
  uint8_t reserved;

  uint16_t request_id() const { return static_cast<uint16_t>(request_id_b1 << 8 | request_id_b0); }
  uint16_t content_length() const {
    return static_cast<uint16_t>(content_length_b1 << 8 | content_length_b0);
  }
};

// FCGI_BeginRequestBody.
struct BeginRequestBody {
  uint8_t role_b1;
  uint8_t role_b0;
  uint8_t flags;
  uint8_t reserved[5];

  uint16_t role() const { return static_cast<uint16_t>(role_b1 << 8 | role_b0); }
};

// FCGI_EndRequestBody.
struct EndRequestBody {
  uint8_t app_status_b3;
  uint8_t app_status_b2;
  uint8_t app_status_b1;
  uint8_t app_status_b0;
  uint8_t protocol_status;
  uint8_t reserved[3];
};

// FCGI_UnknownTypeBody.
struct UnknownTypeBody {
  uint8_t type;
  uint8_t reserved[7];
};

static_assert(sizeof(Header) == kHeaderLen, "FCGI_Header is 8 bytes");
static_assert(sizeof(BeginRequestBody) == 8, "FCGI_BeginRequestBody is 8 bytes");
static_assert(sizeof(EndRequestBody) == 8, "FCGI_EndRequestBody is 8 bytes");
static_assert(sizeof(UnknownTypeBody) == 8, "FCGI_UnknownTypeBody is 8 bytes");
static_assert(std::is_trivially_copyable<Header>::value && alignof(Header) == 1,
              "headers are copied to and from the wire as bytes");

// Name-value pair lengths (spec 3.4): one byte when the high bit is clear,
// else four bytes whose low 31 bits are the length.
constexpr uint32_t kMaxNvLength = 0x7fffffffu;
constexpr size_t nv_length_size(uint32_t n) { return n > 127 ? 4 : 1; }

}  // namespace tsgi::fastcgi
