// The engine: plans a run (target, request bytes, the share of each thread),
// starts one Worker per thread, reports progress once a second from the
// caller's thread, and merges the results. See loadgen.h.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

#include "loadgen/loadgen.h"
#include "loadgen/request.h"
#include "loadgen/worker.h"
#include "loadgen/ws_worker.h"
#include "proto/ws/writer.h"

namespace tsgi::loadgen {

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kHttp: return "http";
    case Protocol::kUwsgi: return "uwsgi";
    case Protocol::kScgi: return "scgi";
    case Protocol::kFastcgi: return "fastcgi";
    case Protocol::kWs: return "ws";
  }
  return "?";
}

bool parse_protocol(const std::string& name, Protocol* out) {
  if (name == "http") *out = Protocol::kHttp;
  else if (name == "uwsgi") *out = Protocol::kUwsgi;
  else if (name == "scgi") *out = Protocol::kScgi;
  else if (name == "fastcgi" || name == "fcgi") *out = Protocol::kFastcgi;
  else if (name == "ws" || name == "websocket") *out = Protocol::kWs;
  else return false;
  return true;
}

const char* error_name(int kind) {
  static const char* const names[kErrorKinds] = {"connect", "write",      "read",   "timeout", "status",
                                                 "framing", "short_body", "length", "protocol",
                                                 "handshake", "closed"};
  return kind >= 0 && kind < kErrorKinds ? names[kind] : "?";
}

uint64_t Result::errors_total() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void Result::merge(const Result& o) {
  requests += o.requests;
  for (int i = 0; i < kErrorKinds; i++) errors[size_t(i)] += o.errors[size_t(i)];
  for (const auto& [status, n] : o.statuses) statuses[status] += n;
  connects += o.connects;
  published += o.published;
  bytes_out += o.bytes_out;
  bytes_in += o.bytes_in;
  latency.merge(o.latency);
}

namespace {

void cpu_times(double* user, double* sys) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  *user = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6;
  *sys = double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) / 1e6;
}

void check(const Options& o) {
  auto bad = [](const std::string& why) { throw std::runtime_error(why); };
  if (o.connections == 0) bad("connections must be at least 1");
  if (o.connections > 1000000) bad("connections must be at most 1000000");
  if (o.duration_s <= 0 && o.requests == 0) bad("give a duration or a number of requests");
  if (o.pipeline == 0 || o.pipeline > 256) bad("pipeline must be 1..256");
  if (o.multiplex == 0 || o.multiplex > 256) bad("multiplex must be 1..256");
  const bool ws = o.protocol == Protocol::kWs;
  if (o.pipeline > 1 && o.protocol != Protocol::kHttp && !ws) bad("pipelining is HTTP's and WebSocket's (FastCGI: multiplex)");
  if (ws && o.rate > 0 && o.ws_mode == WsMode::kEcho) bad("WebSocket echo is closed loop: --rate is for subscribe mode");
  if (ws && o.ws_mode == WsMode::kSubscribe && o.threads > 1) bad("WebSocket subscribe mode runs on one thread");
  if (ws && o.ws_message_size > (16u << 20)) bad("the WebSocket message size must be at most 16 MiB");
  if (ws && o.ws_mode == WsMode::kSubscribe && o.ws_message_size < o.ws_prefix.size() + 16)
    bad("in subscribe mode the message holds the prefix and a 16-digit sequence number: make it at least " +
        std::to_string(o.ws_prefix.size() + 16) + " bytes");
  if (o.multiplex > 1 && o.protocol != Protocol::kFastcgi) bad("multiplexing is FastCGI's (HTTP: pipeline)");
  if (o.multiplex > 1 && !o.keep_conn) bad("multiplexing needs FCGI_KEEP_CONN");
  if (!(o.rate >= 0) || !std::isfinite(o.rate)) bad("rate must be a number of requests per second");
  if (o.timeout_s <= 0) bad("timeout must be positive");
  if (o.path.empty() || o.path[0] != '/') bad("the path must start with '/'");
}

