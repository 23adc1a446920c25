// Latency histogram, log-linear as HdrHistogram: 64 linear sub-buckets per
// power of two, so any percentile is reported within 1/64 (1.6 %) of the true
// value over the whole range (1 ns .. 2^64 ns) in a fixed 3,776-slot array.
// record() is a shift, a count-leading-zeros and an increment: no allocation.
#pragma once

#include <cstdint>
#include <vector>

namespace tsgi::loadgen {

class Histogram {
 public:
  Histogram();
  void record(uint64_t ns);
  void merge(const Histogram& other);
  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0; }
  // The value at percentile p (0 < p <= 100) in ns, the middle of its
  // bucket clamped to [min, max]; 0 when empty.
  uint64_t percentile(double p) const;

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
  static int index(uint64_t v);
  static uint64_t low(int index);
  static uint64_t high(int index);
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0, sum_ = 0, min_ = UINT64_MAX, max_ = 0;
};

}  // namespace tsgi::loadgen
