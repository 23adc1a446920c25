// FastCGI 1.0 input, the web server's side of the connection (record layout
// in record.h). Two pure state machines, resumable at any byte, with no I/O,
// no allocation and nothing that asserts on input:
//
//   Decoder       the record layer. feed() consumes bytes and returns one
//                 event at a time: a BEGIN_REQUEST, an ABORT_REQUEST, a piece
//                 of PARAMS/STDIN/DATA content (a pointer into the input, never
//                 copied), the empty record that ends one of those streams, a
//                 GET_VALUES query to answer, a management record of a type
//                 to answer with UNKNOWN_TYPE, or a protocol error.
//   ParamsParser  the name-value pairs of one request's PARAMS stream, fed the
//                 PARAMS pieces however the records cut them, copied into a
//                 bounded store the caller owns, and turned into a
//                 cgi::VarTable of slices into that store when the stream ends.
//
// The decoder keeps no per-request state: which request ids are active, the
// order of the streams (PARAMS, then STDIN, then DATA) and CONTENT_LENGTH
// against STDIN are the connection's business (see docs/protocols.md).
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/cgi/vars.h"
#include "proto/fastcgi/record.h"

namespace tsgi::fastcgi {

enum class Result : uint8_t { kOk, kAgain, kError };

// The one list of errors: the enum, error_name(), error_text() and
// http_status() come from it, and the addon exports it (binding.errors.fastcgi)
// for the tests. X(name, status, text): status is the HTTP status a request
// refused for a PARAMS error is answered with (RFC 6585 5: 431 for the
// limits, 400 for the rest), 0 for a record-layer error, which has no request
// to answer: the connection is closed. Comments say what `detail` carries.
#define TSGI_FASTCGI_ERRORS(X)                                                                \
  /* The record layer (Decoder): the connection cannot go on; close it. */                    \
  /* the connection's first byte is an upper-case letter; detail: that byte */                \
  X(kLooksLikeHttp, 0, "this looks like HTTP on a FastCGI socket")                            \
  /* version other than 1; detail: the byte */                                               \
  X(kBadVersion, 0, "unsupported FastCGI protocol version (only 1)")                          \
  /* a type only the application sends (3, 6, 7, 10, 11); detail: the type */                 \
  X(kUnexpectedType, 0, "FastCGI record of a type only an application sends")                 \
  /* a request record (id != 0) of a type FastCGI 1.0 lacks; detail: the type */              \
  X(kUnknownType, 0, "FastCGI request record of an unknown type")                             \
  /* request type with id 0, or GET_VALUES with id != 0; detail: the type */                  \
  X(kBadRequestId, 0,                                                                         \
    "FastCGI request record with the null request id, or management record without it")       \
  /* BEGIN_REQUEST content other than 8 bytes; detail: its length */                          \
  X(kBadBeginRequest, 0, "FastCGI BEGIN_REQUEST body is not 8 bytes")                         \
  /* ABORT_REQUEST with content; detail: its length */                                        \
  X(kBadAbortRequest, 0, "FastCGI ABORT_REQUEST with content")                                \
  /* malformed pairs, an empty name or a value; detail: offset in the content */              \
  X(kBadGetValues, 0, "malformed FastCGI GET_VALUES query")                                   \
  /* One request's PARAMS stream (ParamsParser): refuse that request. */                      \
  /* over ParamsLimits::max_bytes (or the store); detail: the limit */                        \
  X(kParamsTooLarge, 431, "FastCGI params larger than the limit")                             \
  /* detail: the limit */                                                                     \
  X(kTooManyVars, 431, "too many FastCGI params")                                             \
  /* empty or non-printable name, NUL in a value, a pair cut off by the end of */             \
  /* the stream; detail: offset of the pair in the stream */                                  \
  X(kBadParams, 400, "malformed FastCGI name-value pair in params")                           \
  /* no pairs at all */                                                                       \
  X(kEmptyParams, 400, "empty FastCGI params")                                                \
  /* CONTENT_LENGTH not digits, or two that differ; detail: pair offset */                    \
  X(kBadContentLength, 400, "invalid CONTENT_LENGTH in FastCGI params")

enum class Error : uint8_t {
  kNone,
#define TSGI_X(name, status, text) name,
  TSGI_FASTCGI_ERRORS(TSGI_X)
#undef TSGI_X
};

const char* error_text(Error e);
// "kBadVersion" for Error::kBadVersion ("kNone" for kNone).
const char* error_name(Error e);
// The HTTP status to answer a request refused for a PARAMS error with, or 0
// for a record-layer error (see TSGI_FASTCGI_ERRORS).
int http_status(Error e);

// The FCGI_GET_VALUES variables this library knows (spec 4.1).
enum class GetValue : uint8_t { kMaxConns, kMaxReqs, kMpxsConns };
constexpr uint8_t kGetValueCount = 3;
const char* get_value_name(GetValue v);

struct GetValuesQuery {
  uint8_t count = 0;
  GetValue names[kGetValueCount] = {};  // each known name asked, in the order first asked
};

enum class Ev : uint8_t {
  kAgain,         // every byte given was consumed; feed more
  kBeginRequest,  // request_id, role, flags (the whole record is in)
  kAbortRequest,  // request_id
  kParams,        // request_id, data/len: PARAMS content, for a ParamsParser
  kParamsEnd,     // request_id: the empty PARAMS record
  kStdin,         // request_id, data/len
  kStdinEnd,      // request_id: the empty STDIN record, the end of the body
  kData,          // request_id, data/len (FILTER role)
  kDataEnd,       // request_id
  kGetValues,     // query: answer with a GET_VALUES_RESULT (writer.h)
  kUnknownType,   // record_type: answer with an UNKNOWN_TYPE record (writer.h)
  kError,         // error, detail; every later feed() answers the same
};

struct Event {
  Ev type = Ev::kAgain;
  uint8_t record_type = 0;   // the header's type
  uint16_t request_id = 0;
  uint16_t role = 0;         // kBeginRequest: kResponder, kAuthorizer, kFilter or other
  uint8_t flags = 0;         // kBeginRequest: kKeepConn
  const char* data = nullptr;  // content pieces: inside the input of this feed()
  size_t len = 0;              // never 0 for a piece
  GetValuesQuery query;        // kGetValues
  Error error = Error::kNone;  // kError
  uint32_t detail = 0;         // kError
};

// A name-value length (spec 3.4), one byte at a time: one byte below 0x80,
// else four bytes, big-endian, whose top bit is dropped.
struct NvLength {
  uint32_t value = 0;
  uint8_t left = 0;  // bytes still owed by a four-byte length; 0 between lengths