// WebSocket: the handshake without its key (each connection makes its own)
// and the message. The masking key is the run's: a server cannot tell, and
// the frame is built once instead of masked for every send.
void ws_plan(const Options& o, Plan* plan) {
  const net::Peer& t = plan->peer;
  std::string host = o.host.empty() ? (t.tcp ? (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) +
                                                   ":" + t.port
                                             : t.host)
                                    : o.host;
  std::string req = "GET " + o.path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [name, value] : o.headers) req += name + ": " + value + "\r\n";
  uint64_t key = random_seed();
  std::memcpy(plan->ws_mask, &key, 4);
  std::string payload(o.ws_message_size, 'x');
  if (o.ws_binary)
    for (size_t i = 0; i < payload.size(); i++) payload[i] = char((i * 31 + 7) & 0xff);
  if (o.ws_mode == WsMode::kSubscribe) {
    payload.replace(0, o.ws_prefix.size(), o.ws_prefix);
    plan->requests = {req, payload};  // the publisher writes each sequence number in, then masks
    return;
  }
  std::string frame(ws::kMaxClientHeader, '\0');
  size_t h = ws::write_client_header(frame.data(), o.ws_binary ? ws::kBinary : ws::kText, true, payload.size(),
                                     plan->ws_mask);
  frame.resize(h);
  ws::mask_payload(payload.data(), payload.size(), plan->ws_mask);
  plan->requests = {req, frame + payload};
}

}  // namespace

