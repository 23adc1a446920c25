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

enum class Error : uint8_t {
  kNone,
  kLooksLikeHttp,        // starts with a letter: "GET / HTTP/1.1"
  kBadNetstring,         // no digits, leading zero, non-digit before ':', missing ','
  kTooLarge,             // the netstring length over Limits::max_block
  kMalformed,            // a pair without NUL terminators, empty name, duplicate name
  kNoContentLength,      // CONTENT_LENGTH absent or not the first header
  kBadContentLength,
  kNoScgi,               // SCGI=1 absent (or another value)
  kTooManyVars,
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

}  // namespace tsgi::scgi
