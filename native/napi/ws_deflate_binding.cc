// Test-only hooks into permessage-deflate (native/proto/ws/extension.h,
// deflate.h), for test/proto/ws-deflate.test.ts; InitWsTesting adds them:
//   wsNegotiate(values, config?)   -> {outcome, response?, agreed?}
//     values: one Sec-WebSocket-Extensions value or an array of them;
//     config: {enabled, serverNoContextTakeover, clientNoContextTakeover,
//     serverMaxWindowBits, clientMaxWindowBits, memLevel}
//   wsInflate(messages, opts?)     -> [{result, code, data, memory}]
//     messages: an array of messages, each an array of payload pieces, fed
//     to one Inflater in order; stops after the first failure. opts:
//     {windowBits, noContextTakeover, maxMessage, text, release}; release
//     frees zlib's state after each message; memory is what zlib held at
//     the message's end.
//   wsInflateSplits(payload, opts?) -> {result, code, data}: one message
//     inflated whole, byte by byte and split in two at every offset; throws
//     unless every way gives the same result and bytes.
//   wsDeflate(messages, opts?)     -> [{result, data, memory}]
//     opts: {windowBits, memLevel, level, noContextTakeover, release}
//   wsDeflateResults()             -> {name: {text, code}}
//   wsDeflateBounds(windowBits, memLevel) -> {deflate, inflate}
#include <napi.h>

#include <string>
#include <vector>

#include "napi/split_check.h"
#include "proto/ws/deflate.h"
#include "proto/ws/extension.h"

namespace tsgi {
namespace {

using namespace ws;

uint8_t small_field(Napi::Object o, const char* name, uint8_t fallback) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(name) + " must be a number");
  const int32_t n = v.As<Napi::Number>().Int32Value();
  if (n < 0 || n > 255) throw Napi::RangeError::New(o.Env(), std::string(name) + " out of range");
  return static_cast<uint8_t>(n);
}

bool bool_field(Napi::Object o, const char* name, bool fallback) {
  Napi::Value v = o.Get(name);
  return v.IsUndefined() ? fallback : v.ToBoolean().Value();
}

Napi::Object opts_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsObject()) return info[i].As<Napi::Object>();
  return Napi::Object::New(info.Env());
}

Napi::Value WsNegotiate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> texts;
  if (info.Length() > 0 && info[0].IsString()) {
    texts.push_back(info[0].As<Napi::String>().Utf8Value());
  } else if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t k = 0; k < a.Length(); ++k) texts.push_back(a.Get(k).ToString().Utf8Value());
  } else {
    throw Napi::TypeError::New(env, "values must be a string or an array of strings");
  }
  std::vector<HeaderValue> values;
  for (const std::string& t : texts) values.push_back(HeaderValue{t.data(), t.size()});
  Napi::Object o = opts_arg(info, 1);
  DeflateConfig c;
  c.enabled = bool_field(o, "enabled", c.enabled);
  c.server_no_context_takeover = bool_field(o, "serverNoContextTakeover", c.server_no_context_takeover);
  c.client_no_context_takeover = bool_field(o, "clientNoContextTakeover", c.client_no_context_takeover);
  c.server_max_window_bits = small_field(o, "serverMaxWindowBits", c.server_max_window_bits);
  c.client_max_window_bits = small_field(o, "clientMaxWindowBits", c.client_max_window_bits);
  c.mem_level = small_field(o, "memLevel", c.mem_level);
  char out[kMaxExtensionResponse];
  const NegotiationResult r = negotiate(values.data(), values.size(), c, out);
  if (r.response_len > kMaxExtensionResponse) throw Napi::Error::New(env, "wsNegotiate: response overflow");
  Napi::Object res = Napi::Object::New(env);
  res.Set("outcome", negotiation_name(r.outcome));
  if (r.outcome == Negotiation::kAccepted) {
    res.Set("response", std::string(out, r.response_len));
    Napi::Object a = Napi::Object::New(env);
    a.Set("serverNoContextTakeover", r.agreed.server_no_context_takeover);
    a.Set("clientNoContextTakeover", r.agreed.client_no_context_takeover);
    a.Set("serverMaxWindowBits", r.agreed.server_max_window_bits);
    a.Set("clientMaxWindowBits", r.agreed.client_max_window_bits);
    a.Set("memLevel", r.agreed.mem_level);
    res.Set("agreed", a);
  }
  return res;
}

