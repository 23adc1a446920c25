// RFC 6455 frames, the server's writing side; see writer.h.
#include "proto/ws/writer.h"

#include <cstring>

namespace tsgi::ws {

size_t header_size(uint64_t length) {
  // 5.2: 0-125 in the 7-bit field, then 16 bits, then 64 bits.
  return length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
}

size_t write_header(char* out, uint8_t opcode, bool fin, uint64_t length, bool rsv1) {
  const bool control = opcode & 0x8;
  const bool known = opcode <= kBinary || (opcode >= kClose && opcode <= kPong);
  if (!known || (length >> 63)) return 0;  // 5.2
  if (control && (!fin || length > kMaxControlPayload)) return 0;  // 5.5
  if (rsv1 && opcode != kText && opcode != kBinary) return 0;  // RFC 7692 6.1
  unsigned char* p = reinterpret_cast<unsigned char*>(out);
  p[0] = static_cast<unsigned char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
  // 5.1: "A server MUST NOT mask any frames that it sends to the client".
  if (length <= 125) {
    p[1] = static_cast<unsigned char>(length);
    return 2;
  }
  if (length <= 0xffff) {
    p[1] = 126;
    p[2] = static_cast<unsigned char>(length >> 8);
    p[3] = static_cast<unsigned char>(length);
    return 4;
  }
  p[1] = 127;
  for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<unsigned char>(length >> (56 - 8 * i));
  return 10;
}

size_t write_client_header(char* out, uint8_t opcode, bool fin, uint64_t length, const uint8_t key[4]) {
  const size_t h = write_header(out, opcode, fin, length);
  if (h == 0) return 0;
  out[1] = static_cast<char>(static_cast<unsigned char>(out[1]) | 0x80);  // 5.2: MASK
  std::memcpy(out + h, key, 4);
  return h + 4;
}

void mask_payload(char* data, size_t len, const uint8_t key[4], uint64_t offset) {
  for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>(data[i] ^ key[(offset + i) & 3]);
}

size_t write_control(char* out, uint8_t opcode, const char* payload, size_t len) {
  if (!(opcode & 0x8)) return 0;
  const size_t h = write_header(out, opcode, true, len);
  if (h == 0) return 0;
  if (len) std::memcpy(out + h, payload, len);
  return h + len;
}

size_t utf8_prefix(const char* s, size_t len, size_t max) {
  if (len <= max) return len;
  size_t n = max;
  // s[n] is the first byte left out: while it continues a sequence, the
  // sequence it belongs to is cut, so leave out its lead byte too.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return n;
}

size_t write_close(char* out, uint16_t code, const char* reason, size_t reason_len) {
  if (code == 0) return write_control(out, kClose, nullptr, 0);
  // 7.4.1: 1005, 1006 and 1015 are for reporting, never for a close frame.
  if (!close_code_valid(code)) return 0;
  char body[kMaxControlPayload];
  body[0] = static_cast<char>(code >> 8);
  body[1] = static_cast<char>(code);
  // 5.5.1: the reason follows the code; 5.5: the whole body <= 125 bytes.
  const size_t n = utf8_prefix(reason, reason_len, kMaxControlPayload - 2);
  if (n) std::memcpy(body + 2, reason, n);
  return write_control(out, kClose, body, 2 + n);
}

}  // namespace tsgi::ws
