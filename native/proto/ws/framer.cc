// RFC 6455 frames, the server's reading side; see framer.h. Sections below
// are RFC 6455's unless named otherwise.
//
// Every decision is taken at one byte position from the bytes before it
// (a header field when its last byte is in, a UTF-8 byte when it is
// unmasked), so feeding a stream in any pieces gives the same events, the
// same joined payload and the same first error as feeding it whole.
#include "proto/ws/framer.h"

#include <cstring>

#include "proto/ws/utf8.h"

namespace tsgi::ws {
namespace {

bool is_control(uint8_t op) { return op & 0x8; }

// 5.2: the opcodes RFC 6455 defines; 3-7 and 0xB-0xF are reserved.
bool is_known(uint8_t op) { return op <= kBinary || (op >= kClose && op <= kPong); }

struct Entry {
  const char* name;
  const char* text;
  uint16_t code;
};

constexpr Entry kEntries[] = {
    {"kNone", "no error", 0},
#define TSGI_X(name, code, text) {#name, text, code},
    TSGI_WS_ERRORS(TSGI_X)
#undef TSGI_X
};

}  // namespace

const char* error_name(Error e) { return kEntries[static_cast<uint8_t>(e)].name; }
const char* error_text(Error e) { return kEntries[static_cast<uint8_t>(e)].text; }
uint16_t close_code(Error e) { return kEntries[static_cast<uint8_t>(e)].code; }

bool close_code_valid(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;  // 7.4.2
  if (code >= 1000 && code <= 1003) return true;  // 7.4.1
  return code >= 1007 && code <= 1014;            // 7.4.1, and the IANA registry
}

bool Decoder::fail(Error e, uint64_t detail) {
  state_ = State::kError;
  error_ = e;
  detail_ = detail;
  return false;
}

// FIN, RSV1-3, opcode: everything that can be refused from the opcode alone.
bool Decoder::head0(unsigned char c) {
  fin_ = c & 0x80;
  opcode_ = c & 0x0f;
  const unsigned rsv = (c >> 4) & 0x7;
  // 5.2: "MUST be 0 unless an extension is negotiated that defines meanings
  // for non-zero values". RFC 7692 6.1 gives RSV1 to permessage-deflate, on
  // the first frame of a data message only.
  if (rsv & 0x3) return fail(Error::kReservedBits, rsv);
  rsv1_ = rsv & 0x4;
  if (rsv1_ && !(lim_.allow_rsv1 && (opcode_ == kText || opcode_ == kBinary)))
    return fail(Error::kReservedBits, rsv);
  // 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail
  // the WebSocket Connection_."
  if (!is_known(opcode_)) return fail(Error::kUnknownOpcode, opcode_);
  // 5.5: "All control frames ... MUST NOT be fragmented."
  if (is_control(opcode_)) return fin_ || fail(Error::kControlFragmented, opcode_);
  // 5.4: a fragmented message is one text or binary frame without FIN, any
  // continuation frames, and the final one; control frames may come between.
  if (opcode_ == kContinuation) return message_ || fail(Error::kUnexpectedContinuation, 0);
  return !message_ || fail(Error::kMessageInterleaved, opcode_);
}

// MASK and the 7-bit payload length.
bool Decoder::head1(unsigned char c) {
  masked_ = c & 0x80;
  len7_ = c & 0x7f;
  // 5.1: "The server MUST close the connection upon receiving a frame that is
  // not masked", with 1002 (7.4.1).
  if (!masked_ && lim_.require_mask) return fail(Error::kUnmasked, c);
  // 5.5: "All control frames MUST have a payload length of 125 bytes or less".
  if (is_control(opcode_) && len7_ > kMaxControlPayload) return fail(Error::kControlTooLong, len7_);
  // 5.5.1: a close body, if any, starts with a two-byte code.
  if (opcode_ == kClose && len7_ == 1) return fail(Error::kCloseTooShort, 1);
  length_ = 0;
  if (len7_ == 126 || len7_ == 127) {
    need_ = len7_ == 126 ? 2 : 8;
    state_ = State::kExtLength;
    return true;
  }
  length_ = len7_;
  return length_known();
}

bool Decoder::ext_length(unsigned char c) {
  // 5.2: "the most significant bit MUST be 0" of the 64-bit length.
  if (len7_ == 127 && need_ == 8 && (c & 0x80)) return fail(Error::kLengthHighBit, c);
  length_ = length_ << 8 | c;
  if (--need_) return true;
  // 5.2: "the minimal number of bytes MUST be used to encode the length".
  // Refused, strictly: no client library we know sends a longer form.
  if (len7_ == 126 ? length_ < 126 : length_ <= 0xffff) return fail(Error::kNonMinimalLength, length_);
  return length_known();
}

// The length is in: the limits (7.4.1, 1009), then the mask key if any.
bool Decoder::length_known() {
  if (length_ > lim_.max_frame) return fail(Error::kFrameTooBig, length_);
  if (!is_control(opcode_)) {
    const uint64_t before = opcode_ == kContinuation ? message_bytes_ : 0;
    if (length_ > lim_.max_message - before) return fail(Error::kMessageTooBig, before + length_);
  }
  if (masked_) {
    need_ = 4;
    state_ = State::kMaskKey;
  } else {
    state_ = State::kPayload;  // start_payload() is the caller's next step
  }
  return true;
}

// The header is whole. Returns true with a kFrame event for a data frame.
bool Decoder::start_payload(Event* ev) {
  state_ = State::kPayload;
  left_ = length_;
  mask_at_ = 0;
  if (!masked_) std::memset(mask_, 0, sizeof mask_);
  if (is_control(opcode_)) {
    control_len_ = 0;
    return false;
  }
  if (opcode_ != kContinuation) {
    message_ = opcode_;
    compressed_ = rsv1_;
    message_bytes_ = 0;
    message_read_ = 0;
    utf8_ = utf8::kAccept;
  }
  message_bytes_ += length_;
  ev->type = Ev::kFrame;
  ev->opcode = opcode_;
  ev->message = message_;
  ev->fin = fin_;
  ev->rsv1 = rsv1_;
  ev->length = length_;
  return true;
}

// Payload bytes of the current frame from in[0, len), len > 0 and left_ > 0.
size_t Decoder::payload(char* in, size_t len, Event* ev) {
  const size_t n = len < left_ ? len : static_cast<size_t>(left_);
  unsigned char* p = reinterpret_cast<unsigned char*>(in);
  if (is_control(opcode_)) {
    for (size_t i = 0; i < n; ++i) control_[control_len_++] = p[i] ^ mask_[(mask_at_ + i) & 3];
    mask_at_ = static_cast<uint8_t>((mask_at_ + n) & 3);
    left_ -= n;
    pos_ += n;
    return n;
  }
  const bool check = message_ == kText && !compressed_;
  // The mask as a 64-bit word for each of its four phases: payload is
  // unmasked eight bytes at a time (a byte at a time costs ~1 ns a byte,
  // most of a 4 KiB message's time here).
  uint64_t words[4];
  for (unsigned r = 0; r < 4; ++r) {
    unsigned char m8[8];
    for (unsigned k = 0; k < 8; ++k) m8[k] = mask_[(r + k) & 3];
    std::memcpy(&words[r], m8, 8);
  }
  size_t i = 0;
  if (!check) {
    const uint64_t w8 = words[mask_at_ & 3];
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      w ^= w8;
      std::memcpy(p + i, &w, 8);
    }
    for (; i < n; ++i) p[i] = static_cast<unsigned char>(p[i] ^ mask_[(mask_at_ + i) & 3]);
  } else {
    while (i < n) {
      if (utf8_ == utf8::kAccept && i + 8 <= n) {
        // Eight ASCII bytes after a whole character are valid as they are.
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        w ^= words[(mask_at_ + i) & 3];
        if ((w & 0x8080808080808080ull) == 0) {
          std::memcpy(p + i, &w, 8);
          i += 8;
          continue;
        }
      }
      const unsigned char c = p[i] ^ mask_[(mask_at_ + i) & 3];
      // 8.1: invalid UTF-8 in a text message fails the connection (1007). The
      // byte stays masked and unconsumed: the valid bytes before it are
      // reported first, as they would be had the input been cut right there.
      const uint8_t s = utf8::step(utf8_, c);
      if (s == utf8::kReject) break;
      utf8_ = s;
      p[i] = c;
      ++i;
    }
  }
  mask_at_ = static_cast<uint8_t>((mask_at_ + i) & 3);
  left_ -= i;
  pos_ += i;
  message_read_ += i;
  if (i == 0) {
    fail(Error::kBadUtf8, message_read_);
    return 0;
  }
  ev->type = Ev::kData;
  ev->message = message_;
  ev->data = in;
  ev->len = i;
  return i;
}

