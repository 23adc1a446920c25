// Every number JavaScript and C++ share across N-API, in one place. The core
// names them through this header; addon.cc exports each list as it stands
// here (binding.abi), and src/native/abi.ts is the one TypeScript file that
// reads them. A test (test/build/abi.test.ts) fails when the two sides'
// key lists differ or a copy of a number turns up elsewhere in src/.
//
// Each list is X(C++ name, JS key, value). This header includes nothing of
// the core, so any layer may include it.
#pragma once

#include <cstdint>

// Event types: the first of the four numbers per event in the shared
// Float64Array (type, handle, a, b; see TSGI_ABI_EVENT_SLOTS).
#define TSGI_ABI_EVENTS(X)                                                      \
  X(kEvRequest, REQUEST, 1)       /* a: record offset in the batch */          \
  X(kEvBody, BODY, 2)             /* a: offset, b: length */                   \
  X(kEvBodyEnd, BODY_END, 3)      /* a: bytes in readBody's Buffer; b: -(i + 1) when it grows one: the batch call's i-th Buffer of its own */ \
  X(kEvBodyError, BODY_ERROR, 4)  /* a: the HTTP status; b: 1 past readBody's limit */ \
  X(kEvAbort, ABORT, 5)                                                        \
  X(kEvDrain, DRAIN, 6)                                                        \
  X(kEvData, DATA, 7)             /* FastCGI FILTER: DATA bytes, a/b as BODY */ \
  X(kEvDataEnd, DATA_END, 8)                                                   \
  X(kEvDataError, DATA_ERROR, 9)                                               \
  X(kEvWsText, WS_TEXT, 10)       /* a whole text message: a offset, b length */ \
  X(kEvWsBinary, WS_BINARY, 11)   /* a whole binary message, as WS_TEXT */     \
  X(kEvWsClose, WS_CLOSE, 12)     /* a: the code, b: reason offset * 256 + length */ \
  X(kEvServed, SERVED, 13)        /* the core answered the request of the REQUEST event just before (record flag SERVED): a: the status, b: body bytes */ \
  X(kEvBodyRead, BODY_READ, 14)   /* readInto's memory took a bytes; the body is paused until the next readInto */

// Where each of an event's numbers sits, and how many there are.
#define TSGI_ABI_EVENT_SLOTS(X) \
  X(kSlotType, TYPE, 0)         \
  X(kSlotHandle, HANDLE, 1)     \
  X(kSlotA, A, 2)               \
  X(kSlotB, B, 3)               \
  X(kEventSlots, SIZE, 4)

// The request record: u32 words at the event's offset (4-aligned). A slice
// is two words, offset then length; offsets marked "rel" are relative to
// the HEAD word, the others to the start of the batch. From PAIRS on come
// COUNT pairs (TSGI_ABI_PAIR): HTTP header fields, or the CGI variables
// when the CGI flag is set (then METHOD through HOST are unused).
#define TSGI_ABI_RECORD(X)                                        \
  X(kWordHead, HEAD, 0)           /* the head bytes */            \
  X(kWordFlags, FLAGS, 1)         /* TSGI_ABI_*_FLAGS below */    \
  X(kWordLengthLo, LENGTH_LO, 2)  /* content length, low 32 */    \
  X(kWordLengthHi, LENGTH_HI, 3)  /* and high 32 bits */          \
  X(kWordMethod, METHOD, 4)       /* slice, rel */                \
  X(kWordTarget, TARGET, 6)       /* slice, rel */                \
  X(kWordPath, PATH, 8)           /* slice, rel */                \
  X(kWordQuery, QUERY, 10)        /* slice, rel */                \
  X(kWordHost, HOST, 12)          /* slice, rel */                \
  X(kWordPeer, PEER, 14)          /* slice, abs: the peer host */ \
  X(kWordPeerPort, PEER_PORT, 16)                                 \
  X(kWordLocal, LOCAL, 17)        /* slice, abs: the local host */ \
  X(kWordLocalPort, LOCAL_PORT, 19)                               \
  X(kWordListener, LISTENER, 20)  /* listen()'s index */          \
  X(kWordCount, COUNT, 21)        /* pairs that follow */         \
  X(kWordPairs, PAIRS, 22)

// One pair: two slices, both rel.
#define TSGI_ABI_PAIR(X)   \
  X(kPairName, NAME, 0)    \
  X(kPairValue, VALUE, 2)  \
  X(kPairWords, SIZE, 4)

// The FLAGS word: the HTTP/1.1 framer's head flags (http1::HeadFlags)...
#define TSGI_ABI_HEAD_FLAGS(X)                                                        \
  X(kHttp11, HTTP11, 1u << 0)           /* HTTP/1.1 (else HTTP/1.0) */                 \
  X(kKeepAlive, KEEP_ALIVE, 1u << 1)    /* persistent after this request (RFC 9112 9.3) */ \
  X(kChunked, CHUNKED, 1u << 2)         /* Transfer-Encoding: chunked (final coding) */ \
  X(kContentLength, CONTENT_LENGTH, 1u << 3) /* a valid Content-Length was given */    \
  X(kExpectContinue, EXPECT_CONTINUE, 1u << 4) /* Expect: 100-continue */               \
  X(kUpgrade, UPGRADE, 1u << 5)         /* Upgrade header present (HTTP/1.1) */        \
  X(kAbsoluteForm, ABSOLUTE_FORM, 1u << 6) /* request-target was absolute-form */      \
  X(kAsteriskForm, ASTERISK_FORM, 1u << 7) /* OPTIONS * */