InflateConfig inflate_config(Napi::Object o) {
  InflateConfig c;
  c.window_bits = small_field(o, "windowBits", c.window_bits);
  if (c.window_bits < 8 || c.window_bits > 15) throw Napi::RangeError::New(o.Env(), "windowBits must be 8-15");
  c.no_context_takeover = bool_field(o, "noContextTakeover", false);
  Napi::Value m = o.Get("maxMessage");
  if (m.IsNumber()) c.max_message = static_cast<uint64_t>(m.As<Napi::Number>().DoubleValue());
  return c;
}

std::vector<std::vector<std::string>> messages_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "messages must be an array");
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<std::vector<std::string>> out;
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value m = a.Get(k);
    std::vector<std::string> pieces;
    auto piece = [&](Napi::Value v) {
      if (!v.IsBuffer()) throw Napi::TypeError::New(info.Env(), "a piece must be a Buffer");
      Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
      pieces.emplace_back(b.Data(), b.Length());
    };
    if (m.IsArray()) {
      Napi::Array p = m.As<Napi::Array>();
      for (uint32_t j = 0; j < p.Length(); ++j) piece(p.Get(j));
    } else {
      piece(m);
    }
    out.push_back(std::move(pieces));
  }
  return out;
}

Napi::Value WsInflate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto messages = messages_arg(info);
  Napi::Object o = opts_arg(info, 1);
  const InflateConfig c = inflate_config(o);
  const bool text = bool_field(o, "text", false), release = bool_field(o, "release", false);
  Inflater inf(c);
  Napi::Array res = Napi::Array::New(env);
  for (const auto& pieces : messages) {
    std::string data;
    StringSink sink(&data);
    inf.begin(text);
    DeflateResult r = DeflateResult::kOk;
    for (const std::string& p : pieces) {
      // The framer unmasks in place: the inflater gets a mutable buffer's bytes.
      std::string copy = p;
      r = inf.feed(copy.data(), copy.size(), sink);
      if (r != DeflateResult::kOk) break;
    }
    if (r == DeflateResult::kOk) r = inf.finish(sink);
    if (r == DeflateResult::kOk && inf.message_size() != data.size())
      throw Napi::Error::New(env, "wsInflate: message_size() disagrees with the bytes");
    Napi::Object m = Napi::Object::New(env);
    m.Set("result", result_name(r));
    m.Set("code", close_code(r));
    m.Set("data", Napi::Buffer<char>::Copy(env, data.data(), data.size()));
    m.Set("memory", static_cast<double>(inf.memory()));
    res.Set(res.Length(), m);
    if (r != DeflateResult::kOk) break;
    if (release) inf.release();
  }
  return res;
}

struct Inflated {
  DeflateResult result;
  std::string data;
  bool operator==(const Inflated& o) const { return result == o.result && data == o.data; }
};

Napi::Value WsInflateSplits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "payload must be a Buffer");
  Napi::Buffer<char> buf = info[0].As<Napi::Buffer<char>>();
  const std::string payload(buf.Data(), buf.Length());
  Napi::Object o = opts_arg(info, 1);
  const InflateConfig c = inflate_config(o);
  const bool text = bool_field(o, "text", false);
  auto run = [&](const std::vector<size_t>& cuts) {
    Inflater inf(c);
    Inflated out{DeflateResult::kOk, {}};
    StringSink sink(&out.data);
    inf.begin(text);
    size_t start = 0;
    for (size_t k = 0; k <= cuts.size() && out.result == DeflateResult::kOk; ++k) {
      const size_t end = k < cuts.size() ? cuts[k] : payload.size();
      if (end > start) out.result = inf.feed(payload.data() + start, end - start, sink);
      start = end;
    }
    if (out.result == DeflateResult::kOk) out.result = inf.finish(sink);
    // What reached the sink before a failure depends on the split; the result must not.
    if (out.result != DeflateResult::kOk) out.data.clear();
    return out;
  };
  const Inflated whole = same_at_every_split(
      env, "wsInflateSplits", payload.size(), 0, run,
      [](const Inflated& i) { return std::string(result_name(i.result)) + " " + std::to_string(i.data.size()) + "B"; });
  Napi::Object m = Napi::Object::New(env);
  m.Set("result", result_name(whole.result));
  m.Set("code", close_code(whole.result));
  m.Set("data", Napi::Buffer<char>::Copy(env, whole.data.data(), whole.data.size()));
  return m;
}

