// Test-only hooks into the HTTP/1.1 framer, for the fixtures under
// test/fixtures/http1 and the fuzz regressions that `node --test` replays:
//   parseHead(buf, maxHead?, maxHeaders?, maxTarget?)
//   decodeChunked(buf, pieceSize)
// parseHead also feeds every prefix of buf with one persistent scan_from and
// throws if the first answer that is not kAgain differs from the answer for
// the whole buffer, so every fixture is checked split at every offset.
// decodeChunked returns the body, where it stopped, and `sizes`: each chunk
// size the decoder announced (kChunk), in hex.
#include <napi.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "proto/http1/parser.h"

namespace tsgi {
namespace {

using http1::ChunkedDecoder;
using http1::HeadError;
using http1::Limits;
using http1::RequestHead;
using http1::Result;
using http1::Slice;

Napi::Value latin1(Napi::Env env, const char* base, Slice s) {
  napi_value v;
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, base + s.off, s.len, &v),
                       Napi::Value());
  return Napi::Value(env, v);
}

// Optional positive integer argument `i`, or `fallback`.
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

struct Outcome {
  Result result = Result::kAgain;
  HeadError err;
  RequestHead head;
};

Outcome parse(const char* buf, size_t len, const Limits& limits, size_t* scan_from) {
  Outcome o;
  o.result = http1::parse_head(buf, len, limits, scan_from, &o.head, &o.err);
  return o;
}

bool same_slice(Slice a, Slice b) { return a.off == b.off && a.len == b.len; }

bool same(const Outcome& a, const Outcome& b) {
  if (a.result != b.result) return false;
  if (a.result == Result::kError)
    return a.err.status == b.err.status && std::strcmp(a.err.reason, b.err.reason) == 0;
  if (a.result == Result::kAgain) return true;
  const RequestHead& x = a.head;
  const RequestHead& y = b.head;
  bool eq = same_slice(x.method, y.method) && same_slice(x.target, y.target) &&
            same_slice(x.path, y.path) && same_slice(x.query, y.query) &&
            same_slice(x.host, y.host) && x.flags == y.flags &&
            x.content_length == y.content_length && x.head_len == y.head_len &&
            x.num_headers == y.num_headers;
  for (uint32_t i = 0; eq && i < x.num_headers; ++i)
    eq = same_slice(x.headers[i].name, y.headers[i].name) &&
         same_slice(x.headers[i].value, y.headers[i].value);
  return eq;
}

const char* result_name(Result r) {
  return r == Result::kOk ? "ok" : r == Result::kAgain ? "again" : "error";
}

std::string describe(const Outcome& o) {
  std::string s = result_name(o.result);
  if (o.result == Result::kError) s += " " + std::to_string(o.err.status) + " " + o.err.reason;
  return s;
}

Napi::Value ParseHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> buf = buffer_arg(info);
  Limits limits;
  limits.max_head = limit_arg(info, 1, limits.max_head);
  limits.max_headers = limit_arg(info, 2, limits.max_headers);
  limits.max_target = limit_arg(info, 3, limits.max_target);
  const char* b = buf.Data();
  size_t len = buf.Length();

  size_t scan_from = 0;
  Outcome whole = parse(b, len, limits, &scan_from);
  scan_from = 0;
  for (size_t k = 1; k <= len; ++k) {
    Outcome part = parse(b, k, limits, &scan_from);
    if (part.result == Result::kAgain && k < len) continue;
    if (!same(part, whole))
      throw Napi::Error::New(env, "parseHead: fed in prefixes, the first answer (" +
                                      describe(part) + " at " + std::to_string(k) +
                                      " bytes) differs from the whole buffer's (" +
                                      describe(whole) + ")");
    break;
  }

  Napi::Object o = Napi::Object::New(env);
  o.Set("result", result_name(whole.result));
  if (whole.result == Result::kError) {
    o.Set("status", whole.err.status);
    o.Set("reason", whole.err.reason);
  }
  if (whole.result != Result::kOk) return o;
  const RequestHead& h = whole.head;
  o.Set("method", latin1(env, b, h.method));
  o.Set("target", latin1(env, b, h.target));
  o.Set("path", latin1(env, b, h.path));
  o.Set("query", latin1(env, b, h.query));
  o.Set("host", latin1(env, b, h.host));
  o.Set("flags", h.flags);
  // A Number while exact, else a BigInt: Content-Length may reach 10^19 - 1.
  if (h.content_length <= (uint64_t{1} << 53))
    o.Set("contentLength", static_cast<double>(h.content_length));
  else
    o.Set("contentLength", Napi::BigInt::New(env, static_cast<uint64_t>(h.content_length)));
  o.Set("headLen", h.head_len);
  Napi::Array headers = Napi::Array::New(env, h.num_headers);
  for (uint32_t i = 0; i < h.num_headers; ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(uint32_t{0}, latin1(env, b, h.headers[i].name));
    pair.Set(uint32_t{1}, latin1(env, b, h.headers[i].value));
    headers.Set(i, pair);
  }
  o.Set("headers", headers);
  return o;
}

Napi::Value DecodeChunked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> buf = buffer_arg(info);
  const char* b = buf.Data();
  size_t len = buf.Length();
  size_t piece = limit_arg(info, 1, 0);
  if (piece == 0 || piece > len) piece = len ? len : 1;

  ChunkedDecoder dec;
  dec.reset();
  std::string body;
  Napi::Array sizes = Napi::Array::New(env);
  const char* end = "again";
  size_t consumed = len;
  for (size_t off = 0; off < len && end[0] == 'a'; off += piece) {
    size_t n = len - off < piece ? len - off : piece;
    size_t p = 0;
    while (p < n) {
      size_t used = 0, data_len = 0;
      const char* data = nullptr;
      ChunkedDecoder::Step step = dec.feed(b + off + p, n - p, &used, &data, &data_len);
      if (used > n - p)
        throw Napi::Error::New(env, "decodeChunked: decoder consumed more than it was given");
      if (step == ChunkedDecoder::Step::kData) body.append(data, data_len);
      if (step == ChunkedDecoder::Step::kChunk) {
        if (dec.chunk_size() == 0) throw Napi::Error::New(env, "decodeChunked: kChunk of size 0");
        char hex[17];
        snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(dec.chunk_size()));
        sizes.Set(sizes.Length(), hex);
      }
      p += used;
      if (step == ChunkedDecoder::Step::kAgain && p != n)
        throw Napi::Error::New(env, "decodeChunked: kAgain left input unconsumed");
      if (step == ChunkedDecoder::Step::kDone || step == ChunkedDecoder::Step::kError) {
        end = step == ChunkedDecoder::Step::kDone ? "done" : "error";
        consumed = off + p;
        break;
      }
    }
  }

  Napi::Object o = Napi::Object::New(env);
  o.Set("result", end);
  o.Set("body", Napi::Buffer<char>::Copy(env, body.data(), body.size()));
  o.Set("consumed", static_cast<double>(consumed));
  if (end[0] == 'e') o.Set("error", dec.error());
  o.Set("sizes", sizes);
  return o;
}

}  // namespace

void InitParserTesting(Napi::Env env, Napi::Object exports) {
  exports.Set("parseHead", Napi::Function::New(env, ParseHead, "parseHead"));
  exports.Set("decodeChunked", Napi::Function::New(env, DecodeChunked, "decodeChunked"));
}

}  // namespace tsgi
