// The request shape the CGI-style protocols (uwsgi, SCGI, later FastCGI)
// deliver: a table of variables as views into the connection buffer, the way
// CGI/1.1 (RFC 3875 section 4.1) names them. HTTP/1.1 maps onto the same names
// in JS; these protocols carry them natively, so nothing is translated twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "proto/http1/parser.h"

namespace tsgi::cgi {

using Slice = http1::Slice;

struct Var {
  Slice name;
  Slice value;
};

constexpr uint32_t kMaxVarsCap = 512;

struct VarTable {
  uint32_t count = 0;
  Var vars[kMaxVarsCap];

  // Finds a variable by exact name; nullptr if absent. `base` is the buffer
  // the slices point into.
  const Var* find(const char* base, const char* name) const {
    size_t n = std::strlen(name);
    for (uint32_t i = 0; i < count; i++) {
      if (vars[i].name.len == n && std::memcmp(base + vars[i].name.off, name, n) == 0) return &vars[i];
    }
    return nullptr;
  }
};

// CONTENT_LENGTH as CGI sends it: decimal digits, or empty/absent for none.
// Returns false if present and not a plain non-negative decimal (no sign, no
// spaces, at most 19 digits).
bool parse_content_length(const char* p, size_t len, uint64_t* out);

}  // namespace tsgi::cgi
