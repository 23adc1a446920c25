// Test-only hooks into the WebSocket framer (native/proto/ws), for
// test/proto/ws-framer.test.ts and the fuzz corpus that `node --test` replays:
//   wsDecode(buf, pieceSize?, limits?)        -> events
//   wsHeader(opcode, fin, length, rsv1?)      -> Buffer | null
//   wsFrame(opcode, fin, payload, rsv1?)      -> Buffer | null (header + payload)
//   wsClose(code, reason)                     -> Buffer | null
//   wsUtf8Prefix(buf, max)                    -> number
//   wsErrors()                                -> {name: {text, code}}, in enum order
//   wsSha1(buf, pieceSize?)                   -> Buffer (20 bytes)
//   wsAccept(key) -> string, wsKeyValid(key) -> bool, wsVersionValid(v) -> bool
// and permessage-deflate's, from ws_deflate_binding.cc.
// wsDecode runs the Decoder over a copy of buf whole and again in pieces of
// pieceSize bytes (0 or absent: byte by byte, and split in two at every
// offset), each on a fresh copy since payload is unmasked in place, and
// throws unless every run gives the same events. limits: {maxFrame,
// maxMessage, allowRsv1, requireMask}. Events are objects with a `type`:
//   frame {opcode, message, fin, rsv1, length}
//   data {message, data: Buffer}  (consecutive pieces joined)
//   messageEnd {message}  ping / pong {data: Buffer}  close {code, reason: Buffer}
//   error {error, message, code, detail, position}  (the last event)
//   incomplete {position}  (the input ended inside a frame or message)
#include <napi.h>

#include <string>
#include <vector>

#include "napi/split_check.h"
#include "proto/ws/framer.h"
#include "proto/ws/handshake.h"
#include "proto/ws/writer.h"

namespace tsgi {
namespace {

using namespace ws;

struct Norm {
  std::string type;
  uint8_t opcode = 0, message = 0;
  bool fin = false, rsv1 = false;
  uint64_t length = 0;
  std::string data;
  uint16_t code = 0;
  Error error = Error::kNone;
  uint64_t detail = 0;
  uint64_t position = 0;

  bool operator==(const Norm& o) const {
    return type == o.type && opcode == o.opcode && message == o.message && fin == o.fin &&
           rsv1 == o.rsv1 && length == o.length && data == o.data && code == o.code &&
           error == o.error && detail == o.detail && position == o.position;
  }
};

std::string describe(const std::vector<Norm>& v) {
  std::string s;
  for (const Norm& n : v) {
    if (!s.empty()) s += ", ";
    s += n.type;
    if (n.type == "error") s += std::string(" ") + error_name(n.error);
    if (n.type == "data") s += " " + std::to_string(n.data.size()) + "B";
  }
  return s;
}

// Feeds a fresh copy of in[0, len) cut at `cuts`, as a connection would.
std::vector<Norm> decode(Napi::Env env, const char* in, size_t len, const Limits& lim,
                         const std::vector<size_t>& cuts) {
  std::string copy(in, len);
  Decoder dec(lim);
  std::vector<Norm> out;
  size_t start = 0;
  bool failed = false;
  for (size_t c = 0; c <= cuts.size() && !failed; ++c) {
    const size_t end = c < cuts.size() ? cuts[c] : len;
    char* piece = &copy[0] + start;
    const size_t plen = end - start;
    size_t off = 0;
    for (;;) {
      Event ev;
      const size_t used = dec.feed(piece + off, plen - off, &ev);
      if (used > plen - off) throw Napi::Error::New(env, "wsDecode: consumed more than given");
      if (ev.type == Ev::kAgain && off + used != plen)
        throw Napi::Error::New(env, "wsDecode: kAgain left input unconsumed");
      if (ev.type == Ev::kData && (ev.len == 0 || ev.data != piece + off || used != ev.len))
        throw Napi::Error::New(env, "wsDecode: kData is not the bytes consumed");
      off += used;
      if (ev.type == Ev::kAgain) break;
      if (ev.type == Ev::kData && !out.empty() && out.back().type == "data") {
        out.back().data.append(ev.data, ev.len);
        continue;
      }
      Norm n;
      n.message = ev.message;
      switch (ev.type) {
        case Ev::kFrame:
          n.type = "frame";
          n.opcode = ev.opcode;
          n.fin = ev.fin;
          n.rsv1 = ev.rsv1;
          n.length = ev.length;
          break;
        case Ev::kData: n.type = "data"; n.data.assign(ev.data, ev.len); break;
        case Ev::kMessageEnd: n.type = "messageEnd"; break;
        case Ev::kPing: n.type = "ping"; n.data.assign(ev.data, ev.len); break;
        case Ev::kPong: n.type = "pong"; n.data.assign(ev.data, ev.len); break;
        case Ev::kClose:
          n.type = "close";
          n.code = ev.code;
          n.data.assign(ev.data, ev.len);
          break;
        case Ev::kError:
          n.type = "error";
          n.error = ev.error;
          n.code = ev.code;
          n.detail = ev.detail;
          n.position = dec.position();
          failed = true;
          break;
        default: break;
      }
      out.push_back(n);
      if (failed) break;
    }
    start = end;
  }
  if (!failed && !dec.at_message_boundary()) {
    Norm n;
    n.type = "incomplete";
    n.position = dec.position();
    out.push_back(n);
  }
  return out;
}

Napi::Value big(Napi::Env env, uint64_t v) {
  if (v <= (uint64_t(1) << 53)) return Napi::Number::New(env, static_cast<double>(v));
  return Napi::BigInt::New(env, v);
}

Napi::Array to_js(Napi::Env env, const std::vector<Norm>& v) {
  Napi::Array arr = Napi::Array::New(env, v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    const Norm& n = v[k];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", n.type);
    if (n.type == "frame") {
      o.Set("opcode", n.opcode);
      o.Set("message", n.message);
      o.Set("fin", n.fin);
      o.Set("rsv1", n.rsv1);
      o.Set("length", big(env, n.length));
    } else if (n.type == "data" || n.type == "messageEnd") {
      o.Set("message", n.message);
      if (n.type == "data") o.Set("data", Napi::Buffer<char>::Copy(env, n.data.data(), n.data.size()));
    } else if (n.type == "ping" || n.type == "pong") {
      o.Set("data", Napi::Buffer<char>::Copy(env, n.data.data(), n.data.size()));
    } else if (n.type == "close") {
      o.Set("code", n.code);
      o.Set("reason", Napi::Buffer<char>::Copy(env, n.data.data(), n.data.size()));
    } else if (n.type == "error") {
      o.Set("error", error_name(n.error));
      o.Set("message", error_text(n.error));
      o.Set("code", n.code);
      o.Set("detail", big(env, n.detail));
      o.Set("position", big(env, n.position));
    } else if (n.type == "incomplete") {
      o.Set("position", big(env, n.position));
    }
    arr.Set(static_cast<uint32_t>(k), o);
  }
  return arr;
}

Napi::Buffer<char> buffer_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Buffer");
  return info[i].As<Napi::Buffer<char>>();
}

double number_arg(const Napi::CallbackInfo& info, size_t i, double max, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " out of range");
  return d;
}

