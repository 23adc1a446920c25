// For the framers' test hooks: decode one input whole and cut into pieces,
// and throw unless every way of feeding it gives the same events. An
// incremental parser must not care where the reads split its input.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace tsgi {

// decode(cuts) feeds the input with a read ending at each offset in cuts
// and returns its events (comparable with ==); describe(events) prints them.
// piece > 0: pieces of that size. piece == 0: byte by byte, then split in
// two at every offset (at 1024 spread offsets for long inputs). Returns the
// whole input's events.
template <class Decode, class Describe>
auto same_at_every_split(Napi::Env env, const char* hook, size_t len, size_t piece, Decode decode,
                         Describe describe) {
  const auto whole = decode(std::vector<size_t>{});
  auto check = [&](const std::vector<size_t>& cuts, const std::string& how) {
    const auto got = decode(cuts);
    if (!(got == whole))
      throw Napi::Error::New(env, std::string(hook) + ": fed " + how + ", the events (" + describe(got) +
                                      ") differ from the whole buffer's (" + describe(whole) + ")");
  };
  std::vector<size_t> cuts;
  if (piece > 0) {
    for (size_t at = piece; at < len; at += piece) cuts.push_back(at);
    check(cuts, "in pieces of " + std::to_string(piece));
  } else {
    for (size_t at = 1; at < len; ++at) cuts.push_back(at);
    check(cuts, "byte by byte");
    const size_t step = len > 1024 ? len / 1024 : 1;
    for (size_t at = 1; at < len; at += step) check({at}, "split at " + std::to_string(at));
  }
  return whole;
}

}  // namespace tsgi