Napi::Value WsDeflate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto messages = messages_arg(info);
  Napi::Object o = opts_arg(info, 1);
  DeflaterConfig c;
  c.window_bits = small_field(o, "windowBits", c.window_bits);
  c.mem_level = small_field(o, "memLevel", c.mem_level);
  c.level = small_field(o, "level", static_cast<uint8_t>(c.level));
  c.no_context_takeover = bool_field(o, "noContextTakeover", false);
  if (c.window_bits < 8 || c.window_bits > 15 || c.mem_level < 1 || c.mem_level > 9 || c.level > 9)
    throw Napi::RangeError::New(env, "windowBits 8-15, memLevel 1-9, level 0-9");
  const bool release = bool_field(o, "release", false);
  Deflater def(c);
  Napi::Array res = Napi::Array::New(env);
  for (const auto& pieces : messages) {
    std::string msg;
    for (const std::string& p : pieces) msg += p;
    std::string data;
    StringSink sink(&data);
    const DeflateResult r = def.compress(msg.data(), msg.size(), sink);
    Napi::Object m = Napi::Object::New(env);
    m.Set("result", result_name(r));
    m.Set("data", Napi::Buffer<char>::Copy(env, data.data(), data.size()));
    m.Set("memory", static_cast<double>(def.memory()));
    res.Set(res.Length(), m);
    if (r != DeflateResult::kOk) break;
    if (release) def.release();
  }
  return res;
}

Napi::Value WsDeflateResults(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object all = Napi::Object::New(env);
#define TSGI_X(name, code, text)             \
  {                                          \
    Napi::Object e = Napi::Object::New(env); \
    e.Set("text", text);                     \
    e.Set("code", code);                     \
    all.Set(#name, e);                       \
  }
  TSGI_WS_DEFLATE_RESULTS(TSGI_X)
#undef TSGI_X
  return all;
}

Napi::Value WsDeflateBounds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "windowBits and memLevel must be numbers");
  const unsigned w = info[0].As<Napi::Number>().Uint32Value(), m = info[1].As<Napi::Number>().Uint32Value();
  if (w < 8 || w > 15 || m < 1 || m > 9) throw Napi::RangeError::New(env, "windowBits 8-15, memLevel 1-9");
  Napi::Object o = Napi::Object::New(env);
  o.Set("deflate", static_cast<double>(deflate_memory_bound(w, m)));
  o.Set("inflate", static_cast<double>(inflate_memory_bound(w)));
  return o;
}

}  // namespace

void InitWsDeflateTesting(Napi::Env env, Napi::Object exports) {
  exports.Set("wsNegotiate", Napi::Function::New(env, WsNegotiate, "wsNegotiate"));
  exports.Set("wsInflate", Napi::Function::New(env, WsInflate, "wsInflate"));
  exports.Set("wsInflateSplits", Napi::Function::New(env, WsInflateSplits, "wsInflateSplits"));
  exports.Set("wsDeflate", Napi::Function::New(env, WsDeflate, "wsDeflate"));
  exports.Set("wsDeflateResults", Napi::Function::New(env, WsDeflateResults, "wsDeflateResults"));
  exports.Set("wsDeflateBounds", Napi::Function::New(env, WsDeflateBounds, "wsDeflateBounds"));
}

}  // namespace tsgi
