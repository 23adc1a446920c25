// RFC 6455 frames as a server writes them: headers and control frames into
// a buffer the caller sized, no allocation, no I/O. A server's frames are
// never masked (RFC 6455 5.1) and always use the minimal length encoding
// (5.2). Data frames are a header from write_header() followed by the
// payload, which the caller sends as it is (one writev, no copy).
#pragma once

#include <cstddef>
#include <cstdint>

#include "proto/ws/framer.h"

namespace tsgi::ws {

// The longest header: two bytes and a 64-bit length.
constexpr size_t kMaxHeader = 10;
// A client's longest header: the same and the 4-byte masking key.
constexpr size_t kMaxClientHeader = kMaxHeader + 4;
// The longest control frame: a two-byte header and 125 bytes of payload.
constexpr size_t kMaxControlFrame = 2 + kMaxControlPayload;

// 2, 4 or 10: the header size for a payload of `length` bytes (5.2).
size_t header_size(uint64_t length);

// Writes a header to out[0, kMaxHeader) and returns its size, or 0 for what
// no peer may receive: an opcode RFC 6455 does not define, a length with the
// top bit set, a control frame without FIN or longer than 125 bytes, RSV1
// on a control or continuation frame (RFC 7692 6.1).
size_t write_header(char* out, uint8_t opcode, bool fin, uint64_t length, bool rsv1 = false);

// A client's header (RFC 6455 5.1: a client masks every frame it sends):
// as write_header(), with the MASK bit set and the key after the length.
// The caller masks the payload with mask_payload(). Used by tsgi bench.
size_t write_client_header(char* out, uint8_t opcode, bool fin, uint64_t length, const uint8_t key[4]);

// 5.3: byte i of the payload is XORed with key[(offset + i) % 4]; offset is
// the position of data[0] in the frame's payload. Masking twice unmasks.
void mask_payload(char* data, size_t len, const uint8_t key[4], uint64_t offset = 0);

// A whole ping or pong (or close, payload as given) into out[0,
// kMaxControlFrame); 0 if the opcode is not a control one or len > 125.
size_t write_control(char* out, uint8_t opcode, const char* payload, size_t len);

// How many bytes of s[0, len) fit in `max` without cutting a UTF-8 sequence:
// the cut moves back over continuation bytes to a lead byte.
size_t utf8_prefix(const char* s, size_t len, size_t max);

// A close frame into out[0, kMaxControlFrame): code 0 writes an empty body
// (7.1.5: no status); otherwise the code, which must be close_code_valid(),
// and the reason cut to fit 123 bytes on a character boundary. Returns the
// size, or 0 for a code no frame may carry.
size_t write_close(char* out, uint16_t code, const char* reason, size_t reason_len);

}  // namespace tsgi::ws
