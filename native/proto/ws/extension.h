// permessage-deflate negotiation (RFC 7692 5 and 7.1) as the server does it:
// read the client's Sec-WebSocket-Extensions offers, pick the first one the
// server's configuration can accept, and write the response's value. Pure:
// no I/O, no allocation, no zlib (deflate.h does the compressing).
//
// A malformed permessage-deflate offer (an unknown or repeated parameter, a
// value where none belongs, a window size that is not 8-15 written without
// leading zeros) is declined and the next offer considered (7.1: "A server
// MUST decline ..."); RFC 7692 never asks a server to fail the handshake. A
// header that breaks the grammar of RFC 6455 9.1 declines every offer in it.
// Extensions other than permessage-deflate are skipped.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsgi::ws {

// What the server is willing to do. Window sizes are base-2 logarithms, 8-15
// (7.1.2); mem_level is zlib's, 1-9. The memory a connection's zlib state may
// take follows from them (deflate.h: deflate_memory_bound, inflate_memory_bound).
struct DeflateConfig {
  bool enabled = true;
  // Ask for these whether or not the client offers them (7.1.1.1, 7.1.1.2):
  // each lets its side drop its window between messages.
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  // The largest window the server compresses with. 8 is answered as 8 but
  // compressed with zlib's 9 (deflate.h explains why that keeps the promise).
  uint8_t server_max_window_bits = 13;
  // The largest window the server inflates with. Below 15 a client must be
  // held to it with client_max_window_bits (7.1.2.2), which only a client
  // that offers the parameter can be: other offers are declined.
  uint8_t client_max_window_bits = 15;
  uint8_t mem_level = 7;
};

// What was agreed, for the connection's Deflater and Inflater.
struct DeflateAgreement {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  uint8_t server_max_window_bits = 15;  // the window the server promised to stay within
  uint8_t client_max_window_bits = 15;  // the window the client may use: the inflater's
  uint8_t mem_level = 8;
};

enum class Negotiation : uint8_t {
  kAccepted,   // an offer was accepted: send the response value
  kNoOffer,    // no permessage-deflate offer (or the config disables it)
  kDeclined,   // offers, none acceptable (malformed, or past the config)
  kMalformed,  // the header breaks RFC 6455 9.1's grammar: nothing accepted
  kBadConfig,  // the config has a value out of range
};
const char* negotiation_name(Negotiation n);

// The longest response value written: the extension and its four parameters.
constexpr size_t kMaxExtensionResponse = 128;

// One Sec-WebSocket-Extensions field value (a request may carry several
// lines; they are one list, in order: RFC 7230 3.2.2).
struct HeaderValue {
  const char* data;
  size_t len;
};

struct NegotiationResult {
  Negotiation outcome = Negotiation::kNoOffer;
  DeflateAgreement agreed;  // kAccepted only
  size_t response_len = 0;  // kAccepted: bytes written to out
};

// Reads the offers in values[0, count) and, on kAccepted, writes the
// response's Sec-WebSocket-Extensions value to out[0, kMaxExtensionResponse).
NegotiationResult negotiate(const HeaderValue* values, size_t count, const DeflateConfig& config,
                            char out[kMaxExtensionResponse]);

// The config's values are in range (negotiate() answers kBadConfig otherwise).
bool config_valid(const DeflateConfig& config);

}  // namespace tsgi::ws