Result run(const Options& options, const ProgressFn& progress, const std::atomic<bool>* stop) {
  check(options);
  Plan plan;
  plan.o = options;
  std::string why;
  if (!net::resolve_peer(options.target, &plan.peer, &why)) throw std::runtime_error(why);
  plan.depth = options.protocol == Protocol::kHttp || options.protocol == Protocol::kWs ? options.pipeline
               : options.protocol == Protocol::kFastcgi ? options.multiplex : 1;
  if (options.protocol == Protocol::kWs) {
    ws_plan(options, &plan);
  } else if (options.protocol == Protocol::kFastcgi) {
    for (unsigned id = 1; id <= plan.depth; id++) plan.requests.push_back(build_request(options, plan.peer, uint16_t(id)));
  } else {
    plan.requests.push_back(build_request(options, plan.peer, 1));
  }
  std::atomic<bool> halt{false};
  plan.stop = &halt;
  unsigned threads = std::max(1u, std::min(options.threads, options.connections));
  plan.start = now_ns();
  plan.measure_from = plan.start + uint64_t(options.warmup_s * 1e9);
  if (options.duration_s > 0) plan.end = plan.measure_from + uint64_t(options.duration_s * 1e9);

  std::vector<std::unique_ptr<Loop>> workers;
  for (unsigned i = 0; i < threads; i++) {
    unsigned n = options.connections / threads + (i < options.connections % threads ? 1 : 0);
    uint64_t budget = 0;
    if (options.requests > 0) {
      budget = options.requests / threads + (i < options.requests % threads ? 1 : 0);
      if (budget == 0) continue;
    }
    // Each thread's share of the rate, its schedule offset so that threads take turns.
    double rate = options.rate * n / options.connections;
    uint64_t phase = options.rate > 0 ? uint64_t(1e9 * i / options.rate) : 0;
    if (options.protocol == Protocol::kWs) workers.push_back(std::make_unique<WsWorker>(plan, n, budget));
    else workers.push_back(std::make_unique<Worker>(plan, n, budget, rate, phase));
  }
  std::vector<std::string> failures(workers.size());
  std::vector<std::thread> pool;
  for (size_t i = 0; i < workers.size(); i++) {
    pool.emplace_back([&, i] {
      try {
        workers[i]->run();
      } catch (const std::exception& e) {
        failures[i] = e.what();
        halt.store(true);
        workers[i]->live.finished.store(true);
      }
    });
  }

  // Progress ticks fall on whole seconds of the measured window.
  double u0 = 0, s0 = 0;
  bool sampled = false;
  if (plan.measure_from <= now_ns()) cpu_times(&u0, &s0), sampled = true;
  int64_t k = -int64_t((plan.measure_from - plan.start) / 1000000000u) + 1;
  uint64_t prev_req = 0, prev_err = 0;
  Result total;
  uint64_t stopped_at = 0;
  for (;;) {
    bool all = std::all_of(workers.begin(), workers.end(),
                           [](const auto& w) { return w->live.finished.load(std::memory_order_acquire); });
    if (all) break;
    uint64_t now = now_ns();
    if (stop != nullptr && stop->load() && !halt.load()) {
      halt.store(true);
      stopped_at = now;
      total.stopped = true;
    }
    if (!sampled && now >= plan.measure_from) cpu_times(&u0, &s0), sampled = true;
    uint64_t tick = uint64_t(int64_t(plan.measure_from) + k * 1000000000);
    if (now >= tick) {
      Progress p;
      p.elapsed_s = double(now - plan.start) / 1e9;
      p.measuring = now >= plan.measure_from;
      for (const auto& w : workers) {
        p.requests += w->live.requests.load(std::memory_order_relaxed);
        p.errors += w->live.errors.load(std::memory_order_relaxed);
        p.bytes_in += w->live.bytes_in.load(std::memory_order_relaxed);
      }
      if (k >= 1) {
        total.per_second.emplace_back(p.requests - prev_req, p.errors - prev_err);
        prev_req = p.requests;
        prev_err = p.errors;
      }
      if (progress) progress(p);
      k++;
      continue;
    }
    uint64_t wait = std::min<uint64_t>(tick - now, 50000000);  // 50 ms: notice a stop or the end soon
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
  uint64_t finished = now_ns();
  for (auto& t : pool) t.join();
  for (const auto& f : failures)
    if (!f.empty()) throw std::runtime_error(f);
  double u1, s1;
  cpu_times(&u1, &s1);
  if (sampled) total.cpu_user_s = u1 - u0, total.cpu_system_s = s1 - s0;
  uint64_t last = 0;
  for (auto& w : workers) {
    total.merge(w->result);
    last = std::max(last, w->live.last_done.load());
  }
  // The last, partial second of the window.
  uint64_t last_tick = uint64_t(int64_t(plan.measure_from) + (k - 1) * 1000000000);
  // (Counters are published once per loop turn: a few replies read just
  // before a tick may only show here, so the entries always add up.)
  if (k >= 1 && (std::min(finished, plan.end) > last_tick + 1000000 || total.requests > prev_req ||
                 total.errors_total() > prev_err))
    total.per_second.emplace_back(total.requests - prev_req, total.errors_total() - prev_err);
  uint64_t until = stopped_at ? std::min(stopped_at, plan.end)
                   : options.requests > 0 ? std::min(std::max(last, plan.measure_from), plan.end)
                                          : std::min(finished, plan.end);
  total.elapsed_s = until > plan.measure_from ? double(until - plan.measure_from) / 1e9 : 0;
  return total;
}

int run_once(const Options& options, std::string* problem) {
  Options o = options;
  o.connections = o.threads = 1;
  o.requests = 1;
  o.duration_s = 0;
  o.warmup_s = 0;
  o.rate = 0;
  o.pipeline = o.multiplex = 1;
  Result r = run(o);
  for (int i = 0; i < kErrorKinds; i++) {
    if (r.errors[size_t(i)] > 0) {
      *problem = error_name(i);
      return i;
    }
  }
  if (r.requests != 1) {
    *problem = "no reply";
    return kErrTimeout;
  }
  return -1;
}

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += char(ch);
    } else if (ch < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", ch);
      out += esc;
    } else {
      out += char(ch);
    }
  }
  return out + "\"";
}

std::string num(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// WebSocket: "requests" are messages (echo replies, or deliveries).
std::string ws_json(const Options& o, const Result& r) {
  bool sub = o.ws_mode == WsMode::kSubscribe;
  return ",\"pipeline\":" + std::to_string(o.pipeline) + ",\"ws\":{\"mode\":\"" + (sub ? "subscribe" : "echo") +
         "\",\"message_size\":" + std::to_string(o.ws_message_size) +
         ",\"binary\":" + (o.ws_binary ? "true" : "false") +
         (sub ? ",\"prefix\":" + json_string(o.ws_prefix) + ",\"published\":" + std::to_string(r.published) +
                    ",\"published_per_s\":" + num(r.elapsed_s > 0 ? double(r.published) / r.elapsed_s : 0, 1) +
                    ",\"subscribers\":" + std::to_string(o.connections)
              : "") +
         "}";
}

}  // namespace

