// The server's arithmetic of the RFC 6455 opening handshake (4.2): whether a
// client's Sec-WebSocket-Key and Sec-WebSocket-Version are acceptable, and
// the Sec-WebSocket-Accept that answers the key. Pure: the HTTP exchange
// reads the headers and writes the 101 reply. SHA-1 (RFC 3174) is our own,
// small and only for this: no TLS library is linked.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsgi::ws {

// FIPS 180-4 SHA-1, fed in any pieces.
class Sha1 {
 public:
  void update(const void* data, size_t len);
  void finish(uint8_t digest[20]);

 private:
  void block(const uint8_t* p);

  uint32_t h_[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
  uint8_t buf_[64] = {};
  uint32_t buffered_ = 0;
  uint64_t total_ = 0;  // bytes
};

// 4.1 and 4.2.1 item 5: the key is "a nonce consisting of a randomly selected
// 16-byte value that has been base64-encoded": exactly 24 characters, 22 of
// the RFC 4648 alphabet and "==", in the canonical encoding (the bits after
// the 16th byte zero). Header whitespace is the HTTP parser's to trim.
bool key_valid(const char* key, size_t len);

// 4.2.1 item 6: only version 13 ("13", no sign, no leading zero); a server
// answers any other with 426 and Sec-WebSocket-Version: 13 (4.4).
bool version_valid(const char* v, size_t len);

// 4.2.2 item 5.4: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")),
// 28 characters written to out, no NUL.
constexpr size_t kAcceptLen = 28;
void accept_key(const char* key, size_t len, char out[kAcceptLen]);

}  // namespace tsgi::ws