// A length as a number or a BigInt (for the 64-bit ones).
uint64_t length_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsBigInt()) {
    bool lossless = false;
    const uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), "length must fit 64 bits");
    return v;
  }
  return static_cast<uint64_t>(number_arg(info, i, 9007199254740991.0, "length"));
}

uint64_t limit_field(Napi::Object o, const char* name, uint64_t fallback) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return fallback;
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0)) throw Napi::RangeError::New(o.Env(), std::string(name) + " must be >= 0");
  return d >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(d);
}

Napi::Value WsDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> buf = buffer_arg(info, 0);
  const char* b = buf.Data();
  const size_t len = buf.Length();
  const size_t piece = info.Length() > 1 && !info[1].IsUndefined()
                           ? static_cast<size_t>(number_arg(info, 1, 4294967295.0, "pieceSize")) : 0;
  Limits lim;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    lim.max_frame = limit_field(o, "maxFrame", lim.max_frame);
    lim.max_message = limit_field(o, "maxMessage", lim.max_message);
    if (o.Has("allowRsv1")) lim.allow_rsv1 = o.Get("allowRsv1").ToBoolean();
    if (o.Has("requireMask")) lim.require_mask = o.Get("requireMask").ToBoolean();
  }
  const std::vector<Norm> whole = same_at_every_split(
      env, "wsDecode", len, piece,
      [&](const std::vector<size_t>& cuts) { return decode(env, b, len, lim, cuts); },
      [](const std::vector<Norm>& v) { return describe(v); });
  return to_js(env, whole);
}

bool rsv1_arg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].ToBoolean();
}

Napi::Value WsHeader(const Napi::CallbackInfo& info) {
  const uint8_t op = static_cast<uint8_t>(number_arg(info, 0, 255, "opcode"));
  const bool fin = info.Length() > 1 && info[1].ToBoolean();
  const uint64_t length = length_arg(info, 2);
  char out[kMaxHeader];
  const size_t n = write_header(out, op, fin, length, rsv1_arg(info, 3));
  if (n == 0) return info.Env().Null();
  if (n != header_size(length)) throw Napi::Error::New(info.Env(), "wsHeader: header_size disagrees");
  return Napi::Buffer<char>::Copy(info.Env(), out, n);
}

