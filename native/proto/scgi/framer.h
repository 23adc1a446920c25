// The SCGI request (scgi.txt, Neil Schemenauer): a netstring of the header
// block, then the body:
//   <decimal length> ":" { name NUL value NUL }* "," <CONTENT_LENGTH bytes>
// CONTENT_LENGTH must be the first header; SCGI=1 must be present. Pure: bytes
// in, result out, no I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/cgi/vars.h"

namespace tsgi::scgi {

enum class Result : uint8_t { kOk, kAgain, kError };

// The one list of errors: the enum, error_name() and error_text() come from
// it, and the addon exports it (binding.errors.scgi) for the tests.
// X(name, text); comments say when.
#define TSGI_SCGI_ERRORS(X)                                                                   \
  /* starts with a letter: "GET / HTTP/1.1" */                                               \
  X(kLooksLikeHttp, "this looks like HTTP on an SCGI socket")                                 \
  /* no digits, leading zero, non-digit before ':', missing ',' */                            \
  X(kBadNetstring, "SCGI header block is not a valid netstring")                              \
  /* the netstring length over Limits::max_block */                                           \
  X(kTooLarge, "SCGI header block larger than the limit")                                     \
  /* a pair without NUL terminators, empty name, duplicate name */                            \
  X(kMalformed, "malformed SCGI header block (bad name, or a non-HTTP_ name repeated)")      \
  /* CONTENT_LENGTH absent or not the first header */                                         \
  X(kNoContentLength, "SCGI request does not start with CONTENT_LENGTH")                      \
  X(kBadContentLength, "invalid CONTENT_LENGTH in SCGI request")                              \
  /* SCGI=1 absent (or another value) */                                                      \
  X(kNoScgi, "SCGI request without SCGI=1 (is scgi_params included?)")                        \
  X(kTooManyVars, "too many SCGI headers")

enum class Error : uint8_t {
  kNone,
#define TSGI_X(name, text) name,
  TSGI_SCGI_ERRORS(TSGI_X)
#undef TSGI_X
};

struct Limits {
  uint32_t max_block = 64 * 1024;  // the whole netstring, length prefix to ','
  uint32_t max_vars = 256;         // <= cgi::kMaxVarsCap
};

struct Request {
  uint32_t head_len = 0;        // bytes through the ',': where the body starts
  uint64_t content_length = 0;
  cgi::VarTable vars;           // slices into the buffer given to parse()
};

// kAgain until the whole netstring is there. On kError *err says why and
// *detail carries a number for the log line (the length for kTooLarge).
Result parse(const char* buf, size_t len, const Limits& limits, Request* out, Error* err,
             uint32_t* detail);

const char* error_text(Error e);
// "kTooLarge" for Error::kTooLarge ("kNone" for kNone).
const char* error_name(Error e);

}  // namespace tsgi::scgi
