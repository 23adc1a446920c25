// RFC 6455 (WebSocket) frames as a server reads them: one pure state
// machine, resumable at any byte, with no I/O, no allocation and nothing that
// asserts on input. feed() consumes bytes and returns one event at a time:
//
//   kFrame       a data frame's header (text, binary or continuation)
//   kData        a piece of its payload, unmasked IN PLACE: data points into
//                the caller's input, which feed() therefore takes non-const.
//                A text message's pieces are valid UTF-8 so far; a piece may
//                end inside a character, the rest follows in the next piece.
//   kMessageEnd  the last frame (FIN) of a message is in
//   kPing/kPong  a whole control frame; its payload (<= 125 bytes) is copied
//                to the decoder's own buffer, valid until the next feed()
//   kClose       a close frame, its code (0: none sent, which RFC 6455 7.1.5
//                reports as 1005) and reason; every later byte is an error
//   kError       the frame is refused: error, the close code to send (RFC
//                6455 7.4.1) and detail; every later feed() answers the same
//
// What this does not do: answer pings, send the close reply, inflate
// permessage-deflate (RFC 7692) or time anything out. Those are the
// connection's, which will enter this decoder after an HTTP/1.1 Upgrade.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsgi::ws {

// RFC 6455 5.2, the opcodes of RFC 6455 itself; all others are refused.
enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xa,
};

// RFC 6455 5.5: a control frame's payload is at most 125 bytes.
constexpr uint32_t kMaxControlPayload = 125;

// The one list of errors: the enum, error_name(), error_text() and
// close_code() come from it, and the test hooks export it (wsErrors()).
// X(name, close code, text); comments say what `detail` carries.
#define TSGI_WS_ERRORS(X)                                                                      \
  /* RFC 6455 5.1: a client MUST mask every frame; detail: the second header byte */           \
  X(kUnmasked, 1002, "WebSocket frame from a client is not masked")                           \
  /* RSV1-3 set and not negotiated (RFC 6455 5.2), or RSV1 where RFC 7692 6.1 forbids */      \
  /* it (control or continuation frame); detail: the RSV bits, 1-7 */                         \
  X(kReservedBits, 1002, "WebSocket frame with reserved bits set")                            \
  /* opcode 3-7 or 0xB-0xF (RFC 6455 5.2); detail: the opcode */                              \
  X(kUnknownOpcode, 1002, "WebSocket frame with an unknown opcode")                           \
  /* a 16-bit length below 126, a 64-bit one below 65536 (RFC 6455 5.2); detail: it */        \
  X(kNonMinimalLength, 1002, "WebSocket payload length not in its minimal encoding")          \
  /* RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0 */                   \
  X(kLengthHighBit, 1002, "WebSocket 64-bit payload length with its top bit set")             \
  /* RFC 6455 5.5: control payload over 125 bytes; detail: the 7-bit length */                \
  X(kControlTooLong, 1002, "WebSocket control frame longer than 125 bytes")                   \
  /* RFC 6455 5.5: control frames MUST NOT be fragmented; detail: the opcode */               \
  X(kControlFragmented, 1002, "WebSocket control frame without FIN")                          \
  /* RFC 6455 5.4: a continuation frame with no message started */                            \
  X(kUnexpectedContinuation, 1002, "WebSocket continuation frame outside a message")          \
  /* RFC 6455 5.4: a text or binary frame inside a fragmented message; detail: opcode */      \
  X(kMessageInterleaved, 1002, "WebSocket data frame inside a fragmented message")            \
  /* RFC 6455 5.5.1: a close payload of one byte */                                           \
  X(kCloseTooShort, 1002, "WebSocket close frame with a one-byte payload")                    \
  /* RFC 6455 7.4: a close code an endpoint may not send; detail: the code */                 \
  X(kBadCloseCode, 1002, "WebSocket close frame with an invalid close code")                  \
  /* RFC 6455 5.5.1: a close reason that is not UTF-8 */                                      \
  X(kBadCloseReason, 1007, "WebSocket close reason is not valid UTF-8")                       \
  /* RFC 6455 8.1: a byte that cannot continue UTF-8; detail: offset in the message */        \
  X(kBadUtf8, 1007, "WebSocket text message is not valid UTF-8")                              \
  /* RFC 6455 8.1: the text message ends inside a character; detail: its length */            \
  X(kTruncatedUtf8, 1007, "WebSocket text message ends inside a UTF-8 sequence")              \
  /* over Limits::max_frame (RFC 6455 7.4.1, 1009); detail: the frame's length */             \
  X(kFrameTooBig, 1009, "WebSocket frame larger than the limit")                              \
  /* over Limits::max_message, fragments summed; detail: the message so far plus the frame */ \
  X(kMessageTooBig, 1009, "WebSocket message larger than the limit")                          \
  /* RFC 6455 5.5.1: nothing may follow a close frame; detail: 0 */                           \
  X(kDataAfterClose, 1002, "WebSocket data after the close frame")

enum class Error : uint8_t {
  kNone,
#define TSGI_X(name, code, text) name,
  TSGI_WS_ERRORS(TSGI_X)
#undef TSGI_X
};

