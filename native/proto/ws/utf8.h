// A UTF-8 validator one byte at a time (RFC 3629 section 4), for WebSocket
// text messages and close reasons (RFC 6455 8.1, 5.5.1). The state carries a
// sequence cut anywhere, across feeds and across the fragments of a message;
// it refuses what RFC 3629 forbids at the first byte that proves it:
// overlong forms (C0, C1, E0 80-9F, F0 80-8F), the surrogates U+D800-DFFF
// (ED A0-BF), code points above U+10FFFF (F4 90-BF, F5-FF) and a
// continuation byte where none is owed.
#pragma once

#include <cstdint>

namespace tsgi::ws::utf8 {

// kAccept: between characters. kReject is final. The rest name what the next
// byte must be: any continuation byte (80-BF) with 1, 2 or 3 still owed, or
// the narrowed range a lead byte allows as its second byte.
enum State : uint8_t {
  kAccept,
  kReject,
  kTail1,    // 80-BF, then done
  kTail2,    // 80-BF, then kTail1
  kTail3,    // 80-BF, then kTail2
  kAfterE0,  // A0-BF (no overlong 3-byte form), then kTail1
  kAfterED,  // 80-9F (no surrogate), then kTail1
  kAfterF0,  // 90-BF (no overlong 4-byte form), then kTail2
  kAfterF4,  // 80-8F (nothing above U+10FFFF), then kTail2
};

inline uint8_t step(uint8_t s, unsigned char c) {
  auto in = [c](unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  switch (s) {
    case kAccept:
      if (c < 0x80) return kAccept;
      if (in(0xc2, 0xdf)) return kTail1;
      if (c == 0xe0) return kAfterE0;
      if (c == 0xed) return kAfterED;
      if (in(0xe1, 0xef)) return kTail2;
      if (c == 0xf0) return kAfterF0;
      if (in(0xf1, 0xf3)) return kTail3;
      if (c == 0xf4) return kAfterF4;
      return kReject;  // 80-C1 as a lead byte, F5-FF
    case kTail1: return in(0x80, 0xbf) ? kAccept : kReject;
    case kTail2: return in(0x80, 0xbf) ? kTail1 : kReject;
    case kTail3: return in(0x80, 0xbf) ? kTail2 : kReject;
    case kAfterE0: return in(0xa0, 0xbf) ? kTail1 : kReject;
    case kAfterED: return in(0x80, 0x9f) ? kTail1 : kReject;
    case kAfterF0: return in(0x90, 0xbf) ? kTail2 : kReject;
    case kAfterF4: return in(0x80, 0x8f) ? kTail2 : kReject;
    default: return kReject;
  }
}

// True if p[0, n) is whole, valid UTF-8.
inline bool valid(const unsigned char* p, uint32_t n) {
  uint8_t s = kAccept;
  for (uint32_t i = 0; i < n && s != kReject; ++i) s = step(s, p[i]);
  return s == kAccept;
}

}  // namespace tsgi::ws::utf8
