// Test-only hooks into the FastCGI record layer (native/proto/fastcgi), for
// the fixtures under test/fixtures/fastcgi and the fuzz corpus that
// `node --test` replays:
//   fcgiDecode(buf, pieceSize?, limits?)  -> events
//   fcgiEncodeStdout(requestId, data, pad, end?, stderr?) -> Buffer
//   fcgiEndRequest(requestId, appStatus, protocolStatus)  -> Buffer
//   fcgiUnknownType(type)                                  -> Buffer
//   fcgiGetValuesResult(names, values, pad?)               -> Buffer
// fcgiDecode runs the Decoder, and a ParamsParser per request id for PARAMS,
// over buf whole and again in pieces of pieceSize bytes (with pieceSize 0 or
// absent: byte by byte and split in two at every offset), and throws unless
// every run gives the same events. Events are objects with a `type`:
//   begin {requestId, role, flags}      abort {requestId}
//   params {requestId, vars: [name, value][], contentLength, hasContentLength}
//   paramsError {requestId, error, message, detail}
//   stdin / data {requestId, data: Buffer}  (consecutive pieces joined)
//   stdinEnd / dataEnd {requestId}      getValues {names: string[]}
//   unknownType {recordType}
//   error {error, message, detail, position}  (the last event)
//   incomplete {position}  (the input ended inside a record)
#include <napi.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "napi/split_check.h"
#include "proto/fastcgi/framer.h"
#include "proto/fastcgi/writer.h"

namespace tsgi {
namespace {

using namespace fastcgi;

// One event as the hook reports it; stream pieces already joined.
struct Norm {
  std::string type;
  uint16_t id = 0;
  uint16_t role = 0;
  uint8_t flags = 0;
  uint8_t record_type = 0;
  std::string data;
  std::vector<std::pair<std::string, std::string>> vars;
  uint64_t content_length = 0;
  bool has_content_length = false;
  std::vector<GetValue> names;
  Error error = Error::kNone;
  uint32_t detail = 0;
  uint64_t position = 0;

  bool operator==(const Norm& o) const {
    return type == o.type && id == o.id && role == o.role && flags == o.flags &&
           record_type == o.record_type && data == o.data && vars == o.vars &&
           content_length == o.content_length && has_content_length == o.has_content_length &&
           names == o.names && error == o.error && detail == o.detail && position == o.position;
  }
};

struct RequestParams {
  std::string store;
  std::unique_ptr<Params> params = std::make_unique<Params>();
  ParamsParser parser;
  bool failed = false;
};

// Decodes like a connection would, one run of pieces.
class Run {
 public:
  Run(Napi::Env env, const ParamsLimits& lim) : env_(env), lim_(lim) {}

  // Feeds in[0, len); false once the decoder has failed.
  bool feed(const char* in, size_t len) {
    size_t off = 0;
    for (;;) {
      Event ev;
      const size_t used = dec_.feed(in + off, len - off, &ev);
      if (used > len - off) throw Napi::Error::New(env_, "fcgiDecode: consumed more than given");
      if (ev.type == Ev::kAgain && off + used != len)
        throw Napi::Error::New(env_, "fcgiDecode: kAgain left input unconsumed");
      if (ev.len && (ev.data < in + off || ev.data + ev.len > in + off + used))
        throw Napi::Error::New(env_, "fcgiDecode: a piece points outside the bytes consumed");
      off += used;
      if (ev.type == Ev::kAgain) return true;
      on_event(ev);
      if (ev.type == Ev::kError) return false;
    }
  }

  std::vector<Norm> finish() {
    if (!failed_ && !dec_.at_record_boundary()) {
      Norm n;
      n.type = "incomplete";
      n.position = dec_.position();
      out_.push_back(n);
    }
    return std::move(out_);
  }

 private:
  RequestParams& params_for(uint16_t id) {
    auto& slot = params_[id];
    if (!slot) {
      slot = std::make_unique<RequestParams>();
      slot->store.resize(lim_.max_bytes);
      slot->parser.reset(&slot->store[0], slot->store.size(), lim_, slot->params.get());
    }
    return *slot;
  }

  void params_error(uint16_t id, const ParamsParser& p) {
    Norm n;
    n.type = "paramsError";
    n.id = id;
    n.error = p.error();
    n.detail = p.detail();
    out_.push_back(n);
  }