  bool push(unsigned char c) {  // true when the length is complete
    if (left == 0) {
      if (c < 0x80) {
        value = c;
        return true;
      }
      value = c & 0x7fu;
      left = 3;
      return false;
    }
    value = value << 8 | c;
    return --left == 0;
  }
};

class Decoder {
 public:
  void reset() { *this = Decoder(); }

  // Consumes a prefix of in[0, len) and reports one event. kAgain means all
  // len bytes were used; after any other event call again with the rest.
  // Discrete records (BEGIN, ABORT, GET_VALUES, unknown management, the
  // empty record ending a stream) are reported once their padding is
  // skipped too, so the decoder then sits between records.
  size_t feed(const char* in, size_t len, Event* ev);

  uint64_t position() const { return pos_; }  // bytes consumed since reset
  // True between records: EOF anywhere else cuts a record short.
  bool at_record_boundary() const { return state_ == State::kVersion; }
  // Bytes of input from here to the next record's header: the current
  // record's content and padding still owed (0 between records), or -1
  // inside a header or after an error.
  int64_t to_boundary() const {
    if (state_ == State::kVersion) return 0;
    if (state_ == State::kContent || state_ == State::kPadding) return int64_t{content_left_} + padding_left_;
    return -1;
  }

 private:
  // One state per header field, as nginx's ngx_http_fastcgi_state_e.
  enum class State : uint8_t {
    kVersion, kType, kRequestIdB1, kRequestIdB0, kContentLengthB1,
    kContentLengthB0, kPaddingLength, kReserved, kContent, kPadding, kError,
  };
  // What the content of the current record is for.
  enum class Kind : uint8_t { kStream, kBegin, kAbort, kGetValues, kSkip };
  // Within a GET_VALUES record: the two lengths, then the name.
  enum class GvState : uint8_t { kNameLen, kValueLen, kName };

