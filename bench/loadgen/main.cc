// The load engine of `tsgi bench` (native/loadgen/) as a standalone binary
// for the benchmark scripts: no Node process next to the load, and the same
// JSON on stdout. Exit status 0, or 1 for a failed --once, 2 for bad usage.
// bench/lib/loadgen.mjs builds it with cmake (CMakeLists.txt's tsgi-loadgen)
// into build-loadgen/tsgi-loadgen, in effect:
//
//   g++ -std=c++17 -O2 -pthread -Inative -o loadgen bench/loadgen/main.cc native/loadgen/*.cc
//       native/net/connect.cc native/net/socket.cc native/net/address.cc native/poller/poller_epoll.cc
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "loadgen/loadgen.h"

namespace lg = tsgi::loadgen;

namespace {

const char kUsage[] =
    "usage: loadgen [options] TARGET\n"
    "\n"
    "Closed-loop load (or open-loop with --rate): C connections for D seconds.\n"
    "uwsgi and SCGI send one request per connection (connect, send, read to EOF);\n"
    "HTTP keeps connections alive, and so does FastCGI (FCGI_KEEP_CONN) unless\n"
    "--no-keep-conn. Every reply is checked before it counts. `tsgi bench` is the\n"
    "same engine with a friendlier front (docs/bench.md).\n"
    "\n"
    "TARGET   host:port, [v6]:port, :port, /path, unix:/path or @abstract\n"
    "\n"
    "  -p, --protocol P        http (default), uwsgi, scgi, fastcgi or ws (WebSocket)\n"
    "      --no-keep-conn      FastCGI: no FCGI_KEEP_CONN, one request per connection\n"
    "  -c, --connections N     concurrent connections (64)\n"
    "  -t, --threads N         event loops, each with its share of the connections (1)\n"
    "  -d, --duration S        measured seconds (5)\n"
    "  -n, --requests N        stop after N requests instead\n"
    "  -w, --warmup S          seconds of load before measuring, not counted (0)\n"
    "  -R, --rate R            open loop: R requests/s over all connections\n"
    "      --pipeline N        HTTP: requests in flight per connection (1); ws echo: messages\n"
    "      --ws-mode M         ws: echo (default: each connection sends, the reply is checked)\n"
    "                          or subscribe (connections receive; one more publishes, closed\n"
    "                          loop or at --rate messages/s; the count is of deliveries)\n"
    "      --ws-message-size N ws: message bytes (32)\n"
    "      --ws-binary         ws: binary messages (default text)\n"
    "      --ws-prefix P       ws subscribe: what the published messages start with (pub:)\n"
    "      --multiplex N       FastCGI: requests in flight per connection (1)\n"
    "      --timeout S         a request slower than this is an error (10)\n"
    "  -m, --method M          request method (GET)\n"
    "  -u, --path P            request target, query included (/)\n"
    "      --host H            Host / SERVER_NAME (the target's host)\n"
    "  -H, --header 'N: V'     extra request header (repeatable)\n"
    "      --body TEXT         request body\n"
    "      --param NAME=VALUE  uwsgi/SCGI/FastCGI variable, replacing the default (repeatable)\n"
    "      --expect-status N   required status, 0 for any (200)\n"
    "      --expect-length N   required body length in bytes (any)\n"
    "      --once              one request; exit 0 if the reply is valid\n"
    "  -h, --help\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "loadgen: %s\n\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

double number(const std::string& flag, const char* v, double min) {
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(d >= min)) usage_error(flag + " needs a number >= " + std::to_string(min));
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  lg::Options o;
  o.duration_s = 5;
  bool once = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-p" || a == "--protocol") {
      if (!lg::parse_protocol(value(), &o.protocol)) usage_error("unknown protocol " + std::string(argv[i]));
    } else if (a == "-c" || a == "--connections") {
      o.connections = unsigned(number(a, value(), 1));
    } else if (a == "-t" || a == "--threads") {
      o.threads = unsigned(number(a, value(), 1));
    } else if (a == "-d" || a == "--duration") {
      o.duration_s = number(a, value(), 0.001);
    } else if (a == "-n" || a == "--requests") {
      o.requests = uint64_t(number(a, value(), 1));
      o.duration_s = 0;
    } else if (a == "-w" || a == "--warmup") {
      o.warmup_s = number(a, value(), 0);
    } else if (a == "-R" || a == "--rate") {
      o.rate = number(a, value(), 0);
    } else if (a == "--pipeline") {
      o.pipeline = unsigned(number(a, value(), 1));
    } else if (a == "--ws-mode") {
      std::string m = value();
      if (m == "echo") o.ws_mode = lg::WsMode::kEcho;
      else if (m == "subscribe") o.ws_mode = lg::WsMode::kSubscribe;
      else usage_error("--ws-mode is echo or subscribe");
    } else if (a == "--ws-message-size") {
      o.ws_message_size = uint64_t(number(a, value(), 0));
    } else if (a == "--ws-binary") {
      o.ws_binary = true;
    } else if (a == "--ws-prefix") {
      o.ws_prefix = value();
    } else if (a == "--multiplex") {
      o.multiplex = unsigned(number(a, value(), 1));
    } else if (a == "--timeout") {
      o.timeout_s = number(a, value(), 0.001);
    } else if (a == "-m" || a == "--method") {
      o.method = value();
    } else if (a == "-u" || a == "--path") {
      o.path = value();
    } else if (a == "--host") {
      o.host = value();
    } else if (a == "-H" || a == "--header") {
      std::string h = value();
      size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0) usage_error("--header needs 'Name: value'");
      size_t v = h.find_first_not_of(" \t", colon + 1);
      o.headers.emplace_back(h.substr(0, colon), v == std::string::npos ? "" : h.substr(v));
    } else if (a == "--body") {
      o.body = value();
    } else if (a == "--param") {
      std::string p = value();
      size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0) usage_error("--param needs NAME=VALUE");
      o.params.emplace_back(p.substr(0, eq), p.substr(eq + 1));
    } else if (a == "--no-keep-conn") {
      o.keep_conn = false;
    } else if (a == "--expect-status") {
      o.expect_status = int(number(a, value(), 0));
    } else if (a == "--expect-length") {
      o.expect_body_length = int64_t(number(a, value(), 0));
    } else if (a == "--once") {
      once = true;
    } else if (a.size() > 1 && a[0] == '-') {
      usage_error("unknown option " + a);
    } else if (o.target.empty()) {
      o.target = a;
    } else {
      usage_error("more than one target");
    }
  }
  if (o.target.empty()) usage_error("no target");
  signal(SIGPIPE, SIG_IGN);
  // Room for the connections (sockets in TIME_WAIT do not count).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  try {
    if (once) {
      std::string problem;
      int bad = lg::run_once(o, &problem);
      if (bad >= 0) {
        std::fprintf(stderr, "loadgen: invalid reply: %s\n", problem.c_str());
        return 1;
      }
      return 0;
    }
    lg::Result r = lg::run(o);
    std::printf("%s\n", lg::to_json(o, r).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadgen: %s\n", e.what());
    return 2;
  }
  return 0;
}