  void piece(const char* type, const Event& ev) {
    if (!out_.empty() && out_.back().type == type && out_.back().id == ev.request_id) {
      out_.back().data.append(ev.data, ev.len);
      return;
    }
    Norm n;
    n.type = type;
    n.id = ev.request_id;
    n.data.assign(ev.data, ev.len);
    out_.push_back(n);
  }

  void simple(const char* type, uint16_t id) {
    Norm n;
    n.type = type;
    n.id = id;
    out_.push_back(n);
  }

  void on_params_end(uint16_t id) {
    RequestParams& rp = params_for(id);
    if (!rp.failed) {
      if (rp.parser.finish() != Result::kOk) {
        params_error(id, rp.parser);
      } else {
        Norm n;
        n.type = "params";
        n.id = id;
        const cgi::VarTable& t = rp.params->vars;
        for (uint32_t k = 0; k < t.count; ++k)
          n.vars.emplace_back(rp.store.substr(t.vars[k].name.off, t.vars[k].name.len),
                              rp.store.substr(t.vars[k].value.off, t.vars[k].value.len));
        n.content_length = rp.params->content_length;
        n.has_content_length = rp.params->has_content_length;
        out_.push_back(n);
      }
    }
    params_.erase(id);
  }

  void on_event(const Event& ev) {
    Norm n;
    switch (ev.type) {
      case Ev::kAgain:
        return;
      case Ev::kBeginRequest:
        params_.erase(ev.request_id);
        n.type = "begin";
        n.id = ev.request_id;
        n.role = ev.role;
        n.flags = ev.flags;
        out_.push_back(n);
        return;
      case Ev::kAbortRequest: return simple("abort", ev.request_id);
      case Ev::kParams: {
        RequestParams& rp = params_for(ev.request_id);
        if (!rp.failed && rp.parser.feed(ev.data, ev.len) == Result::kError) {
          rp.failed = true;
          params_error(ev.request_id, rp.parser);
        }
        return;
      }
      case Ev::kParamsEnd: return on_params_end(ev.request_id);
      case Ev::kStdin: return piece("stdin", ev);
      case Ev::kStdinEnd: return simple("stdinEnd", ev.request_id);
      case Ev::kData: return piece("data", ev);
      case Ev::kDataEnd: return simple("dataEnd", ev.request_id);
      case Ev::kGetValues:
        n.type = "getValues";
        n.names.assign(ev.query.names, ev.query.names + ev.query.count);
        out_.push_back(n);
        return;
      case Ev::kUnknownType:
        n.type = "unknownType";
        n.record_type = ev.record_type;
        out_.push_back(n);
        return;
      case Ev::kError:
        failed_ = true;
        n.type = "error";
        n.error = ev.error;
        n.detail = ev.detail;
        n.position = dec_.position();
        out_.push_back(n);
        return;
    }
  }

  Napi::Env env_;
  ParamsLimits lim_;
  Decoder dec_;
  std::map<uint16_t, std::unique_ptr<RequestParams>> params_;
  std::vector<Norm> out_;
  bool failed_ = false;
};

// Runs buf cut at the given offsets (ascending, inside (0, len)).
std::vector<Norm> decode(Napi::Env env, const char* b, size_t len, const ParamsLimits& lim,
                         const std::vector<size_t>& cuts) {
  Run run(env, lim);
  size_t from = 0;
  bool ok = true;
  for (size_t k = 0; k <= cuts.size() && ok; ++k) {
    const size_t to = k < cuts.size() ? cuts[k] : len;
    // Each piece in its own allocation, so a read past it is a read past
    // a heap block (ASan builds catch it).
    std::unique_ptr<char[]> piece(new char[to - from ? to - from : 1]);
    std::memcpy(piece.get(), b + from, to - from);
    ok = run.feed(piece.get(), to - from);
    from = to;
  }
  return run.finish();
}

uint32_t uint_arg(const Napi::CallbackInfo& info, size_t i, double max, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " out of range");
  return static_cast<uint32_t>(d);
}

uint32_t field(Napi::Object o, const char* key, uint32_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  const double d = v.ToNumber().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer in [0, 2^32)");
  return static_cast<uint32_t>(d);
}

Napi::Buffer<char> buffer_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Buffer");
  return info[i].As<Napi::Buffer<char>>();
}

std::string describe(const std::vector<Norm>& ev) {
  std::string s;
  for (const Norm& n : ev) {
    s += n.type;
    if (n.type == "error" || n.type == "paramsError") s += std::string("(") + error_name(n.error) + ")";
    s += " ";
  }
  return s;
}

