// What the libFuzzer drivers share: a check that traps, inputs copied to
// buffers of their exact size (so that ASan sees any read past them), a hash
// of the input to derive split points and limits from, and feeding a framer
// growing prefixes of the input to compare with parsing it whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

// A failed check names the driver and line, then traps (libFuzzer keeps the input).
#define CHECK(x)                                                                         \
  do {                                                                                   \
    if (!(x)) {                                                                          \
      std::fprintf(stderr, "%s: check failed: %s (line %d)\n", __FILE__, #x, __LINE__); \
      __builtin_trap();                                                                  \
    }                                                                                    \
  } while (0)

// On the drivers' own code (reference decoders, checks, input cutting): no
// coverage counters, so that the fuzzer is guided by the framer under test
// alone and does not pay a comparison hook in every loop of the harness.
#if defined(__clang__)
#define TSGI_FUZZ_HARNESS __attribute__((no_sanitize("coverage")))
#else
#define TSGI_FUZZ_HARNESS
#endif

namespace tsgi::fuzz {

// Inputs up to this size are also fed byte by byte (longer ones would be slow).
constexpr size_t kByteByByteMax = 512;

// A copy of p[0, n) in a buffer of exactly n bytes (one byte for n = 0).
inline std::unique_ptr<char[]> copy(const void* p, size_t n) {
  std::unique_ptr<char[]> c(new char[n ? n : 1]);
  if (n) std::memcpy(c.get(), p, n);
  return c;
}

TSGI_FUZZ_HARNESS inline uint32_t hash(const uint8_t* d, size_t n) {  // FNV-1a
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) h = (h ^ d[i]) * 16777619u;
  return h;
}

// A split point in [0, size] derived from the input's hash.
inline size_t split_of(uint32_t h, size_t size) { return size ? h % (size + 1) : 0; }

// Two slices (offset and length into one buffer) are the same view.
template <class Slice>
bool same_slice(const Slice& a, const Slice& b) {
  return a.off == b.off && a.len == b.len;
}

// Two var tables (a count, then name and value slices) hold the same views.
template <class Vars>
bool same_vars(const Vars& x, const Vars& y) {
  if (x.count != y.count) return false;
  for (uint32_t i = 0; i < x.count; ++i)
    if (!same_slice(x.vars[i].name, y.vars[i].name) || !same_slice(x.vars[i].value, y.vars[i].value)) return false;
  return true;
}

// The limits the CGI-style drivers try on each input, each passed to f: the
// defaults, tight ones (a 64-byte block, 4 vars), and ones from the input.
template <class Limits, class F>
void for_each_cgi_limits(uint32_t h, size_t split, F&& f) {
  Limits sets[3];
  sets[1].max_block = 64;
  sets[1].max_vars = 4;
  sets[2].max_block = static_cast<uint32_t>(split);
  sets[2].max_vars = (h >> 8) % 8;
  for (const Limits& lim : sets) f(lim);
}

// Feeds d[0, k) for k = first, first + stride, ... and at last size, each
// prefix in its own exact-size buffer, to once(buf, k), which returns true
// when it has an answer other than "again"; stops at the first such answer.
template <class Once>
void feed_prefixes(const uint8_t* d, size_t size, size_t first, size_t stride, Once&& once) {
  for (size_t k = first;; k += stride) {
    if (k > size) k = size;
    auto prefix = copy(d, k);
    if (once(static_cast<const char*>(prefix.get()), k) || k == size) return;
  }
}

// The input fed from `split` then whole, and (short inputs) byte by byte
// from `byte_from`: `in_steps(first, stride)` returns the first answer of such
// a feeding, and each must be the answer to the whole input (`agrees`).
template <class InSteps, class Agrees>
void check_feedings(size_t size, size_t split, size_t byte_from, InSteps&& in_steps, Agrees&& agrees) {
  CHECK(agrees(in_steps(split, size ? size : 1)));
  if (size <= kByteByByteMax) CHECK(agrees(in_steps(byte_from, 1)));
}

// For framers whose outcome is large (a var table: kept on the heap) with a
// `result` that may be kAgain: parses the input whole with once(buf, len, out),
// then fed in growing prefixes as check_feedings does, each answer `same` as
// the whole one. Returns the whole input's outcome for further checks.
template <class Outcome, class Once, class Same>
std::unique_ptr<Outcome> check_whole_and_prefixes(const uint8_t* d, size_t size, size_t split, size_t byte_from,
                                                  Once&& once, Same&& same) {
  auto whole = std::make_unique<Outcome>();
  auto buf = copy(d, size);
  once(static_cast<const char*>(buf.get()), size, whole.get());
  auto part = std::make_unique<Outcome>();
  auto in_steps = [&](size_t first, size_t stride) -> const Outcome& {
    feed_prefixes(d, size, first, stride, [&](const char* prefix, size_t k) {
      once(prefix, k, part.get());
      return part->result != decltype(part->result)::kAgain;
    });
    return *part;
  };
  check_feedings(size, split, byte_from, in_steps, [&](const Outcome& o) { return same(o, *whole); });
  return whole;
}

}  // namespace tsgi::fuzz
