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

enum class Error : uint8_t {
  kNone,
  kLooksLikeHttp,   // "GET " etc.: modifier1 'G'/'P'/'H'/'D'/'O'/'C' with an ASCII size
  kTooLarge,        // datasize over Limits::max_block (the --buffer-size flag)
  kBadModifier,     // modifier1 not 0 or 30, or modifier2 not 0
  kMalformed,       // a key or value length runs past the block, empty key, bad chars
  kTooManyVars,
  kBadContentLength,
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

}  // namespace tsgi::uwsgi