Napi::Value to_js(Napi::Env env, const std::vector<Norm>& events) {
  Napi::Array arr = Napi::Array::New(env, events.size());
  for (size_t k = 0; k < events.size(); ++k) {
    const Norm& n = events[k];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", n.type);
    if (n.type != "error" && n.type != "incomplete" && n.type != "getValues" && n.type != "unknownType")
      o.Set("requestId", n.id);
    if (n.type == "begin") {
      o.Set("role", n.role);
      o.Set("flags", n.flags);
    } else if (n.type == "stdin" || n.type == "data") {
      o.Set("data", Napi::Buffer<char>::Copy(env, n.data.data(), n.data.size()));
    } else if (n.type == "params") {
      Napi::Array vars = Napi::Array::New(env, n.vars.size());
      for (size_t v = 0; v < n.vars.size(); ++v) {
        Napi::Array pair = Napi::Array::New(env, 2);
        napi_value s;
        napi_create_string_latin1(env, n.vars[v].first.data(), n.vars[v].first.size(), &s);
        pair.Set(uint32_t{0}, Napi::Value(env, s));
        napi_create_string_latin1(env, n.vars[v].second.data(), n.vars[v].second.size(), &s);
        pair.Set(uint32_t{1}, Napi::Value(env, s));
        vars.Set(static_cast<uint32_t>(v), pair);
      }
      o.Set("vars", vars);
      if (n.content_length <= (uint64_t{1} << 53))
        o.Set("contentLength", static_cast<double>(n.content_length));
      else
        o.Set("contentLength", Napi::BigInt::New(env, static_cast<uint64_t>(n.content_length)));
      o.Set("hasContentLength", n.has_content_length);
    } else if (n.type == "getValues") {
      Napi::Array names = Napi::Array::New(env, n.names.size());
      for (size_t v = 0; v < n.names.size(); ++v)
        names.Set(static_cast<uint32_t>(v), get_value_name(n.names[v]));
      o.Set("names", names);
    } else if (n.type == "unknownType") {
      o.Set("recordType", n.record_type);
    } else if (n.type == "error" || n.type == "paramsError") {
      o.Set("error", error_name(n.error));
      o.Set("message", error_text(n.error));
      o.Set("detail", n.detail);
      if (n.type == "error") o.Set("position", static_cast<double>(n.position));
    } else if (n.type == "incomplete") {
      o.Set("position", static_cast<double>(n.position));
    }
    arr.Set(static_cast<uint32_t>(k), o);
  }
  return arr;
}

Napi::Value FcgiDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> buf = buffer_arg(info, 0);
  const char* b = buf.Data();
  const size_t len = buf.Length();
  const uint32_t piece = info.Length() > 1 && !info[1].IsUndefined()
                             ? uint_arg(info, 1, 4294967295.0, "pieceSize") : 0;
  ParamsLimits lim;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    lim.max_bytes = field(o, "maxParams", lim.max_bytes);
    lim.max_vars = field(o, "maxVars", lim.max_vars);
  }
  if (lim.max_bytes > (1u << 24)) throw Napi::RangeError::New(env, "maxParams is at most 16 MiB here");

  const std::vector<Norm> whole = same_at_every_split(
      env, "fcgiDecode", len, piece,
      [&](const std::vector<size_t>& cuts) { return decode(env, b, len, lim, cuts); },
      [](const std::vector<Norm>& v) { return describe(v); });
  return to_js(env, whole);
}

Napi::Value FcgiEncodeStdout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t id = static_cast<uint16_t>(uint_arg(info, 0, 65535, "requestId"));
  Napi::Buffer<char> data = buffer_arg(info, 1);
  const bool pad = info.Length() > 2 && info[2].ToBoolean();
  const bool end = info.Length() > 3 && info[3].ToBoolean();
  const uint8_t type = info.Length() > 4 && info[4].ToBoolean() ? kStderr : kStdout;

  // The iovec plan, two records at a time so that resuming is exercised...
  std::string planned;
  StreamRecord recs[2];
  size_t off = 0;
  while (off < data.Length()) {
    size_t used = 0;
    const size_t n = plan_stream(type, id, data.Data() + off, data.Length() - off, pad, recs, 2, &used);
    if (n == 0 || used == 0) throw Napi::Error::New(env, "fcgiEncodeStdout: the plan made no progress");
    for (size_t k = 0; k < n; ++k) {
      planned.append(recs[k].header, kHeaderLen);
      planned.append(recs[k].data, recs[k].len);
      planned.append(kPaddingBytes, recs[k].padding);
    }
    off += used;
  }
  // ...must equal the copying writer, and stream_size() must be exact.
  std::string copied(stream_size(data.Length(), pad), '\0');
  const size_t w = write_stream(&copied[0], type, id, data.Data(), data.Length(), pad);
  if (w != copied.size() || copied != planned)
    throw Napi::Error::New(env, "fcgiEncodeStdout: plan_stream and write_stream disagree");
  if (end) {
    char tail[kStreamEndLen];
    copied.append(tail, write_stream_end(tail, type, id));
  }
  return Napi::Buffer<char>::Copy(env, copied.data(), copied.size());
}

