// libFuzzer target for native/loadgen/reply: the replies `tsgi bench` checks
// come from servers under test, so its parsers face arbitrary bytes too.
//
// HttpReply is fed the input whole and in pieces of several data-derived
// sizes (keeping what feed() did not use, as the worker does); every way must
// end alike: the same result, the same bytes used at the end, the same status
// and body length. parse_head (HTTP and CGI forms) is checked for prefix
// consistency: once a prefix is malformed, longer inputs are too, and a head
// complete in a prefix is the same head in the whole. check_cgi_reply runs
// with and without an expected length. Buffers are exact-size copies so that
// ASan sees any read past them. A failed check traps.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz.h"
#include "loadgen/reply.h"

using namespace tsgi::loadgen;

namespace fuzz = tsgi::fuzz;

namespace {

struct Outcome {
  HttpReply::Rc rc = HttpReply::kAgain;
  size_t used = 0;  // bytes of the input the reply took, when it ended
  bool started = false;
  int status = -1;
  uint64_t body = 0;
};

Outcome feed(const char* d, size_t n, size_t piece, bool head_request) {
  HttpReply r;
  std::string pending;
  Outcome o;
  size_t taken = 0;  // bytes used by earlier feeds
  for (size_t off = 0; off < n;) {
    size_t k = n - off < piece ? n - off : piece;
    pending.append(d + off, k);
    off += k;
    auto buf = fuzz::copy(pending.data(), pending.size());
    size_t used = 0;
    HttpReply::Rc rc = r.feed(buf.get(), pending.size(), &used, head_request);
    CHECK(used <= pending.size());
    taken += used;
    pending.erase(0, used);
    if (rc != HttpReply::kAgain) {
      o.rc = rc;
      o.used = taken;
      break;
    }
  }
  o.started = r.started();
  if (o.started) o.status = r.head().status;
  o.body = r.body_bytes();
  return o;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.rc != b.rc || a.started != b.started || a.status != b.status) return false;
  // A framing error may be seen at different points of a split input; a
  // completed reply must have taken the same bytes.
  if (a.rc == HttpReply::kDone) return a.used == b.used && a.body == b.body;
  if (a.rc == HttpReply::kAgain) return a.body == b.body;
  return true;
}

void heads(const char* d, size_t n, bool cgi) {
  auto whole = fuzz::copy(d, n);
  Head hw;
  int rw = parse_head(whole.get(), n, cgi, &hw);
  CHECK(rw >= -1 && rw <= 1);
  if (rw == 1) CHECK(hw.len > 0 && hw.len <= n);
  if (n > 512) return;
  bool bad_seen = false;
  for (size_t p = 0; p <= n; p++) {
    auto pre = fuzz::copy(d, p);
    Head hp;
    int rp = parse_head(pre.get(), p, cgi, &hp);
    if (bad_seen) CHECK(rp == -1);  // malformed stays malformed
    if (rp == -1) bad_seen = true;
    if (rp == 1) {
      CHECK(rw == 1 && hp.len == hw.len && hp.status == hw.status && hp.content_length == hw.content_length &&
            hp.chunked == hw.chunked);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* d = reinterpret_cast<const char*>(data);
  bool head_request = size > 0 && (data[0] & 1);
  Outcome whole = feed(d, size, size ? size : 1, head_request);
  size_t pieces[] = {1, 2, 7, size > 3 ? size / 3 : 1, size > 0 ? size_t{1} + data[size - 1] % 64u : 5};
  for (size_t piece : pieces) {
    if (piece == 1 && size > 2048) continue;  // byte by byte for short inputs only
    CHECK(same(whole, feed(d, size, piece, head_request)));
  }
  heads(d, size, false);
  heads(d, size, true);
  Options o;
  std::string why;
  auto buf = fuzz::copy(d, size);
  int kind = check_cgi_reply(o, buf.get(), size, size, &why);
  (void)kind;
  o.expect_status = 0;
  o.expect_body_length = size > 0 ? data[0] : 0;
  kind = check_cgi_reply(o, buf.get(), size, size, &why);
  (void)kind;
  // Only part of a long reply kept: the check must stay inside what is stored.
  size_t stored = size / 2;
  kind = check_cgi_reply(o, buf.get(), stored, size + 1000, &why);
  (void)kind;
  return 0;
}