Napi::Value WsFrame(const Napi::CallbackInfo& info) {
  const uint8_t op = static_cast<uint8_t>(number_arg(info, 0, 255, "opcode"));
  const bool fin = info.Length() > 1 && info[1].ToBoolean();
  Napi::Buffer<char> payload = buffer_arg(info, 2);
  std::string out(kMaxHeader, '\0');
  const bool control = op & 0x8;
  size_t n;
  if (control && fin && !rsv1_arg(info, 3)) {
    out.resize(kMaxControlFrame);
    n = write_control(&out[0], op, payload.Data(), payload.Length());
    out.resize(n);
  } else {
    n = write_header(&out[0], op, fin, payload.Length(), rsv1_arg(info, 3));
    out.resize(n);
    out.append(payload.Data(), payload.Length());
  }
  if (n == 0) return info.Env().Null();
  return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
}

Napi::Value WsClose(const Napi::CallbackInfo& info) {
  const uint16_t code = static_cast<uint16_t>(number_arg(info, 0, 65535, "code"));
  Napi::Buffer<char> reason = buffer_arg(info, 1);
  char out[kMaxControlFrame];
  const size_t n = write_close(out, code, reason.Data(), reason.Length());
  if (n == 0) return info.Env().Null();
  return Napi::Buffer<char>::Copy(info.Env(), out, n);
}

Napi::Value WsUtf8Prefix(const Napi::CallbackInfo& info) {
  Napi::Buffer<char> s = buffer_arg(info, 0);
  const size_t max = static_cast<size_t>(number_arg(info, 1, 4294967295.0, "max"));
  return Napi::Number::New(info.Env(), static_cast<double>(utf8_prefix(s.Data(), s.Length(), max)));
}

// The error list (TSGI_WS_ERRORS): each name's text and close code.
Napi::Value WsErrors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object all = Napi::Object::New(env);
#define TSGI_X(name, code, text)                    \
  {                                                 \
    Napi::Object e = Napi::Object::New(env);        \
    e.Set("text", text);                            \
    e.Set("code", code);                            \
    all.Set(#name, e);                              \
  }
  TSGI_WS_ERRORS(TSGI_X)
#undef TSGI_X
  return all;
}

// SHA-1 of buf, fed whole or in pieces of pieceSize.
Napi::Value WsSha1(const Napi::CallbackInfo& info) {
  Napi::Buffer<char> buf = buffer_arg(info, 0);
  size_t piece = info.Length() > 1 && !info[1].IsUndefined()
                     ? static_cast<size_t>(number_arg(info, 1, 4294967295.0, "pieceSize")) : 0;
  if (piece == 0) piece = buf.Length() ? buf.Length() : 1;
  Sha1 sha;
  for (size_t at = 0; at < buf.Length(); at += piece)
    sha.update(buf.Data() + at, buf.Length() - at < piece ? buf.Length() - at : piece);
  uint8_t d[20];
  sha.finish(d);
  return Napi::Buffer<char>::Copy(info.Env(), reinterpret_cast<char*>(d), 20);
}

std::string string_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), "argument must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value WsAccept(const Napi::CallbackInfo& info) {
  const std::string key = string_arg(info);
  char out[kAcceptLen];
  accept_key(key.data(), key.size(), out);
  return Napi::String::New(info.Env(), out, kAcceptLen);
}

Napi::Value WsKeyValid(const Napi::CallbackInfo& info) {
  const std::string key = string_arg(info);
  return Napi::Boolean::New(info.Env(), key_valid(key.data(), key.size()));
}

Napi::Value WsVersionValid(const Napi::CallbackInfo& info) {
  const std::string v = string_arg(info);
  return Napi::Boolean::New(info.Env(), version_valid(v.data(), v.size()));
}

}  // namespace

// permessage-deflate's hooks (ws_deflate_binding.cc).
void InitWsDeflateTesting(Napi::Env env, Napi::Object exports);

void InitWsTesting(Napi::Env env, Napi::Object exports) {
  InitWsDeflateTesting(env, exports);
  exports.Set("wsDecode", Napi::Function::New(env, WsDecode, "wsDecode"));
  exports.Set("wsHeader", Napi::Function::New(env, WsHeader, "wsHeader"));
  exports.Set("wsFrame", Napi::Function::New(env, WsFrame, "wsFrame"));
  exports.Set("wsClose", Napi::Function::New(env, WsClose, "wsClose"));
  exports.Set("wsUtf8Prefix", Napi::Function::New(env, WsUtf8Prefix, "wsUtf8Prefix"));
  exports.Set("wsErrors", Napi::Function::New(env, WsErrors, "wsErrors"));
  exports.Set("wsSha1", Napi::Function::New(env, WsSha1, "wsSha1"));
  exports.Set("wsAccept", Napi::Function::New(env, WsAccept, "wsAccept"));
  exports.Set("wsKeyValid", Napi::Function::New(env, WsKeyValid, "wsKeyValid"));
  exports.Set("wsVersionValid", Napi::Function::New(env, WsVersionValid, "wsVersionValid"));
}

}  // namespace tsgi
