// The uwsgi request packet (uWSGI's binary protocol, as nginx's uwsgi_pass,
// Apache's mod_proxy_uwsgi and lighttpd's mod_scgi in uwsgi mode send it):
//   u8 modifier1 | u16le datasize | u8 modifier2 | vars block of datasize bytes
// vars block = { u16le key_len, key, u16le val_len, val }*. The body follows,
// CONTENT_LENGTH bytes. Pure: bytes in, result out, no I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/cgi/vars.h"

namespace tsgi::uwsgi {

enum class Result : uint8_t { kOk, kAgain, kError };

// The one list of errors: the enum, error_name() and error_text() come from
// it, and the addon exports it (binding.errors.uwsgi) for the tests.
// X(name, text); comments say what `detail` carries.
#define TSGI_UWSGI_ERRORS(X)                                                                  \
  /* "GET " etc.: modifier1 'G'/'P'/'H'/'D'/'O'/'C' with an ASCII size */                    \
  X(kLooksLikeHttp, "this looks like HTTP on a uwsgi socket")                                 \
  /* datasize over Limits::max_block (the --buffer-size flag) */                              \
  X(kTooLarge, "uwsgi packet larger than the vars block limit")                               \
  /* modifier1 not 0 or 30, or modifier2 not 0 */                                             \
  X(kBadModifier, "unsupported uwsgi modifier (only 0 and 30 with modifier2 0)")              \
  /* a key or value length runs past the block, empty key, bad chars */                       \
  X(kMalformed, "malformed or empty uwsgi vars block")                                        \
  X(kTooManyVars, "too many uwsgi vars")                                                      \
  X(kBadContentLength, "invalid CONTENT_LENGTH in uwsgi vars")

enum class Error : uint8_t {
  kNone,
#define TSGI_X(name, text) name,
  TSGI_UWSGI_ERRORS(TSGI_X)
#undef TSGI_X
};

struct Limits {
  uint32_t max_block = 64 * 1024;  // 4-byte header + vars; at most 4 + 65535 by the format
  uint32_t max_vars = 256;         // <= cgi::kMaxVarsCap
};

struct Packet {
  uint8_t modifier1 = 0;
  uint8_t modifier2 = 0;
  uint32_t datasize = 0;
  uint32_t head_len = 0;       // 4 + datasize: where the body starts
  uint64_t content_length = 0; // from CONTENT_LENGTH (0 if absent or empty)
  cgi::VarTable vars;          // slices into the buffer given to parse()
};

// Parses the packet at buf[0, len). kAgain until all 4 + datasize bytes are
// there (bounded by max_block: a too-large datasize is an error as soon as the
// 4-byte header is in). On kError, *err says why and *detail carries a number
// for the log line (the datasize for kTooLarge, modifier1 for kBadModifier).
Result parse(const char* buf, size_t len, const Limits& limits, Packet* out, Error* err,
             uint32_t* detail);

const char* error_text(Error e);
// "kTooLarge" for Error::kTooLarge ("kNone" for kNone).
const char* error_name(Error e);

}  // namespace tsgi::uwsgi
