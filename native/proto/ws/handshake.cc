// The opening handshake's arithmetic; see handshake.h.
#include "proto/ws/handshake.h"

#include <cstring>

namespace tsgi::ws {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// 1.3: the GUID the key is concatenated with.
constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

uint32_t rol(uint32_t x, int n) { return x << n | x >> (32 - n); }

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

// RFC 3174 section 6.1 (method 1): eighty rounds over a 64-byte block.
void Sha1::block(const uint8_t* p) {
  uint32_t w[80];
  for (int t = 0; t < 16; ++t)
    w[t] = uint32_t(p[4 * t]) << 24 | uint32_t(p[4 * t + 1]) << 16 | uint32_t(p[4 * t + 2]) << 8 | p[4 * t + 3];
  for (int t = 16; t < 80; ++t) w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
  for (int t = 0; t < 80; ++t) {
    uint32_t f, k;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999u;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1u;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdcu;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6u;
    }
    const uint32_t tmp = rol(a, 5) + f + e + w[t] + k;
    e = d;
    d = c;
    c = rol(b, 30);
    b = a;
    a = tmp;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
}

void Sha1::update(const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_ += len;
  while (len > 0) {
    const size_t n = len < 64 - buffered_ ? len : 64 - buffered_;
    std::memcpy(buf_ + buffered_, p, n);
    buffered_ += uint32_t(n);
    p += n;
    len -= n;
    if (buffered_ == 64) {
      block(buf_);
      buffered_ = 0;
    }
  }
}

// RFC 3174 4: a 1 bit, zeros to 56 bytes mod 64, the length in bits.
void Sha1::finish(uint8_t digest[20]) {
  const uint64_t bits = total_ * 8;
  const uint8_t one = 0x80, zero = 0;
  update(&one, 1);
  while (buffered_ != 56) update(&zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(bits >> (56 - 8 * i));
  update(len, 8);
  for (int i = 0; i < 20; ++i) digest[i] = uint8_t(h_[i / 4] >> (24 - 8 * (i % 4)));
}

bool key_valid(const char* key, size_t len) {
  if (len != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i)
    if (base64_value(static_cast<unsigned char>(key[i])) < 0) return false;
  // The 22nd character holds the 16th byte's last 2 bits and 4 zero bits.
  return (base64_value(static_cast<unsigned char>(key[21])) & 0xf) == 0;
}

bool version_valid(const char* v, size_t len) { return len == 2 && v[0] == '1' && v[1] == '3'; }

void accept_key(const char* key, size_t len, char out[kAcceptLen]) {
  Sha1 sha;
  sha.update(key, len);
  sha.update(kGuid, sizeof kGuid - 1);
  uint8_t d[21];
  sha.finish(d);
  d[20] = 0;
  // 20 bytes: six groups of three, then two bytes and one '='.
  for (int g = 0; g < 7; ++g) {
    const uint32_t v = uint32_t(d[3 * g]) << 16 | uint32_t(d[3 * g + 1]) << 8 | d[3 * g + 2];
    for (int k = 0; k < 4; ++k) out[4 * g + k] = kAlphabet[(v >> (18 - 6 * k)) & 0x3f];
  }
  out[kAcceptLen - 1] = '=';
}

}  // namespace tsgi::ws
