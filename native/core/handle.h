// A request handle, as JS holds it: the connection's slot (low 20 bits) and a
// per-loop request number (high 32 bits) packed into a double, exact up to
// 2^53, so a reply for a request that has ended can never reach the next
// request on a reused slot.
#pragma once

#include <cstdint>

namespace tsgi::handle {

constexpr uint32_t kSlotBits = 20;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;
constexpr double kSlotSpan = static_cast<double>(kMaxSlots);
constexpr double kLimit = 9007199254740992.0;  // 2^53

inline double pack(uint32_t request, uint32_t slot) {
  return static_cast<double>(request) * kSlotSpan + static_cast<double>(slot);
}

// The slot a handle names; false for what no handle can be (0, negative, NaN, too large).
inline bool slot_of(double h, uint32_t* slot) {
  if (!(h > 0) || h >= kLimit) return false;
  *slot = static_cast<uint32_t>(static_cast<uint64_t>(h) & (kMaxSlots - 1));
  return true;
}

}  // namespace tsgi::handle