// The last payload byte is in. Returns true with an event to report.
bool Decoder::frame_done(Event* ev) {
  state_ = State::kHead0;
  if (is_control(opcode_)) return control_done(ev);
  if (!fin_) return false;
  // 8.1: a message that ends inside a character is not valid UTF-8 either.
  if (message_ == kText && !compressed_ && utf8_ != utf8::kAccept)
    return fail(Error::kTruncatedUtf8, message_read_);
  ev->type = Ev::kMessageEnd;
  ev->message = message_;
  message_ = 0;
  return true;
}

bool Decoder::control_done(Event* ev) {
  ev->data = reinterpret_cast<const char*>(control_);
  ev->len = control_len_;
  if (opcode_ == kPing) {
    ev->type = Ev::kPing;
    return true;
  }
  if (opcode_ == kPong) {
    ev->type = Ev::kPong;
    return true;
  }
  // 5.5.1: an optional body, a two-byte code then a UTF-8 reason.
  ev->type = Ev::kClose;
  if (control_len_ >= 2) {
    ev->code = static_cast<uint16_t>(control_[0] << 8 | control_[1]);
    if (!close_code_valid(ev->code)) return fail(Error::kBadCloseCode, ev->code);
    if (!utf8::valid(control_ + 2, control_len_ - 2u)) return fail(Error::kBadCloseReason, 0);
    ev->data += 2;
    ev->len -= 2;
  }
  state_ = State::kClosed;
  return true;
}

