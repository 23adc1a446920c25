// libFuzzer target for native/proto/fastcgi: Decoder, ParamsParser, writer.
//
// The input is a byte stream from a web server. For three sets of params
// limits it is decoded the way a connection would (the Decoder, and one
// ParamsParser per request id for PARAMS) whole, in data-derived pieces, at
// one data-derived cut, and byte by byte for short inputs, each piece in a
// buffer of its exact size so that ASan sees a read past it. All runs must
// give the same event log (stream pieces joined), and that log must equal
// the one of a second, naive implementation below that reads the records
// from the whole buffer. Every event is checked against the bytes. Then the
// writer: STDOUT records for a slice of the input, planned and copied, are
// read back by a strict reader; END_REQUEST, UNKNOWN_TYPE and the
// GET_VALUES_RESULT for every query seen likewise. A failed check traps.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz.h"
#include "proto/fastcgi/framer.h"
#include "proto/fastcgi/writer.h"

using namespace tsgi;
using namespace tsgi::fastcgi;

namespace {

struct Lim {
  ParamsLimits params;
  size_t store_cap;
  // The store grows with the stream, as the server's does (move_store),
  // each time to exactly the bytes it must hold, so that ASan sees a write
  // past it; otherwise it is store_cap bytes from the start.
  bool grow = false;
  uint32_t limit() const {
    return store_cap < params.max_bytes ? static_cast<uint32_t>(store_cap) : params.max_bytes;
  }
  uint32_t max_vars() const {
    return params.max_vars < cgi::kMaxVarsCap ? params.max_vars : cgi::kMaxVarsCap;
  }
};

// One logged event: pieces of one stream joined, params materialized.
struct Norm {
  char kind = 0;  // B begin, A abort, P params, p paramsError, I stdin, i stdinEnd,
                  // D data, d dataEnd, G getValues, U unknownType, E error, . incomplete
  uint16_t id = 0;
  uint16_t role = 0;
  uint8_t flags = 0;
  std::string data;  // stream bytes; getValues: the names as indexes
  std::vector<std::pair<std::string, std::string>> vars;
  uint64_t content_length = 0;
  bool has_content_length = false;
  Error error = Error::kNone;
  uint32_t detail = 0;
  uint64_t position = 0;

  bool operator==(const Norm& o) const {
    return kind == o.kind && id == o.id && role == o.role && flags == o.flags && data == o.data &&
           vars == o.vars && content_length == o.content_length &&
           has_content_length == o.has_content_length && error == o.error && detail == o.detail &&
           position == o.position;
  }
};

using Log = std::vector<Norm>;

void add_piece(Log& log, char kind, uint16_t id, const char* p, size_t n) {
  if (!log.empty() && log.back().kind == kind && log.back().id == id) {
    log.back().data.append(p, n);
    return;
  }
  Norm e;
  e.kind = kind;
  e.id = id;
  e.data.assign(p, n);
  log.push_back(e);
}

void add_simple(Log& log, char kind, uint16_t id) {
  Norm e;
  e.kind = kind;
  e.id = id;
  log.push_back(e);
}

// ---- the implementation under test, driven like a connection ---------------

struct ReqParams {
  std::unique_ptr<char[]> store;
  size_t size = 0;  // of store
  std::unique_ptr<Params> params = std::make_unique<Params>();
  ParamsParser parser;
  bool failed = false;
};

class Run {
 public:
  // `whole`: all the input, from which the records' starts are known, to
  // check the decoder's to_boundary() after every event.
  Run(const Lim& lim, const uint8_t* whole, size_t size) : lim_(lim) {
    for (uint64_t at = 0; at < size;) {
      starts_.push_back(at);
      if (at + kHeaderLen > size) break;  // a header cut short: its end is unknown
      at += kHeaderLen + ((uint64_t{whole[at + 4]} << 8) | whole[at + 5]) + whole[at + 6];
      ends_.push_back(at);
    }
  }