std::string to_json(const Options& o, const Result& r) {
  const Histogram& h = r.latency;
  auto us = [](uint64_t ns) { return num(double(ns) / 1000.0, 1); };
  std::string errors = "{\"total\":" + std::to_string(r.errors_total());
  for (int i = 0; i < kErrorKinds; i++)
    errors += ",\"" + std::string(error_name(i)) + "\":" + std::to_string(r.errors[size_t(i)]);
  errors += "}";
  std::string seconds = "[";
  for (size_t i = 0; i < r.per_second.size(); i++) {
    seconds += (i ? ",[" : "[") + std::to_string(r.per_second[i].first) + "," +
               std::to_string(r.per_second[i].second) + "]";
  }
  seconds += "]";
  std::string seen = "{";
  for (const auto& [status, n] : r.statuses) {
    if (seen.size() > 1) seen += ",";
    seen += "\"" + std::to_string(status) + "\":" + std::to_string(n);
  }
  seen += "}";
  double cpu = r.cpu_user_s + r.cpu_system_s;
  return std::string("{\"tool\":\"tsgi-bench\",\"protocol\":\"") + protocol_name(o.protocol) + "\"" +
         ",\"target\":" + json_string(o.target) + ",\"method\":" + json_string(o.method) +
         ",\"path\":" + json_string(o.path) + ",\"connections\":" + std::to_string(o.connections) +
         ",\"threads\":" + std::to_string(o.threads) +
         (o.protocol == Protocol::kFastcgi ? std::string(",\"keep_conn\":") + (o.keep_conn ? "true" : "false") +
                                                 ",\"multiplex\":" + std::to_string(o.multiplex)
                                           : "") +
         (o.protocol == Protocol::kHttp ? ",\"pipeline\":" + std::to_string(o.pipeline) : "") +
         (o.protocol == Protocol::kWs ? ws_json(o, r) : "") +
         ",\"mode\":\"" + (o.rate > 0 ? "open" : "closed") + "\"" + ",\"rate\":" + num(o.rate, 1) +
         ",\"duration_s\":" + num(o.duration_s, 3) + ",\"requests_limit\":" + std::to_string(o.requests) +
         ",\"warmup_s\":" + num(o.warmup_s, 3) + ",\"elapsed_s\":" + num(r.elapsed_s, 3) +
         ",\"stopped\":" + (r.stopped ? "true" : "false") + ",\"requests\":" + std::to_string(r.requests) +
         ",\"rps\":" + num(r.elapsed_s > 0 ? double(r.requests) / r.elapsed_s : 0, 1) +
         ",\"connects\":" + std::to_string(r.connects) + ",\"bytes_out\":" + std::to_string(r.bytes_out) +
         ",\"bytes_in\":" + std::to_string(r.bytes_in) + ",\"errors\":" + errors + ",\"status_seen\":" + seen +
         ",\"latency_us\":{\"count\":" + std::to_string(h.count()) + ",\"min\":" + us(h.min()) +
         ",\"mean\":" + num(h.mean() / 1000.0, 1) + ",\"p50\":" + us(h.percentile(50)) +
         ",\"p90\":" + us(h.percentile(90)) + ",\"p99\":" + us(h.percentile(99)) +
         ",\"p99_9\":" + us(h.percentile(99.9)) + ",\"max\":" + us(h.max()) + "}" +
         ",\"per_second\":" + seconds + ",\"client_cpu\":{\"user_s\":" + num(r.cpu_user_s, 3) +
         ",\"system_s\":" + num(r.cpu_system_s, 3) + ",\"use\":" + num(r.elapsed_s > 0 ? cpu / r.elapsed_s : 0, 3) +
         ",\"us_per_request\":" + num(r.requests ? cpu * 1e6 / double(r.requests) : 0, 2) + "}}";
}

}  // namespace tsgi::loadgen
