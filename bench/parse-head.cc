// The HTTP/1.1 head parser alone (native/proto/http1/parser.cc), timed on one
// request: "GET / HTTP/1.1", a Host, and a field per line of a file (default
// bench/headers20.txt, the suite's headers20 workload). Prints the time of a
// whole parse and of the scan for the blank line alone (the head short of its
// last byte, so parse_head() answers kAgain), each the best of five rounds.
// The server's own share of a request is measured by ab-protocols.mjs; this
// tells two versions of the parser apart with far less noise.
//
//   g++ -std=c++17 -O2 -Inative bench/parse-head.cc native/proto/http1/parser.cc -o /tmp/parse-head
//   taskset -c 0 /tmp/parse-head [FIELDS_FILE] [ITERATIONS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "proto/http1/parser.h"

using tsgi::http1::HeadError;
using tsgi::http1::Limits;
using tsgi::http1::RequestHead;
using tsgi::http1::Result;

namespace {

RequestHead head;  // large (kMaxHeadersCap fields): not on the stack

// Nanoseconds per parse_head() of buf[0, len), best of five rounds.
double time_parse(const std::string& buf, size_t len, long n, Result want) {
  Limits limits;
  HeadError err;
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
      size_t scan_from = 0;
      if (tsgi::http1::parse_head(buf.data(), len, limits, &scan_from, &head, &err) != want) {
        std::fprintf(stderr, "parse-head: unexpected answer (%d %s)\n", err.status, err.reason);
        std::exit(1);
      }
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
    if (round == 0 || ns < best) best = ns;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const char* file = argc > 1 ? argv[1] : "bench/headers20.txt";
  long n = argc > 2 ? std::atol(argv[2]) : 1000000;
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "parse-head: cannot read %s\n", file);
    return 1;
  }
  std::string buf = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n";
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) buf += line + "\r\n";
  buf += "\r\n";
  double whole = time_parse(buf, buf.size(), n, Result::kOk);
  double scan = time_parse(buf, buf.size() - 1, n, Result::kAgain);
  std::printf("%zu bytes, %u fields: %.1f ns a parse, %.1f ns of it the scan for the blank line\n", buf.size(),
              head.num_headers, whole, scan);
  return 0;
}