  TSGI_FUZZ_HARNESS bool feed(const char* in, size_t len) {
    size_t off = 0;
    for (;;) {
      const uint64_t before = dec_.position();
      Event ev;
      const size_t used = dec_.feed(in + off, len - off, &ev);
      CHECK(used <= len - off);
      CHECK(dec_.position() == before + used);
      if (ev.type == Ev::kAgain) CHECK(off + used == len);
      if (ev.len) {
        CHECK(ev.data >= in + off && ev.data + ev.len <= in + off + used);
        CHECK(ev.len <= kMaxContentLength);
      }
      off += used;
      if (ev.type != Ev::kError) check_boundary();
      if (ev.type == Ev::kAgain) return true;
      on_event(ev);
      if (ev.type == Ev::kError) {
        // Sticky: the same error again, nothing consumed.
        Event again;
        CHECK(dec_.feed(in + off, len - off, &again) == 0);
        CHECK(again.type == Ev::kError && again.error == ev.error && again.detail == ev.detail);
        return false;
      }
    }
  }

  // to_boundary(): 0 at a record's start, -1 inside its header, else the
  // bytes to the next record's start (whether or not they have come).
  void check_boundary() {
    const uint64_t pos = dec_.position();
    const int64_t to = dec_.to_boundary();
    auto next = std::upper_bound(starts_.begin(), starts_.end(), pos);
    if (next == starts_.begin()) {
      CHECK(pos == 0 && to == 0);  // empty input
      return;
    }
    const size_t k = static_cast<size_t>(next - starts_.begin()) - 1;
    if (pos == starts_[k] || (k < ends_.size() && pos == ends_[k])) {  // the last record's end ends the input
      CHECK(to == 0);  // (a stream record's last byte leaves the decoder at 0 padding until the next feed)
    } else if (pos - starts_[k] < kHeaderLen) {
      CHECK(to == -1);
    } else {
      // Its end, which may lie past what the input holds of it. Past its
      // header, the header is whole: its end is known.
      CHECK(k < ends_.size() && to > 0 && pos + static_cast<uint64_t>(to) == ends_[k]);
    }
  }

  Log finish() {
    if (!failed_ && !dec_.at_record_boundary()) {
      Norm e;
      e.kind = '.';
      e.position = dec_.position();
      log_.push_back(e);
    }
    return std::move(log_);
  }

 private:
  ReqParams& params_for(uint16_t id) {
    auto& slot = params_[id];
    if (!slot) {
      slot = std::make_unique<ReqParams>();
      slot->size = lim_.grow ? 0 : lim_.store_cap;
      slot->store.reset(new char[slot->size ? slot->size : 1]);
      slot->parser.reset(slot->store.get(), lim_.store_cap, lim_.params, slot->params.get());
    }
    return *slot;
  }

  void params_error(uint16_t id, const ParamsParser& p) {
    CHECK(p.error() != Error::kNone && error_text(p.error())[0]);
    CHECK(http_status(p.error()) == 400 || http_status(p.error()) == 431);
    Norm e;
    e.kind = 'p';
    e.id = id;
    e.error = p.error();
    e.detail = p.detail();
    log_.push_back(e);
  }

