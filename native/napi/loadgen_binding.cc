// `tsgi bench`'s engine (native/loadgen/) for JavaScript:
//   benchStart(options, onEvent) -> { stop() }
// The run goes on its own threads (a coordinator, which waits and reports,
// and one event loop per --threads); the JS thread stays free. onEvent is
// called on the JS thread through a thread-safe function:
//   onEvent('progress', {elapsed, measuring, requests, errors, bytesIn})  about once a second
//   onEvent('done', json)     the result as loadgen's JSON text (to_json)
//   onEvent('error', message) options it cannot use, an unresolvable target, ...
// stop() ends the run early (the result says "stopped": true). While a run is
// going, the thread-safe function keeps Node's loop alive.
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "loadgen/loadgen.h"

namespace tsgi {

namespace {

namespace lg = loadgen;

struct Message {
  enum Kind { kProgress, kDone, kError } kind;
  lg::Progress progress;
  std::string text;
};

double number(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
}

std::string text(const Napi::Object& o, const char* key, const std::string& dflt) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : dflt;
}

// [[name, value], ...]
std::vector<std::pair<std::string, std::string>> pairs(Napi::Env env, const Napi::Object& o, const char* key) {
  std::vector<std::pair<std::string, std::string>> out;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(key) + " must be an array of [name, value]");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 2)
      throw Napi::TypeError::New(env, std::string(key) + " must be an array of [name, value]");
    Napi::Array p = e.As<Napi::Array>();
    out.emplace_back(p.Get(0u).ToString().Utf8Value(), p.Get(1u).ToString().Utf8Value());
  }
  return out;
}

lg::Options parse(Napi::Env env, const Napi::Object& o) {
  lg::Options opts;
  std::string protocol = text(o, "protocol", "http");
  if (!lg::parse_protocol(protocol, &opts.protocol)) throw Napi::TypeError::New(env, "unknown protocol " + protocol);
  opts.target = text(o, "target", "");
  opts.method = text(o, "method", opts.method);
  opts.path = text(o, "path", opts.path);
  opts.host = text(o, "host", "");
  opts.headers = pairs(env, o, "headers");
  opts.params = pairs(env, o, "params");
  Napi::Value body = o.Get("body");
  if (body.IsTypedArray()) {
    Napi::Uint8Array b = body.As<Napi::Uint8Array>();
    opts.body.assign(reinterpret_cast<const char*>(b.Data()), b.ByteLength());
  } else if (body.IsString()) {
    opts.body = body.As<Napi::String>().Utf8Value();
  }
  Napi::Value keep = o.Get("keepConn");
  if (keep.IsBoolean()) opts.keep_conn = keep.As<Napi::Boolean>().Value();
  // Counts are checked by the engine (lg::run) and by the CLI before here.
  opts.connections = unsigned(number(o, "connections", opts.connections));
  opts.threads = unsigned(number(o, "threads", opts.threads));
  opts.duration_s = number(o, "duration", opts.duration_s);
  opts.requests = uint64_t(number(o, "requests", 0));
  opts.warmup_s = number(o, "warmup", 0);
  opts.timeout_s = number(o, "timeout", opts.timeout_s);
  opts.rate = number(o, "rate", 0);
  opts.pipeline = unsigned(number(o, "pipeline", 1));
  opts.multiplex = unsigned(number(o, "multiplex", 1));
  opts.expect_status = int(number(o, "expectStatus", opts.expect_status));
  opts.expect_body_length = int64_t(number(o, "expectBodyLength", -1));
  std::string mode = text(o, "wsMode", "echo");
  if (mode == "subscribe") opts.ws_mode = lg::WsMode::kSubscribe;
  else if (mode != "echo") throw Napi::TypeError::New(env, "wsMode is echo or subscribe, not " + mode);
  opts.ws_message_size = uint64_t(number(o, "wsMessageSize", double(opts.ws_message_size)));
  Napi::Value binary = o.Get("wsBinary");
  if (binary.IsBoolean()) opts.ws_binary = binary.As<Napi::Boolean>().Value();
  opts.ws_prefix = text(o, "wsPrefix", opts.ws_prefix);
  return opts;
}

void deliver(Napi::Env env, Napi::Function callback, void*, Message* m) {
  std::unique_ptr<Message> msg(m);
  if (env == nullptr || callback.IsEmpty()) return;  // the environment is going away
  if (msg->kind == Message::kProgress) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("elapsed", msg->progress.elapsed_s);
    p.Set("measuring", msg->progress.measuring);
    p.Set("requests", double(msg->progress.requests));
    p.Set("errors", double(msg->progress.errors));
    p.Set("bytesIn", double(msg->progress.bytes_in));
    callback.Call({Napi::String::New(env, "progress"), p});
  } else {
    callback.Call({Napi::String::New(env, msg->kind == Message::kDone ? "done" : "error"),
                   Napi::String::New(env, msg->text)});
  }
}

using Tsfn = Napi::TypedThreadSafeFunction<void, Message, deliver>;

Napi::Value BenchStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "benchStart(options, onEvent)");
  lg::Options opts = parse(env, info[0].As<Napi::Object>());
  auto stop = std::make_shared<std::atomic<bool>>(false);
  auto thread = std::make_shared<std::thread>();
  // The finalizer runs on the JS thread once the coordinator has released
  // the function, i.e. is about to return: join it there.
  Tsfn tsfn = Tsfn::New(env, info[1].As<Napi::Function>(), "tsgi-bench", 0, 1, static_cast<void*>(nullptr),
                        [thread](Napi::Env, void*, void*) {
                          if (thread->joinable()) thread->join();
                        });
  *thread = std::thread([tsfn, opts, stop]() mutable {
    try {
      lg::Result r = lg::run(
          opts, [&tsfn](const lg::Progress& p) { tsfn.BlockingCall(new Message{Message::kProgress, p, {}}); },
          stop.get());
      tsfn.BlockingCall(new Message{Message::kDone, {}, lg::to_json(opts, r)});
    } catch (const std::exception& e) {
      tsfn.BlockingCall(new Message{Message::kError, {}, e.what()});
    }
    tsfn.Release();
  });
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("stop", Napi::Function::New(env, [stop](const Napi::CallbackInfo&) { stop->store(true); }, "stop"));
  return handle;
}

}  // namespace

void InitLoadgen(Napi::Env env, Napi::Object exports) {
  exports.Set("benchStart", Napi::Function::New(env, BenchStart, "benchStart"));
}

}  // namespace tsgi
