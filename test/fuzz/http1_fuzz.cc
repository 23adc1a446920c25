// libFuzzer target for native/proto/http1: parse_head() and ChunkedDecoder.
//
// For each input and three sets of limits (default, tight, derived from the
// data) the head is parsed whole, split at a data-derived offset and, for
// short inputs, byte by byte with a persistent scan_from; all must agree, and
// every Slice of an accepted head must lie inside it and hold what the rules
// allow. Then the body after a chunked head (or the whole input when the head
// is not accepted, to reach the decoder more often) is decoded in several
// piece sizes, which must all produce the same bytes and the same end.
// Prefixes and pieces are copied to buffers of their exact size so that ASan
// sees any read past them. A failed check traps.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz.h"
#include "proto/http1/parser.h"

using namespace tsgi::http1;

namespace fuzz = tsgi::fuzz;

namespace {

struct Outcome {
  Result result = Result::kAgain;
  int status = 0;
  const char* reason = "";
  RequestHead head;
};

using fuzz::same_slice;

bool same(const Outcome& a, const Outcome& b) {
  if (a.result != b.result) return false;
  if (a.result == Result::kError) return a.status == b.status && std::strcmp(a.reason, b.reason) == 0;
  if (a.result == Result::kAgain) return true;
  const RequestHead& x = a.head;
  const RequestHead& y = b.head;
  if (!same_slice(x.method, y.method) || !same_slice(x.target, y.target) ||
      !same_slice(x.path, y.path) || !same_slice(x.query, y.query) ||
      !same_slice(x.host, y.host) || x.flags != y.flags || x.head_len != y.head_len ||
      x.num_headers != y.num_headers)
    return false;
  if ((x.flags & kContentLength) && x.content_length != y.content_length) return false;
  for (uint32_t i = 0; i < x.num_headers; ++i)
    if (!same_slice(x.headers[i].name, y.headers[i].name) ||
        !same_slice(x.headers[i].value, y.headers[i].value))
      return false;
  return true;
}

bool is_tchar(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && std::strchr("!#$%&'*+-.^_`|~", c));
}

void check_slice(Slice s, const RequestHead& h) {
  CHECK(uint64_t{s.off} + s.len <= h.head_len);
}