  bool on_header();
  bool get_values_byte(unsigned char c);
  bool content_done();
  bool record_done(Event* ev);
  bool fail(Error e, uint32_t detail);

  State state_ = State::kVersion;
  Kind kind_ = Kind::kSkip;
  Header h_{};
  uint32_t content_left_ = 0;
  uint32_t padding_left_ = 0;
  BeginRequestBody begin_{};
  uint8_t begin_got_ = 0;
  // GET_VALUES scan: the known names still matching the name being read.
  GvState gv_state_ = GvState::kNameLen;
  NvLength gv_len_;
  uint32_t gv_name_len_ = 0;
  uint32_t gv_name_pos_ = 0;
  uint32_t gv_pair_off_ = 0;
  uint8_t gv_match_ = 0;
  GetValuesQuery query_;
  uint64_t pos_ = 0;
  Error error_ = Error::kNone;
  uint32_t detail_ = 0;
};

struct ParamsLimits {
  uint32_t max_bytes = 64 * 1024;  // the PARAMS stream, length prefixes included
  uint32_t max_vars = 256;         // <= cgi::kMaxVarsCap
};

// One request's variables, as views into the store given to the parser.
struct Params {
  cgi::VarTable vars;
  uint64_t content_length = 0;
  // CONTENT_LENGTH was sent with digits. nginx sends it empty for a body of
  // unknown length (fastcgi_request_buffering off with a chunked upload);
  // that body ends with the empty STDIN record, not after a count.
  bool has_content_length = false;
};

class ParamsParser {
 public:
  // Starts a PARAMS stream. Names and values are copied to store[0, cap),
  // back to back, and *out describes them (as offsets: the store may move);
  // the stream may not exceed min(limits.max_bytes, cap) bytes, so a store
  // of that size never overflows.
  void reset(char* store, size_t cap, const ParamsLimits& limits, Params* out);
  // A store that grows with the stream instead: the caller gives room for
  // stored() + len bytes before each feed of len bytes (never more than
  // max_bytes in all) and names the store's new place here after moving it.
  void move_store(char* store) { store_ = store; }
  // One kParams piece: kAgain to go on, or kError.
  Result feed(const char* in, size_t len);
  // At kParamsEnd: kOk with *out complete, or kError.
  Result finish();

  Error error() const { return error_; }
  uint32_t detail() const { return detail_; }
  uint32_t stream_bytes() const { return pos_; }
  uint32_t stored() const { return stored_; }

 private:
  enum class State : uint8_t { kNameLen, kValueLen, kName, kValue, kDone, kError };

  Result fail(Error e, uint32_t detail);
  size_t take_name(const char* in, size_t len);
  size_t take_value(const char* in, size_t len);
  bool end_pair();

  char* store_ = nullptr;
  Params* out_ = nullptr;
  uint32_t limit_ = 0;
  uint32_t max_vars_ = 0;
  State state_ = State::kError;
  NvLength len_;
  uint32_t pos_ = 0;       // stream bytes read
  uint32_t stored_ = 0;    // store bytes written
  uint32_t pair_off_ = 0;  // stream offset of the current pair
  uint32_t name_len_ = 0, value_len_ = 0, left_ = 0;
  cgi::Slice name_{}, value_{};
  bool have_length_ = false;
  Error error_ = Error::kNone;
  uint32_t detail_ = 0;
};

}  // namespace tsgi::fastcgi