// ...and the loop's own (RecordFlags), from bit 16.
#define TSGI_ABI_RECORD_FLAGS(X)                                                              \
  X(kRecNoBody, NO_BODY, 1u << 16)   /* the request has no body: it is already complete */    \
  X(kRecHead, HEAD, 1u << 17)        /* method is HEAD */                                     \
  X(kRecCgi, CGI, 1u << 18)          /* the record holds CGI variables, not HTTP headers */   \
  X(kRecStripScriptName, STRIP_SCRIPT_NAME, 1u << 19) /* uwsgi modifier1 30: PATH_INFO starts with SCRIPT_NAME */ \
  X(kRecAuthorizer, AUTHORIZER, 1u << 20) /* FastCGI role AUTHORIZER (else RESPONDER) */      \
  X(kRecFilter, FILTER, 1u << 21)    /* FastCGI role FILTER: a DATA stream follows STDIN */    \
  X(kRecUpgradable, UPGRADABLE, 1u << 22) /* upgrade() may take the connection (tunnel) */    \
  X(kRecWebSocket, WEBSOCKET, 1u << 23)   /* a valid RFC 6455 opening handshake */     \
  X(kRecServed, SERVED, 1u << 24)  /* answered by the core (a static file): to count and log, not to run */ \
  X(kRecLengthKnown, LENGTH_KNOWN, 1u << 25) /* the body is exactly LENGTH bytes */

// What respond, write, end, readBody, readData, writeFile, writeStderr and
// abort return.
#define TSGI_ABI_REPLY(X)                                                             \
  X(kReplyGone, GONE, 0)          /* the request is over (client left, or answered) */ \
  X(kReplyOk, OK, 1)                                                                  \
  X(kReplyFull, FULL, 2)          /* accepted, but the client is slow: wait for DRAIN */ \
  X(kReplyOverflow, OVERFLOW, 3)  /* more body than the Content-Length declared */

// respond()'s flags.
#define TSGI_ABI_REPLY_FLAGS(X)                                       \
  X(kReplyEnd, END, 1)        /* the reply ends with this call */       \
  X(kReplyClose, CLOSE, 2)    /* close the connection after it */       \
  X(kReplyNoDate, NO_DATE, 4) /* the app sent its own Date */          \
  X(kReplyKept, KEPT, 8)      /* bytes the caller leaves unchanged: pin them, do not copy */

// upgrade()'s kind: what the connection becomes.
#define TSGI_ABI_UPGRADES(X)                                                      \
  X(kUpgradeTunnel, TUNNEL, 0)        /* raw bytes both ways; the app writes the 101 */ \
  X(kUpgradeWebSocket, WEBSOCKET, 1)  /* RFC 6455, framed by the core; it writes the 101 */

// wsSend() and wsPublish()'s flags.
#define TSGI_ABI_WS_FLAGS(X)                                     \
  X(kWsBinary, BINARY, 1)     /* a binary message (else text) */   \
  X(kWsCompress, COMPRESS, 2) /* deflate it if the peer agreed */

// listen()'s protocol.
#define TSGI_ABI_PROTOCOLS(X) \
  X(kHttp, http, 0)           \
  X(kUwsgi, uwsgi, 1)         \
  X(kScgi, scgi, 2)           \
  X(kFastcgi, fastcgi, 3)

#define TSGI_ABI_ENUMERATOR(name, key, value) name = value,

namespace tsgi {

enum EventType : int { TSGI_ABI_EVENTS(TSGI_ABI_ENUMERATOR) };
enum EventSlot : uint32_t { TSGI_ABI_EVENT_SLOTS(TSGI_ABI_ENUMERATOR) };
enum RecordWord : uint32_t { TSGI_ABI_RECORD(TSGI_ABI_ENUMERATOR) };
enum PairWord : uint32_t { TSGI_ABI_PAIR(TSGI_ABI_ENUMERATOR) };
enum RecordFlags : uint32_t { TSGI_ABI_RECORD_FLAGS(TSGI_ABI_ENUMERATOR) };
enum ReplyStatus : int { TSGI_ABI_REPLY(TSGI_ABI_ENUMERATOR) };
enum ReplyFlags : uint32_t { TSGI_ABI_REPLY_FLAGS(TSGI_ABI_ENUMERATOR) };
enum UpgradeKind : int { TSGI_ABI_UPGRADES(TSGI_ABI_ENUMERATOR) };
enum WsFlags : uint32_t { TSGI_ABI_WS_FLAGS(TSGI_ABI_ENUMERATOR) };
// What a listener speaks. HTTP is framed in full; the CGI-style protocols
// (uwsgi, SCGI, FastCGI) carry ready CGI variables.
enum class Protocol : uint8_t { TSGI_ABI_PROTOCOLS(TSGI_ABI_ENUMERATOR) };

namespace http1 {
enum HeadFlags : uint32_t { TSGI_ABI_HEAD_FLAGS(TSGI_ABI_ENUMERATOR) };
}  // namespace http1

}  // namespace tsgi