// What an accepted head must satisfy, read byte by byte.
void check_head(const uint8_t* d, size_t size, const Limits& lim, const RequestHead& h) {
  CHECK(h.head_len >= 4 && h.head_len <= size && h.head_len <= lim.max_head);
  CHECK(std::memcmp(d + h.head_len - 4, "\r\n\r\n", 4) == 0);
  for (Slice s : {h.method, h.target, h.path, h.query, h.host}) check_slice(s, h);
  CHECK(h.method.len >= 1 && h.method.len <= 32);
  for (uint32_t i = 0; i < h.method.len; ++i) CHECK(is_tchar(d[h.method.off + i]));
  CHECK(h.target.len >= 1 && h.target.len <= lim.max_target);
  for (uint32_t i = 0; i < h.target.len; ++i) {
    uint8_t c = d[h.target.off + i];
    CHECK(c > 0x20 && c < 0x7f && c != '#');
  }
  CHECK(h.num_headers <= lim.max_headers && h.num_headers <= kMaxHeadersCap);
  for (uint32_t i = 0; i < h.num_headers; ++i) {
    const Header& f = h.headers[i];
    check_slice(f.name, h);
    check_slice(f.value, h);
    CHECK(f.name.len >= 1);
    for (uint32_t j = 0; j < f.name.len; ++j) CHECK(is_tchar(d[f.name.off + j]));
    CHECK(d[f.name.off + f.name.len] == ':');
    for (uint32_t j = 0; j < f.value.len; ++j) {
      uint8_t c = d[f.value.off + j];
      CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    if (f.value.len) {
      CHECK(d[f.value.off] != ' ' && d[f.value.off] != '\t');
      uint8_t last = d[f.value.off + f.value.len - 1];
      CHECK(last != ' ' && last != '\t');
    }
  }
  CHECK(!((h.flags & kChunked) && (h.flags & kContentLength)));
  if ((h.flags & kHttp11) && !(h.flags & kAbsoluteForm)) CHECK(h.host.len >= 1);
  if (!(h.flags & kAbsoluteForm) && !(h.flags & kAsteriskForm)) CHECK(d[h.target.off] == '/');
}

Outcome parse(const char* buf, size_t len, const Limits& lim, size_t* scan_from) {
  Outcome o;
  HeadError err;
  o.result = parse_head(buf, len, lim, scan_from, &o.head, &err);
  if (o.result == Result::kError) {
    CHECK(err.status == 400 || err.status == 414 || err.status == 417 ||
          err.status == 431 || err.status == 501 || err.status == 505);
    CHECK(err.reason && err.reason[0]);
    o.status = err.status;
    o.reason = err.reason;
  }
  if (o.result == Result::kAgain) CHECK(len < lim.max_head);
  return o;
}

// The first answer other than kAgain, feeding buf[0, k) for k = first,
// first + stride, ... and at last size, with one persistent scan_from.
Outcome parse_in_steps(const uint8_t* d, size_t size, const Limits& lim, size_t first,
                       size_t stride) {
  size_t scan_from = 0;
  Outcome o;
  fuzz::feed_prefixes(d, size, first, stride, [&](const char* prefix, size_t k) {
    o = parse(prefix, k, lim, &scan_from);
    CHECK(scan_from <= k);
    return o.result != Result::kAgain;
  });
  return o;
}

void check_head_consistency(const uint8_t* d, size_t size, const Limits& lim, size_t split,
                            Outcome* whole) {
  size_t zero = 0;
  *whole = parse(reinterpret_cast<const char*>(d), size, lim, &zero);
  if (whole->result == Result::kOk) check_head(d, size, lim, whole->head);
  fuzz::check_feedings(size, split, 1, [&](size_t first, size_t stride) { return parse_in_steps(d, size, lim, first, stride); },
                       [&](const Outcome& o) { return same(o, *whole); });
}

struct Decoded {
  ChunkedDecoder::Step end = ChunkedDecoder::Step::kAgain;
  std::string body;
  size_t consumed = 0;
  std::string error;
  std::vector<uint64_t> sizes;  // each kChunk's chunk_size()
};

Decoded decode(const uint8_t* d, size_t size, size_t piece) {
  ChunkedDecoder dec;
  dec.reset();
  Decoded out;
  for (size_t off = 0; off < size; off += piece) {
    size_t n = size - off < piece ? size - off : piece;
    auto buf = fuzz::copy(d + off, n);
    size_t p = 0;
    while (p < n) {
      size_t used = 0, data_len = 0;
      const char* data = nullptr;
      auto step = dec.feed(buf.get() + p, n - p, &used, &data, &data_len);
      CHECK(used <= n - p);
      if (step == ChunkedDecoder::Step::kData) {
        CHECK(data_len >= 1 && data >= buf.get() + p && data + data_len == buf.get() + p + used);
        CHECK(!out.sizes.empty());
        out.body.append(data, data_len);
      } else {
        // A chunk is announced at its size line's LF, before any of its data.
        if (step == ChunkedDecoder::Step::kChunk) {
          CHECK(used >= 1 && buf.get()[p + used - 1] == '\n' && dec.chunk_size() >= 1);
          out.sizes.push_back(dec.chunk_size());
        }
        CHECK(data == nullptr && data_len == 0);
      }
      p += used;
      if (step == ChunkedDecoder::Step::kAgain) CHECK(p == n);
      if (step == ChunkedDecoder::Step::kDone || step == ChunkedDecoder::Step::kError) {
        out.end = step;
        out.consumed = off + p;
        if (step == ChunkedDecoder::Step::kDone) {
          uint64_t announced = 0;
          for (uint64_t chunk : out.sizes) announced += chunk;
          CHECK(announced == out.body.size());
        }
        if (step == ChunkedDecoder::Step::kError) {
          CHECK(dec.error() && dec.error()[0]);
          out.error = dec.error();
        }
        size_t u = 1, dl = 1;
        const char* dp = nullptr;
        CHECK(dec.feed(buf.get(), n, &u, &dp, &dl) == step && u == 0 && dl == 0);
        return out;
      }
    }
  }
  out.consumed = size;
  return out;
}

void check_chunked_consistency(const uint8_t* d, size_t size, uint32_t h) {
  Decoded whole = decode(d, size, size ? size : 1);
  size_t pieces[] = {1, 2, 3, 7, 1 + h % 61};
  for (size_t piece : pieces) {
    Decoded o = decode(d, size, piece);
    CHECK(o.end == whole.end && o.body == whole.body && o.consumed == whole.consumed &&
          o.error == whole.error && o.sizes == whole.sizes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint32_t h = fuzz::hash(data, size);
  size_t split = fuzz::split_of(h, size);
  Limits limit_sets[3];
  limit_sets[1].max_head = 200;
  limit_sets[1].max_headers = 4;
  limit_sets[1].max_target = 20;
  limit_sets[2].max_head = static_cast<uint32_t>(split);
  limit_sets[2].max_headers = (h >> 8) % 8;
  limit_sets[2].max_target = (h >> 12) % 64;
  Outcome first;
  for (int i = 0; i < 3; ++i) {
    Outcome whole;
    check_head_consistency(data, size, limit_sets[i], split, &whole);
    if (i == 0) first = whole;
  }
  if (first.result == Result::kOk && (first.head.flags & kChunked))
    check_chunked_consistency(data + first.head.head_len, size - first.head.head_len, h);
  else if (first.result != Result::kOk)
    check_chunked_consistency(data, size, h);
  return 0;
}
