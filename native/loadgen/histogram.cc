// See histogram.h.
#include "loadgen/histogram.h"

#include <algorithm>
#include <cmath>

namespace tsgi::loadgen {

Histogram::Histogram() : counts_(kBuckets, 0) {}

// Values below 64 have a bucket each; above, the top bit picks the power of
// two and the next six bits the sub-bucket.
int Histogram::index(uint64_t v) {
  if (v < uint64_t(kSub)) return int(v);
  int top = 63 - __builtin_clzll(v);
  int shift = top - kSubBits;
  return (shift + 1) * kSub + int((v >> shift) - kSub);
}

uint64_t Histogram::low(int i) {
  if (i < kSub) return uint64_t(i);
  int shift = i / kSub - 1;
  return uint64_t(i % kSub + kSub) << shift;
}

uint64_t Histogram::high(int i) {
  if (i < kSub) return uint64_t(i);
  int shift = i / kSub - 1;
  return ((uint64_t(i % kSub + kSub) + 1) << shift) - 1;
}

void Histogram::record(uint64_t ns) {
  counts_[size_t(index(ns))]++;
  count_++;
  sum_ += ns;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < counts_.size(); i++) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  uint64_t rank = uint64_t(std::ceil(p / 100.0 * double(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; i++) {
    seen += counts_[size_t(i)];
    if (seen >= rank) return std::clamp(low(i) + (high(i) - low(i)) / 2, min(), max_);
  }
  return max_;
}

}  // namespace tsgi::loadgen