  void on_event(const Event& ev) {
    Norm e;
    switch (ev.type) {
      case Ev::kAgain: return;
      case Ev::kBeginRequest:
        CHECK(ev.record_type == kBeginRequest && ev.request_id != 0);
        params_.erase(ev.request_id);
        e.kind = 'B';
        e.id = ev.request_id;
        e.role = ev.role;
        e.flags = ev.flags;
        log_.push_back(e);
        return;
      case Ev::kAbortRequest:
        CHECK(ev.record_type == kAbortRequest && ev.request_id != 0);
        return add_simple(log_, 'A', ev.request_id);
      case Ev::kParams: {
        CHECK(ev.record_type == kParams && ev.request_id != 0 && ev.len > 0);
        ReqParams& rp = params_for(ev.request_id);
        if (rp.failed) return;
        const uint32_t before = rp.parser.stream_bytes();
        const size_t need = std::min<size_t>(rp.parser.stored() + ev.len, lim_.store_cap);
        if (lim_.grow && rp.size < need) {
          std::unique_ptr<char[]> moved(new char[need]);
          if (rp.size) std::memcpy(moved.get(), rp.store.get(), rp.size);
          rp.store = std::move(moved);
          rp.size = need;
          rp.parser.move_store(rp.store.get());
        }
        if (rp.parser.feed(ev.data, ev.len) == Result::kError) {
          rp.failed = true;
          params_error(ev.request_id, rp.parser);
        } else {
          CHECK(rp.parser.stream_bytes() == before + ev.len);
          CHECK(rp.parser.stored() <= rp.parser.stream_bytes());
          CHECK(rp.parser.stream_bytes() <= lim_.limit());
        }
        return;
      }
      case Ev::kParamsEnd: {
        CHECK(ev.record_type == kParams && ev.request_id != 0 && ev.len == 0);
        ReqParams& rp = params_for(ev.request_id);
        if (!rp.failed) {
          if (rp.parser.finish() != Result::kOk) {
            params_error(ev.request_id, rp.parser);
          } else {
            e.kind = 'P';
            e.id = ev.request_id;
            const cgi::VarTable& t = rp.params->vars;
            CHECK(t.count >= 1 && t.count <= lim_.max_vars());
            uint32_t end = 0;
            for (uint32_t k = 0; k < t.count; ++k) {
              const cgi::Var& v = t.vars[k];
              // Names and values lie back to back in the store.
              CHECK(v.name.off == end && v.value.off == v.name.off + v.name.len);
              end = v.value.off + v.value.len;
              e.vars.emplace_back(std::string(rp.store.get() + v.name.off, v.name.len),
                                  std::string(rp.store.get() + v.value.off, v.value.len));
            }
            CHECK(end == rp.parser.stored() && end <= rp.size);
            e.content_length = rp.params->content_length;
            e.has_content_length = rp.params->has_content_length;
            log_.push_back(e);
          }
        }
        params_.erase(ev.request_id);
        return;
      }
      case Ev::kStdin:
        CHECK(ev.record_type == kStdin && ev.len > 0);
        return add_piece(log_, 'I', ev.request_id, ev.data, ev.len);
      case Ev::kStdinEnd: return add_simple(log_, 'i', ev.request_id);
      case Ev::kData:
        CHECK(ev.record_type == kData && ev.len > 0);
        return add_piece(log_, 'D', ev.request_id, ev.data, ev.len);
      case Ev::kDataEnd: return add_simple(log_, 'd', ev.request_id);
      case Ev::kGetValues:
        CHECK(ev.record_type == kGetValues && ev.request_id == 0 && ev.query.count <= kGetValueCount);
        e.kind = 'G';
        for (uint8_t k = 0; k < ev.query.count; ++k) e.data += static_cast<char>(ev.query.names[k]);
        log_.push_back(e);
        return;
      case Ev::kUnknownType:
        CHECK(ev.request_id == 0 && (ev.record_type == 0 || ev.record_type > kMaxType));
        e.kind = 'U';
        e.role = ev.record_type;
        log_.push_back(e);
        return;
      case Ev::kError:
        CHECK(ev.error != Error::kNone && error_text(ev.error)[0] && http_status(ev.error) == 0);
        failed_ = true;
        e.kind = 'E';
        e.error = ev.error;
        e.detail = ev.detail;
        e.position = dec_.position();
        log_.push_back(e);
        return;
    }
  }

  Lim lim_;
  std::vector<uint64_t> starts_, ends_;  // each record's, from the whole input
  Decoder dec_;
  std::map<uint16_t, std::unique_ptr<ReqParams>> params_;
  Log log_;
  bool failed_ = false;
};

TSGI_FUZZ_HARNESS Log run_cuts(const uint8_t* d, size_t size, const Lim& lim, const std::vector<size_t>& cuts) {
  Run run(lim, d, size);
  size_t from = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t to = k < cuts.size() ? cuts[k] : size;
    auto piece = fuzz::copy(d + from, to - from);
    if (!run.feed(piece.get(), to - from)) break;
    from = to;
  }
  return run.finish();
}

// ---- the naive second implementation ---------------------------------------

enum class Ref { kOk, kPending, kError };

