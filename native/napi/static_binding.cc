// Test-only hooks into the static files' pure rules (native/static/rules.h),
// for test/static/rules.test.ts and the fuzz corpus the test run replays.
// Strings cross as latin1, so every byte of a path survives:
//   staticCleanPath(buf, decode)            -> {error} | {path, trailingSlash, hidden}
//   staticRange(value, size)                -> 'ignore' | 'unsatisfiable' | [[first, last], ...]
//   staticPreconditions(fields, etag, mtime) -> 0 | 304 | 412
//       fields: {ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince}
//   staticIfRange(value, etag, mtime)       -> bool
//   staticCoding(value | null, available)   -> 'identity' | 'gzip' | 'br'
//   staticParseDate(value) -> number | null, staticFormatDate(seconds) -> string
//   staticEtag(ino, size, mtimeNs)          -> string
// Sizes and positions are numbers up to 2^53, or BigInts.
#include <napi.h>

#include <string>

#include "static/rules.h"

namespace tsgi {
namespace {

using namespace files;

std::string bytes_of(const Napi::Value& v) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  std::u16string s = v.ToString().Utf16Value();
  std::string out;
  for (char16_t c : s) out.push_back(static_cast<char>(c & 0xff));
  return out;
}

Napi::String latin1(Napi::Env env, const std::string& s) {
  std::u16string u;
  for (char c : s) u.push_back(static_cast<unsigned char>(c));
  return Napi::String::New(env, u);
}

uint64_t u64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
}

Napi::Value number(Napi::Env env, uint64_t v) {
  if (v > (1ull << 53)) return Napi::BigInt::New(env, v);
  return Napi::Number::New(env, static_cast<double>(v));
}

Napi::Value CleanPathHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string in = bytes_of(info[0]);
  CleanPath out;
  PathError e = clean_path(in.data(), in.size(), info[1].ToBoolean(), &out);
  Napi::Object o = Napi::Object::New(env);
  if (e != PathError::kNone) {
    o.Set("error", path_error_text(e));
    return o;
  }
  o.Set("path", latin1(env, out.path));
  o.Set("trailingSlash", out.trailing_slash);
  o.Set("hidden", out.hidden);
  return o;
}

Napi::Value RangeHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string v = bytes_of(info[0]);
  ByteRange ranges[kMaxRanges];
  size_t count = 0;
  switch (parse_range(Text{v.data(), v.size()}, u64(info[1]), ranges, &count)) {
    case RangeResult::kIgnore: return Napi::String::New(env, "ignore");
    case RangeResult::kUnsatisfiable: return Napi::String::New(env, "unsatisfiable");
    case RangeResult::kOk: break;
  }
  Napi::Array a = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) {
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, number(env, ranges[i].first));
    r.Set(1u, number(env, ranges[i].last));
    a.Set(static_cast<uint32_t>(i), r);
  }
  return a;
}

Validator validator(const std::string& etag, const Napi::Value& mtime) {
  Validator v;
  v.etag = etag.data();
  v.etag_len = etag.size();
  v.mtime = static_cast<int64_t>(mtime.As<Napi::Number>().DoubleValue());
  return v;
}

Napi::Value PreconditionsHook(const Napi::CallbackInfo& info) {
  Napi::Object f = info[0].As<Napi::Object>();
  std::string store[4];
  const char* keys[4] = {"ifMatch", "ifNoneMatch", "ifModifiedSince", "ifUnmodifiedSince"};
  Text texts[4];
  for (int i = 0; i < 4; i++) {
    Napi::Value v = f.Get(keys[i]);
    if (v.IsUndefined() || v.IsNull()) continue;
    store[i] = bytes_of(v);
    texts[i] = Text{store[i].data(), store[i].size()};
  }
  Preconditions pre{texts[0], texts[1], texts[2], texts[3]};
  std::string etag = bytes_of(info[1]);
  return Napi::Number::New(info.Env(), evaluate_preconditions(pre, validator(etag, info[2])));
}

Napi::Value IfRangeHook(const Napi::CallbackInfo& info) {
  std::string value = bytes_of(info[0]);
  std::string etag = bytes_of(info[1]);
  return Napi::Boolean::New(info.Env(), if_range_holds(Text{value.data(), value.size()}, validator(etag, info[2])));
}

Napi::Value CodingHook(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string value;
  Text t;
  if (!info[0].IsNull() && !info[0].IsUndefined()) {
    value = bytes_of(info[0]);
    t = Text{value.data(), value.size()};
  }
  unsigned available = info[1].As<Napi::Number>().Uint32Value();
  static const char* kNames[] = {"identity", "gzip", "br"};
  return Napi::String::New(env, kNames[choose_coding(t, available)]);
}

Napi::Value ParseDateHook(const Napi::CallbackInfo& info) {
  std::string v = bytes_of(info[0]);
  int64_t t = 0;
  if (!parse_http_date(v.data(), v.size(), &t)) return info.Env().Null();
  return Napi::Number::New(info.Env(), static_cast<double>(t));
}

Napi::Value FormatDateHook(const Napi::CallbackInfo& info) {
  char out[kHttpDateLen];
  format_http_date(static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue()), out);
  return Napi::String::New(info.Env(), out, kHttpDateLen);
}

Napi::Value EtagHook(const Napi::CallbackInfo& info) {
  char out[kEtagMax];
  size_t n = format_etag(out, u64(info[0]), u64(info[1]), static_cast<int64_t>(u64(info[2])));
  return Napi::String::New(info.Env(), out, n);
}

}  // namespace

void InitStaticTesting(Napi::Env env, Napi::Object exports) {
  exports.Set("staticCleanPath", Napi::Function::New(env, CleanPathHook, "staticCleanPath"));
  exports.Set("staticRange", Napi::Function::New(env, RangeHook, "staticRange"));
  exports.Set("staticPreconditions", Napi::Function::New(env, PreconditionsHook, "staticPreconditions"));
  exports.Set("staticIfRange", Napi::Function::New(env, IfRangeHook, "staticIfRange"));
  exports.Set("staticCoding", Napi::Function::New(env, CodingHook, "staticCoding"));
  exports.Set("staticParseDate", Napi::Function::New(env, ParseDateHook, "staticParseDate"));
  exports.Set("staticFormatDate", Napi::Function::New(env, FormatDateHook, "staticFormatDate"));
  exports.Set("staticEtag", Napi::Function::New(env, EtagHook, "staticEtag"));
}

}  // namespace tsgi