Napi::Value FcgiEndRequest(const Napi::CallbackInfo& info) {
  const uint16_t id = static_cast<uint16_t>(uint_arg(info, 0, 65535, "requestId"));
  const uint32_t app = uint_arg(info, 1, 4294967295.0, "appStatus");
  const uint8_t proto = static_cast<uint8_t>(uint_arg(info, 2, 255, "protocolStatus"));
  char out[kEndRequestLen];
  return Napi::Buffer<char>::Copy(info.Env(), out, write_end_request(out, id, app, proto));
}

Napi::Value FcgiUnknownType(const Napi::CallbackInfo& info) {
  const uint8_t type = static_cast<uint8_t>(uint_arg(info, 0, 255, "type"));
  char out[kUnknownTypeLen];
  return Napi::Buffer<char>::Copy(info.Env(), out, write_unknown_type(out, type));
}

// Builds the GET_VALUES query from the names, reads it back with the Decoder
// and answers it with write_get_values_result().
Napi::Value FcgiGetValuesResult(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "fcgiGetValuesResult(names: string[], values: object, pad?)");
  Napi::Array names = info[0].As<Napi::Array>();
  Napi::Object values = info[1].As<Napi::Object>();
  const bool pad = info.Length() > 2 && info[2].ToBoolean();

  std::string query(kHeaderLen, '\0');
  for (uint32_t k = 0; k < names.Length(); ++k) {
    const std::string name = names.Get(k).ToString().Utf8Value();
    std::string pair(nv_pair_size(static_cast<uint32_t>(name.size()), 0), '\0');
    write_nv_pair(&pair[0], name.data(), static_cast<uint32_t>(name.size()), "", 0);
    query += pair;
  }
  if (query.size() - kHeaderLen > kMaxContentLength)
    throw Napi::RangeError::New(env, "fcgiGetValuesResult: the query does not fit one record");
  put_header(&query[0], kGetValues, kNullRequestId, static_cast<uint16_t>(query.size() - kHeaderLen), 0);

  Decoder dec;
  Event ev;
  dec.feed(query.data(), query.size(), &ev);
  if (ev.type == Ev::kError)
    throw Napi::Error::New(env, std::string("fcgiGetValuesResult: ") + error_text(ev.error));
  if (ev.type != Ev::kGetValues) throw Napi::Error::New(env, "fcgiGetValuesResult: no query event");

  ServerValues v;
  v.max_conns = field(values, "maxConns", v.max_conns);
  v.max_reqs = field(values, "maxReqs", v.max_reqs);
  v.mpxs_conns = values.Get("mpxsConns").ToBoolean();
  char out[kGetValuesResultMax];
  return Napi::Buffer<char>::Copy(env, out, write_get_values_result(out, ev.query, v, pad));
}

}  // namespace

void InitFastcgiTesting(Napi::Env env, Napi::Object exports) {
  exports.Set("fcgiDecode", Napi::Function::New(env, FcgiDecode, "fcgiDecode"));
  exports.Set("fcgiEncodeStdout", Napi::Function::New(env, FcgiEncodeStdout, "fcgiEncodeStdout"));
  exports.Set("fcgiEndRequest", Napi::Function::New(env, FcgiEndRequest, "fcgiEndRequest"));
  exports.Set("fcgiUnknownType", Napi::Function::New(env, FcgiUnknownType, "fcgiUnknownType"));
  exports.Set("fcgiGetValuesResult",
              Napi::Function::New(env, FcgiGetValuesResult, "fcgiGetValuesResult"));
}

}  // namespace tsgi