// A length at c[*off, avail): kOk and advances, kPending when its bytes are
// not all there. `end` bounds what it may use.
TSGI_FUZZ_HARNESS Ref ref_length(const uint8_t* c, size_t avail, size_t* off, uint32_t* out) {
  if (*off >= avail) return Ref::kPending;
  if (c[*off] < 0x80) {
    *out = c[(*off)++];
    return Ref::kOk;
  }
  if (avail - *off < 4) return Ref::kPending;
  *out = (uint32_t{c[*off] & 0x7fu} << 24) | (uint32_t{c[*off + 1]} << 16) |
         (uint32_t{c[*off + 2]} << 8) | c[*off + 3];
  *off += 4;
  return Ref::kOk;
}

struct RefParams {
  Ref state = Ref::kPending;
  Error err = Error::kNone;
  uint32_t detail = 0;
  Norm out;
};

// The PARAMS stream s, all of it so far; `ended` once its empty record came.
TSGI_FUZZ_HARNESS RefParams ref_params(const std::string& s, bool ended, const Lim& lim) {
  RefParams r;
  const auto* c = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  const size_t limit = lim.limit();
  auto fail = [&](Error e, uint32_t d) {
    r.state = Ref::kError;
    r.err = e;
    r.detail = d;
    return r;
  };
  bool have_cl = false;
  size_t pos = 0;
  while (pos < n) {
    const uint32_t pair = static_cast<uint32_t>(pos);
    if (r.out.vars.size() >= lim.max_vars()) return fail(Error::kTooManyVars, lim.max_vars());
    uint32_t lens[2];
    for (int k = 0; k < 2; ++k) {
      // Each length byte must be inside the limit as it arrives.
      const size_t width = pos < n && c[pos] >= 0x80 ? 4 : 1;
      for (size_t b = 0; b < width; ++b)
        if (pos + b < n && pos + b >= limit) return fail(Error::kParamsTooLarge, uint32_t(limit));
      if (ref_length(c, n, &pos, &lens[k]) != Ref::kOk)
        return ended ? fail(Error::kBadParams, pair) : r;
    }
    if (lens[0] == 0) return fail(Error::kBadParams, pair);
    if (uint64_t{pos} + lens[0] + lens[1] > limit) return fail(Error::kParamsTooLarge, uint32_t(limit));
    const size_t name_have = n - pos < lens[0] ? n - pos : lens[0];
    for (size_t k = 0; k < name_have; ++k)
      if (c[pos + k] < 0x21 || c[pos + k] > 0x7e) return fail(Error::kBadParams, pair);
    if (name_have < lens[0]) return ended ? fail(Error::kBadParams, pair) : r;
    const std::string name = s.substr(pos, lens[0]);
    pos += lens[0];
    const size_t value_have = n - pos < lens[1] ? n - pos : lens[1];
    if (value_have && std::memchr(c + pos, 0, value_have)) return fail(Error::kBadParams, pair);
    if (value_have < lens[1]) return ended ? fail(Error::kBadParams, pair) : r;
    const std::string value = s.substr(pos, lens[1]);
    pos += lens[1];
    if (name == "CONTENT_LENGTH") {
      uint64_t v = 0;
      bool digits = value.size() <= 19;
      for (char ch : value) {
        digits = digits && ch >= '0' && ch <= '9';
        v = v * 10 + static_cast<uint64_t>(ch - '0');
      }
      const bool has = !value.empty();
      if (!digits || (have_cl && (has != r.out.has_content_length || v != r.out.content_length)))
        return fail(Error::kBadContentLength, pair);
      r.out.content_length = v;
      r.out.has_content_length = has;
      have_cl = true;
    }
    r.out.vars.emplace_back(name, value);
  }
  if (!ended) return r;
  if (r.out.vars.empty()) return fail(Error::kEmptyParams, 0);
  r.state = Ref::kOk;
  return r;
}

const char* const kKnownNames[] = {kMaxConnsName, kMaxReqsName, kMpxsConnsName};

