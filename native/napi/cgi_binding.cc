// Test-only hooks into the uwsgi and SCGI framers, for the fixtures under
// test/fixtures/{uwsgi,scgi} and the fuzz corpora that `node --test` replays:
//   parseUwsgi(buf, maxBlock?, maxVars?)
//   parseScgi(buf, maxBlock?, maxVars?)
// Each returns { result: 'ok'|'again'|'error', error?, message?, detail?,
// headLen?, contentLength?, modifier1? (uwsgi), vars?: [name, value][] } with
// names and values latin1-decoded. Each also feeds every prefix of buf and
// throws if the first answer that is not kAgain differs from the answer for
// the whole buffer, so every fixture is checked split at every offset.
#include <napi.h>

#include <memory>
#include <string>

#include "proto/scgi/framer.h"
#include "proto/uwsgi/framer.h"

namespace tsgi {
namespace {

using http1::Slice;

Napi::Value latin1(Napi::Env env, const char* base, Slice s) {
  napi_value v;
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, base + s.off, s.len, &v),
                       Napi::Value());
  return Napi::Value(env, v);
}

// Optional non-negative integer argument `i`, or `fallback`.
uint32_t limit_arg(const Napi::CallbackInfo& info, size_t i, uint32_t fallback) {
  if (info.Length() <= i || info[i].IsUndefined()) return fallback;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "limits must be numbers");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<uint32_t>(d))
    throw Napi::RangeError::New(info.Env(), "limits must be integers in [0, 2^32)");
  return static_cast<uint32_t>(d);
}

Napi::Buffer<char> buffer_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBuffer())
    throw Napi::TypeError::New(info.Env(), "first argument must be a Buffer");
  return info[0].As<Napi::Buffer<char>>();
}

// One call of a framer: P is uwsgi::Packet or scgi::Request, E its Error.
template <typename P, typename E>
struct Outcome {
  int result = 0;  // the framer's Result as an int, so both enums compare
  E err{};
  uint32_t detail = 0;
  P req;

  bool same(const Outcome& o) const {
    if (result != o.result || err != o.err || detail != o.detail) return false;
    if (result != 0) return true;  // kAgain or kError: nothing else is set
    if (req.head_len != o.req.head_len || req.content_length != o.req.content_length ||
        req.vars.count != o.req.vars.count)
      return false;
    for (uint32_t i = 0; i < req.vars.count; ++i) {
      const cgi::Var& a = req.vars.vars[i];
      const cgi::Var& b = o.req.vars.vars[i];
      if (a.name.off != b.name.off || a.name.len != b.name.len || a.value.off != b.value.off ||
          a.value.len != b.value.len)
        return false;
    }
    return true;
  }
};

using UwsgiOutcome = Outcome<uwsgi::Packet, uwsgi::Error>;
using ScgiOutcome = Outcome<scgi::Request, scgi::Error>;

void run(const char* b, size_t len, const uwsgi::Limits& lim, UwsgiOutcome* o) {
  o->result = static_cast<int>(uwsgi::parse(b, len, lim, &o->req, &o->err, &o->detail));
  if (o->result == static_cast<int>(uwsgi::Result::kOk) &&
      (o->req.modifier1 != static_cast<unsigned char>(b[0]) || o->req.head_len != 4 + o->req.datasize))
    o->result = -1;  // reported as a mismatch below
}

void run(const char* b, size_t len, const scgi::Limits& lim, ScgiOutcome* o) {
  o->result = static_cast<int>(scgi::parse(b, len, lim, &o->req, &o->err, &o->detail));
}

const char* result_name(int r) {
  return r == 0 ? "ok" : r == 1 ? "again" : r == 2 ? "error" : "inconsistent";
}

template <typename O>
std::string describe(const O& o) {
  std::string s = result_name(o.result);
  if (o.result == 2) s += std::string(" ") + error_name(o.err) + " " + std::to_string(o.detail);
  return s;
}

// Parses buf whole, then every prefix until the first answer that is not
// kAgain, which must equal the whole buffer's. The outcomes are big (a var
// table each), so they live on the heap.
template <typename O, typename L>
std::unique_ptr<O> parse_checked(Napi::Env env, const char* what, const char* b, size_t len,
                                 const L& lim) {
  auto whole = std::make_unique<O>();
  run(b, len, lim, whole.get());
  auto part = std::make_unique<O>();
  for (size_t k = 0; k <= len; ++k) {
    *part = O();
    run(b, k, lim, part.get());
    if (part->result == 1 && k < len) continue;
    if (!part->same(*whole) || whole->result < 0)
      throw Napi::Error::New(env, std::string(what) +
                                      ": fed in prefixes, the first answer (" + describe(*part) +
                                      " at " + std::to_string(k) +
                                      " bytes) differs from the whole buffer's (" +
                                      describe(*whole) + ")");
    break;
  }
  return whole;
}

template <typename O, typename ErrorText>
Napi::Object to_js(Napi::Env env, const char* b, const O& o, ErrorText text) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("result", result_name(o.result));
  if (o.result == 2) {
    r.Set("error", error_name(o.err));
    r.Set("message", text(o.err));
    r.Set("detail", o.detail);
  }
  if (o.result != 0) return r;
  r.Set("headLen", o.req.head_len);
  // A Number while exact, else a BigInt: CONTENT_LENGTH may reach 10^19 - 1.
  if (o.req.content_length <= (uint64_t{1} << 53))
    r.Set("contentLength", static_cast<double>(o.req.content_length));
  else
    r.Set("contentLength", Napi::BigInt::New(env, static_cast<uint64_t>(o.req.content_length)));
  const cgi::VarTable& t = o.req.vars;
  Napi::Array vars = Napi::Array::New(env, t.count);
  for (uint32_t i = 0; i < t.count; ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(uint32_t{0}, latin1(env, b, t.vars[i].name));
    pair.Set(uint32_t{1}, latin1(env, b, t.vars[i].value));
    vars.Set(i, pair);
  }
  r.Set("vars", vars);
  return r;
}

Napi::Value ParseUwsgi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> buf = buffer_arg(info);
  uwsgi::Limits lim;
  lim.max_block = limit_arg(info, 1, lim.max_block);
  lim.max_vars = limit_arg(info, 2, lim.max_vars);
  auto o = parse_checked<UwsgiOutcome>(env, "parseUwsgi", buf.Data(), buf.Length(), lim);
  Napi::Object r = to_js(env, buf.Data(), *o, uwsgi::error_text);
  if (o->result == 0) r.Set("modifier1", o->req.modifier1);
  return r;
}

Napi::Value ParseScgi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> buf = buffer_arg(info);
  scgi::Limits lim;
  lim.max_block = limit_arg(info, 1, lim.max_block);
  lim.max_vars = limit_arg(info, 2, lim.max_vars);
  auto o = parse_checked<ScgiOutcome>(env, "parseScgi", buf.Data(), buf.Length(), lim);
  return to_js(env, buf.Data(), *o, scgi::error_text);
}

}  // namespace

void InitCgiTesting(Napi::Env env, Napi::Object exports) {
  exports.Set("parseUwsgi", Napi::Function::New(env, ParseUwsgi, "parseUwsgi"));
  exports.Set("parseScgi", Napi::Function::New(env, ParseScgi, "parseScgi"));
}

}  // namespace tsgi