const char* error_text(Error e);
// "kUnmasked" for Error::kUnmasked ("kNone" for kNone).
const char* error_name(Error e);
// The close code to send for the error (RFC 6455 7.4.1), 0 for kNone.
uint16_t close_code(Error e);

// RFC 6455 7.4: a code a close frame may carry. Accepted: 1000-1003,
// 1007-1011 (RFC 6455 7.4.1), 1012-1014 (registered with IANA since: service
// restart, try again later, bad gateway) and 3000-4999 (7.4.2: libraries,
// frameworks and applications). Refused: below 1000, 1004 (reserved), 1005,
// 1006 and 1015 (7.4.1: MUST NOT be set in a close frame), and the
// unassigned rest of 1000-2999 (reserved for RFC 6455 and its extensions).
// This accepts every code of Autobahn|Testsuite 7.7.x and refuses every one
// of 7.9.x (0, 999, 1004-1006, 1016, 1100, 2000, 2999); its older releases
// listed 1012-1014 among the invalid ones.
bool close_code_valid(uint16_t code);

struct Limits {
  uint64_t max_frame = 16u << 20;    // one frame's payload (RFC 6455 7.4.1: 1009)
  uint64_t max_message = 16u << 20;  // the payloads of a message's frames, summed
  // permessage-deflate (RFC 7692) was negotiated: RSV1 may mark the first
  // frame of a data message as compressed. Such a message's text is checked
  // as UTF-8 after inflating, by whoever inflates it, not here; and the
  // limits above then count compressed bytes.
  bool allow_rsv1 = false;
  // RFC 6455 5.1: a server MUST refuse unmasked frames. False only to read
  // a server's frames (our own writer's, in tests).
  bool require_mask = true;
};

enum class Ev : uint8_t {
  kAgain,       // every byte given was consumed and nothing is pending; feed more
  kFrame,       // opcode, fin, rsv1, length, message
  kData,        // data/len, never empty: payload unmasked in place
  kMessageEnd,  // message: kText or kBinary
  kPing,        // data/len: the payload, in the decoder
  kPong,        // data/len
  kClose,       // code (0: none), data/len: the reason, valid UTF-8
  kError,       // error, code, detail
};

struct Event {
  Ev type = Ev::kAgain;
  uint8_t opcode = 0;   // kFrame: the frame's own opcode (kContinuation for a fragment)
  uint8_t message = 0;  // kFrame, kData, kMessageEnd: the message's kText or kBinary
  bool fin = false;     // kFrame
  bool rsv1 = false;    // kFrame: the message is compressed (Limits::allow_rsv1)
  uint64_t length = 0;  // kFrame: payload length
  const char* data = nullptr;
  size_t len = 0;
  uint16_t code = 0;           // kClose: the code received; kError: the code to send
  Error error = Error::kNone;  // kError
  uint64_t detail = 0;         // kError
};

class Decoder {
 public:
  explicit Decoder(const Limits& limits = Limits()) : lim_(limits) {}
  void reset(const Limits& limits) { *this = Decoder(limits); }

  // Consumes a prefix of in[0, len) and reports one event. kAgain means all
  // len bytes were used and nothing is pending; after any other event call
  // again with the rest, even when the rest is empty (a frame's end is
  // reported after its last byte, by the next call).
  size_t feed(char* in, size_t len, Event* ev);

  uint64_t position() const { return pos_; }  // bytes consumed since reset
  // True between messages and frames: EOF anywhere else cuts one short.
  bool at_message_boundary() const {
    return (state_ == State::kHead0 && message_ == 0) || state_ == State::kClosed;
  }
  bool closed() const { return state_ == State::kClosed; }

 private:
  // One state per header field, then the payload.
  enum class State : uint8_t {
    kHead0, kHead1, kExtLength, kMaskKey, kPayload, kFrameDone, kClosed, kError,
  };

  bool head0(unsigned char c);
  bool head1(unsigned char c);
  bool ext_length(unsigned char c);
  bool length_known();
  bool start_payload(Event* ev);
  size_t payload(char* in, size_t len, Event* ev);
  bool frame_done(Event* ev);
  bool control_done(Event* ev);
  bool fail(Error e, uint64_t detail);

  Limits lim_;
  State state_ = State::kHead0;
  uint8_t opcode_ = 0;
  bool fin_ = false;
  bool rsv1_ = false;
  bool masked_ = false;
  uint8_t len7_ = 0;      // the 7-bit length: 126 and 127 announce longer ones
  uint8_t need_ = 0;      // bytes of the extended length or mask key still to come
  uint8_t mask_[4] = {};
  uint8_t mask_at_ = 0;   // index into mask_ of the next payload byte
  uint64_t length_ = 0;   // the frame's payload length
  uint64_t left_ = 0;     // payload bytes still to come
  uint8_t message_ = 0;   // kText or kBinary while a message is open, else 0
  bool compressed_ = false;
  uint64_t message_bytes_ = 0;  // the lengths of its frames so far, summed
  uint64_t message_read_ = 0;   // its payload bytes read
  uint8_t utf8_ = 0;      // utf8::State of the open text message
  uint8_t control_[kMaxControlPayload] = {};
  uint8_t control_len_ = 0;
  uint64_t pos_ = 0;
  Error error_ = Error::kNone;
  uint64_t detail_ = 0;
};

}  // namespace tsgi::ws