// GET_VALUES content c[0, avail) of a record of clen bytes starting at
// stream offset base. kError sets *pos (stream offset) and *detail.
TSGI_FUZZ_HARNESS Ref ref_get_values(const uint8_t* c, size_t avail, size_t clen, std::string* names,
                   uint64_t base, uint64_t* pos, uint32_t* detail) {
  size_t off = 0;
  while (off < clen) {
    if (off >= avail) return Ref::kPending;
    const size_t pair = off;
    uint32_t nl = 0, vl = 0;
    // A length cut by the record's end is an error once the end is there.
    for (uint32_t* l : {&nl, &vl}) {
      const size_t width = c[off] >= 0x80 ? 4 : 1;
      if (off + width > clen) {
        if (avail < clen) return Ref::kPending;
        *pos = base + clen;
        *detail = uint32_t(pair);
        return Ref::kError;
      }
      if (ref_length(c, avail, &off, l) != Ref::kOk) return Ref::kPending;
      if (l == &nl && off >= clen) {  // nothing left for the value length
        if (avail < clen) return Ref::kPending;
        *pos = base + clen;
        *detail = uint32_t(pair);
        return Ref::kError;
      }
      if (l == &nl && off >= avail) return Ref::kPending;
    }
    if (vl != 0 || nl == 0 || nl > clen - off) {
      *pos = base + off;
      *detail = uint32_t(pair);
      return Ref::kError;
    }
    if (off + nl > avail) return Ref::kPending;
    for (uint8_t k = 0; k < kGetValueCount; ++k)
      if (std::strlen(kKnownNames[k]) == nl && std::memcmp(kKnownNames[k], c + off, nl) == 0 &&
          names->find(char(k)) == std::string::npos)
        *names += char(k);
    off += nl;
  }
  return Ref::kOk;
}

TSGI_FUZZ_HARNESS Log ref_decode(const uint8_t* d, size_t size, const Lim& lim) {
  Log log;
  std::map<uint16_t, std::pair<std::string, bool>> params;  // stream so far, failed
  auto error = [&](Error e, uint32_t detail, uint64_t pos) {
    Norm n;
    n.kind = 'E';
    n.error = e;
    n.detail = detail;
    n.position = pos;
    log.push_back(n);
    return log;
  };
  auto params_error = [&](uint16_t id, const RefParams& r) {
    Norm n;
    n.kind = 'p';
    n.id = id;
    n.error = r.err;
    n.detail = r.detail;
    log.push_back(n);
  };
  size_t pos = 0;
  for (;;) {
    if (pos == size) return log;
    if (d[pos] != 1) {
      const bool http = pos == 0 && d[pos] >= 'A' && d[pos] <= 'Z';
      return error(http ? Error::kLooksLikeHttp : Error::kBadVersion, d[pos], pos);
    }
    if (size - pos < 8) break;
    const uint8_t t = d[pos + 1];
    const uint16_t id = uint16_t(d[pos + 2] << 8 | d[pos + 3]);
    const size_t clen = size_t(d[pos + 4]) << 8 | d[pos + 5];
    const size_t pad = d[pos + 6];
    pos += 8;
    const bool app_type = t == 3 || t == 6 || t == 7 || t == 10 || t == 11;
    const bool req_type = t == 1 || t == 2 || t == 4 || t == 5 || t == 8;
    if (app_type) return error(Error::kUnexpectedType, t, pos);
    if (id == 0 && req_type) return error(Error::kBadRequestId, t, pos);
    if (id != 0 && t == 9) return error(Error::kBadRequestId, t, pos);
    if (id != 0 && !req_type) return error(Error::kUnknownType, t, pos);
    if (id != 0 && t == 1 && clen != 8) return error(Error::kBadBeginRequest, uint32_t(clen), pos);
    if (id != 0 && t == 2 && clen != 0) return error(Error::kBadAbortRequest, uint32_t(clen), pos);
    const size_t avail = size - pos < clen ? size - pos : clen;
    const uint8_t* c = d + pos;
    std::string names;
    if (t == 9) {
      uint64_t epos = 0;
      uint32_t detail = 0;
      if (ref_get_values(c, avail, clen, &names, pos, &epos, &detail) == Ref::kError)
        return error(Error::kBadGetValues, detail, epos);
    }
    if ((t == 5 || t == 8) && avail) add_piece(log, t == 5 ? 'I' : 'D', id, reinterpret_cast<const char*>(c), avail);
    if (t == 4 && avail) {
      auto& st = params[id];
      if (!st.second) {
        st.first.append(reinterpret_cast<const char*>(c), avail);
        const RefParams r = ref_params(st.first, false, lim);
        if (r.state == Ref::kError) {
          st.second = true;
          params_error(id, r);
        }
      }
    }
    if (size - pos < clen + pad) break;
    pos += clen + pad;
    Norm n;
    n.id = id;
    switch (t) {
      case 1:
        params.erase(id);
        n.kind = 'B';
        n.role = uint16_t(c[0] << 8 | c[1]);
        n.flags = c[2];
        log.push_back(n);
        break;
      case 2: add_simple(log, 'A', id); break;
      case 4:
        if (clen) break;
        {
          auto& st = params[id];
          if (!st.second) {
            const RefParams r = ref_params(st.first, true, lim);
            if (r.state == Ref::kError) {
              params_error(id, r);
            } else {
              Norm p = r.out;
              p.kind = 'P';
              p.id = id;
              log.push_back(p);
            }
          }
          params.erase(id);
        }
        break;
      case 5: if (!clen) add_simple(log, 'i', id); break;
      case 8: if (!clen) add_simple(log, 'd', id); break;
      case 9:
        n.kind = 'G';
        n.data = names;
        log.push_back(n);
        break;
      default:
        n.kind = 'U';
        n.id = 0;
        n.role = t;
        log.push_back(n);
        break;
    }
  }
  Norm n;
  n.kind = '.';
  n.position = size;
  log.push_back(n);
  return log;
}