size_t Decoder::feed(char* in, size_t len, Event* ev) {
  *ev = Event();
  size_t used = 0;
  for (;;) {
    switch (state_) {
      case State::kError:
        ev->type = Ev::kError;
        ev->error = error_;
        ev->code = close_code(error_);
        ev->detail = detail_;
        return used;
      case State::kFrameDone:
        if (frame_done(ev)) return used;
        continue;
      case State::kPayload:
        if (left_ == 0) {
          state_ = State::kFrameDone;
          continue;
        }
        if (used == len) return used;
        {
          const size_t n = payload(in + used, len - used, ev);
          used += n;
          if (ev->type == Ev::kData) return used;
        }
        continue;
      default:
        break;
    }
    if (used == len) return used;  // kAgain
    const unsigned char c = static_cast<unsigned char>(in[used]);
    if (state_ == State::kClosed) {
      fail(Error::kDataAfterClose, 0);
      continue;
    }
    ++used;
    ++pos_;
    switch (state_) {
      case State::kHead0:
        if (head0(c)) state_ = State::kHead1;
        break;
      case State::kHead1:
        head1(c);
        break;
      case State::kExtLength:
        ext_length(c);
        break;
      case State::kMaskKey:
        mask_[4 - need_] = c;
        if (--need_ == 0) state_ = State::kPayload;
        break;
      default:
        break;
    }
    // The header just ended (kPayload reached from a header state).
    if (state_ == State::kPayload && start_payload(ev)) return used;
  }
}

}  // namespace tsgi::ws