// ---- the writer --------------------------------------------------------------

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// Reads back what plan_stream/write_stream made for data.
TSGI_FUZZ_HARNESS void check_stream(const std::string& out, uint8_t type, uint16_t id, const uint8_t* data,
                  size_t len, bool pad) {
  const auto* o = reinterpret_cast<const uint8_t*>(out.data());
  size_t pos = 0, got = 0, records = 0;
  while (pos < out.size()) {
    CHECK(out.size() - pos >= 8);
    CHECK(o[pos] == 1 && o[pos + 1] == type && be16(o + pos + 2) == id && o[pos + 7] == 0);
    const size_t clen = be16(o + pos + 4), padding = o[pos + 6];
    CHECK(clen >= 1 && padding == padding_for(clen, pad));
    CHECK(out.size() - pos >= 8 + clen + padding);
    CHECK(std::memcmp(o + pos + 8, data + got, clen) == 0);
    for (size_t k = 0; k < padding; ++k) CHECK(o[pos + 8 + clen + k] == 0);
    if (pad) CHECK((8 + clen + padding) % 8 == 0);
    got += clen;
    pos += 8 + clen + padding;
    ++records;
  }
  CHECK(got == len && records == stream_record_count(len, pad));
}

TSGI_FUZZ_HARNESS void check_writer(const uint8_t* d, size_t size, uint32_t h, const std::vector<Log>& logs) {
  // A body from the input, repeated up to past one record when the hash says.
  std::string body(reinterpret_cast<const char*>(d), size);
  if ((h & 15) == 0 && size) while (body.size() < 70000) body += body;
  const bool pad = h >> 2 & 1;
  const uint16_t id = uint16_t(h >> 3);
  const uint8_t type = (h >> 19 & 1) ? kStderr : kStdout;
  StreamRecord recs[3];
  const size_t cap = 1 + (h >> 20) % 3;
  std::string planned;
  size_t off = 0;
  while (off < body.size()) {
    size_t used = 0;
    const size_t n = plan_stream(type, id, body.data() + off, body.size() - off, pad, recs, cap, &used);
    CHECK(n >= 1 && n <= cap && used > 0 && used <= body.size() - off);
    for (size_t k = 0; k < n; ++k) {
      CHECK(recs[k].len >= 1 && recs[k].len <= kMaxContentLength);
      planned.append(recs[k].header, kHeaderLen);
      planned.append(recs[k].data, recs[k].len);
      planned.append(kPaddingBytes, recs[k].padding);
    }
    off += used;
  }
  std::string copied(stream_size(body.size(), pad), '\0');
  CHECK(write_stream(&copied[0], type, id, body.data(), body.size(), pad) == copied.size());
  CHECK(copied == planned);
  check_stream(copied, type, id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), pad);

  char rec[kGetValuesResultMax];
  CHECK(write_stream_end(rec, type, id) == 8);
  CHECK(rec[0] == 1 && uint8_t(rec[1]) == type && be16(reinterpret_cast<uint8_t*>(rec) + 4) == 0);
  const uint32_t app = h * 2654435761u;
  CHECK(write_end_request(rec, id, app, uint8_t(h >> 24)) == 16);
  const auto* r = reinterpret_cast<const uint8_t*>(rec);
  CHECK(r[1] == kEndRequest && be16(r + 2) == id && be16(r + 4) == 8 && r[6] == 0);
  CHECK((uint32_t(r[8]) << 24 | uint32_t(r[9]) << 16 | uint32_t(r[10]) << 8 | r[11]) == app);
  CHECK(r[12] == uint8_t(h >> 24) && r[13] == 0 && r[14] == 0 && r[15] == 0);
  CHECK(write_unknown_type(rec, uint8_t(h)) == 16);
  CHECK(r[1] == kUnknownType && be16(r + 2) == 0 && be16(r + 4) == 8 && r[8] == uint8_t(h));

  // Every query answered: its names, in order, with the values.
  ServerValues values;
  values.max_conns = h;
  values.max_reqs = h >> 7;
  values.mpxs_conns = h & 1;
  for (const Log& log : logs)
    for (const Norm& e : log) {
      if (e.kind != 'G') continue;
      GetValuesQuery q;
      for (char k : e.data) q.names[q.count++] = GetValue(k);
      const size_t n = write_get_values_result(rec, q, values, pad);
      CHECK(n <= kGetValuesResultMax && n >= 8);
      CHECK(r[0] == 1 && r[1] == kGetValuesResult && be16(r + 2) == 0 && r[7] == 0);
      const size_t clen = be16(r + 4);
      CHECK(n == 8 + clen + r[6] && r[6] == padding_for(clen, pad));
      std::string want;
      for (char k : e.data) {
        const uint32_t v = k == 0 ? values.max_conns : k == 1 ? values.max_reqs : values.mpxs_conns;
        const std::string digits = std::to_string(v);
        want += char(std::strlen(kKnownNames[int(k)]));
        want += char(digits.size());
        want += kKnownNames[int(k)];
        want += digits;
      }
      CHECK(std::string(rec + 8, clen) == want);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint32_t h = fuzz::hash(data, size);
  Lim lims[3];
  lims[0].store_cap = lims[0].params.max_bytes;
  lims[0].grow = true;
  lims[1].params.max_bytes = 64;
  lims[1].params.max_vars = 4;
  lims[1].store_cap = 64;
  lims[2].params.max_vars = (h >> 8) % 8;
  lims[2].store_cap = (h >> 16) % 300;  // the store, not max_bytes, is the limit here
  std::vector<Log> logs;
  // Every limit set: whole, and in pieces of 1 to 61 bytes (at most about
  // 512 of them). One set chosen by the hash: also at one cut, and byte by
  // byte when short. Cutting every input every way under all three sets made
  // this the slowest target by far (0.6 ms an input against uwsgi's 0.13).
  const size_t chosen = h % 3;
  for (size_t k = 0; k < 3; ++k) {
    const Lim& lim = lims[k];
    const Log whole = run_cuts(data, size, lim, {});
    CHECK(whole == ref_decode(data, size, lim));
    const size_t piece = std::max<size_t>(1 + h % 61, size / 512);
    std::vector<size_t> cuts;
    for (size_t at = piece; at < size; at += piece) cuts.push_back(at);
    CHECK(run_cuts(data, size, lim, cuts) == whole);
    if (k == chosen && size > 1) CHECK(run_cuts(data, size, lim, {1 + (h >> 4) % (size - 1)}) == whole);
    if (k == chosen && size <= fuzz::kByteByByteMax) {
      cuts.clear();
      for (size_t at = 1; at < size; ++at) cuts.push_back(at);
      CHECK(run_cuts(data, size, lim, cuts) == whole);
    }
    logs.push_back(whole);
  }
  check_writer(data, size, h, logs);
  return 0;
}
