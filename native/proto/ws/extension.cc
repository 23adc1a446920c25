// permessage-deflate negotiation; see extension.h. Sections are RFC 7692's
// unless named otherwise.
#include "proto/ws/extension.h"

#include <cstring>

namespace tsgi::ws {
namespace {

// RFC 7230 3.2.6: tchar.
bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

struct View {
  const char* p = nullptr;
  size_t n = 0;
  bool is(const char* s) const { return n == std::strlen(s) && std::memcmp(p, s, n) == 0; }
};

// A parameter's value after unescaping; only short ones matter here.
struct Value {
  char text[8];
  size_t n = 0;
  bool too_long = false;
};

// One field value, read left to right. Every method returns false on a
// grammar error (RFC 6455 9.1 with RFC 7230 7's list rule).
class Cursor {
 public:
  explicit Cursor(const HeaderValue& v) : p_(v.data), n_(v.len) {}
  bool done() const { return i_ == n_; }
  char peek() const { return i_ < n_ ? p_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || done()) return false;
    ++i_;
    return true;
  }
  void ows() {
    while (!done() && (p_[i_] == ' ' || p_[i_] == '\t')) ++i_;
  }
  bool token(View* out) {
    const size_t start = i_;
    while (!done() && is_tchar(static_cast<unsigned char>(p_[i_]))) ++i_;
    *out = View{p_ + start, i_ - start};
    return i_ > start;
  }
  // token / quoted-string; 9.1: a quoted value must be a token once unescaped.
  bool value(Value* v) {
    if (!eat('"')) {
      View t;
      if (!token(&t)) return false;
      keep(v, t.p, t.n);
      return true;
    }
    size_t count = 0;
    for (;;) {
      if (done()) return false;
      char c = p_[i_++];
      if (c == '"') break;
      if (c == '\\') {
        if (done()) return false;
        c = p_[i_++];
      }
      if (!is_tchar(static_cast<unsigned char>(c))) return false;
      keep(v, &c, 1);
      ++count;
    }
    return count > 0;
  }

 private:
  static void keep(Value* v, const char* s, size_t len) {
    for (size_t k = 0; k < len; ++k) {
      if (v->n == sizeof v->text) {
        v->too_long = true;
        return;
      }
      v->text[v->n++] = s[k];
    }
  }

  const char* p_;
  size_t n_;
  size_t i_ = 0;
};

// A permessage-deflate offer's parameters (7.1).
struct Offer {
  bool bad = false;
  bool server_no_context_takeover = false, client_no_context_takeover = false;
  bool server_bits_given = false, client_bits_given = false;
  uint8_t server_bits = 0, client_bits = 0;  // 0: no value
};

// 7.1.2.1, 7.1.2.2: "a decimal integer value without leading zeroes between
// 8 to 15, inclusive"; 0 if not.
uint8_t window_bits(const Value& v) {
  if (v.too_long) return 0;
  if (v.n == 1 && (v.text[0] == '8' || v.text[0] == '9')) return uint8_t(v.text[0] - '0');
  if (v.n == 2 && v.text[0] == '1' && v.text[1] >= '0' && v.text[1] <= '5') return uint8_t(10 + v.text[1] - '0');
  return 0;
}

// 7.1: an unknown parameter, a repeated one or an invalid value declines
// the offer.
void apply(Offer* o, const View& name, bool has_value, const Value& v) {
  auto once = [o](bool* seen) {
    if (*seen) o->bad = true;
    *seen = true;
  };
  if (name.is("server_no_context_takeover")) {
    once(&o->server_no_context_takeover);
    if (has_value) o->bad = true;  // 7.1.1.1: no value
  } else if (name.is("client_no_context_takeover")) {
    once(&o->client_no_context_takeover);
    if (has_value) o->bad = true;  // 7.1.1.2: no value
  } else if (name.is("server_max_window_bits")) {
    once(&o->server_bits_given);
    o->server_bits = has_value ? window_bits(v) : 0;
    if (o->server_bits == 0) o->bad = true;  // 7.1.2.1: the value is required
  } else if (name.is("client_max_window_bits")) {
    once(&o->client_bits_given);
    o->client_bits = has_value ? window_bits(v) : 0;
    if (has_value && o->client_bits == 0) o->bad = true;  // 7.1.2.2: the value is optional
  } else {
    o->bad = true;
  }
}

uint8_t min8(uint8_t a, uint8_t b) { return a < b ? a : b; }

class Writer {
 public:
  explicit Writer(char* out) : out_(out) {}
  void put(const char* s) {
    const size_t n = std::strlen(s);
    std::memcpy(out_ + len_, s, n);
    len_ += n;
  }
  void bits(const char* name, uint8_t b) {
    put(name);
    char num[3] = {b >= 10 ? '1' : char('0' + b), b >= 10 ? char('0' + b - 10) : '\0', '\0'};
    put(num);
  }
  size_t len() const { return len_; }

 private:
  char* out_;
  size_t len_ = 0;
};

// The agreement for an offer, or false when the config cannot accept it.
bool accept(const Offer& o, const DeflateConfig& c, DeflateAgreement* a, char* out, size_t* out_len) {
  if (o.bad) return false;
  // 7.1.2.2: without client_max_window_bits in the offer the response must
  // not carry it, so the client may use 32 KiB: refused when the config
  // bounds the inflater below that.
  if (!o.client_bits_given && c.client_max_window_bits < 15) return false;
  a->server_no_context_takeover = o.server_no_context_takeover || c.server_no_context_takeover;
  // 7.1.1.2: offered, it is the client's word that it will not take over.
  a->client_no_context_takeover = o.client_no_context_takeover || c.client_no_context_takeover;
  a->server_max_window_bits = o.server_bits_given ? min8(c.server_max_window_bits, o.server_bits)
                                                  : c.server_max_window_bits;
  a->client_max_window_bits = 15;
  if (o.client_bits_given)
    a->client_max_window_bits = o.client_bits ? min8(c.client_max_window_bits, o.client_bits)
                                              : c.client_max_window_bits;
  a->mem_level = c.mem_level;
  Writer w(out);
  w.put("permessage-deflate");
  if (a->server_no_context_takeover) w.put("; server_no_context_takeover");
  if (a->client_no_context_takeover) w.put("; client_no_context_takeover");
  // 7.1.2.1: an offered limit is accepted by answering it (or less). Not
  // offered, a smaller window needs no word: any inflater reads it.
  if (o.server_bits_given) w.bits("; server_max_window_bits=", a->server_max_window_bits);
  // 7.1.2.2: only in answer to the parameter; 15 is what it means unsaid.
  if (o.client_bits_given && (a->client_max_window_bits < 15 || o.client_bits != 0))
    w.bits("; client_max_window_bits=", a->client_max_window_bits);
  *out_len = w.len();
  return true;
}

}  // namespace

const char* negotiation_name(Negotiation n) {
  switch (n) {
    case Negotiation::kAccepted: return "accepted";
    case Negotiation::kNoOffer: return "noOffer";
    case Negotiation::kDeclined: return "declined";
    case Negotiation::kMalformed: return "malformed";
    case Negotiation::kBadConfig: return "badConfig";
  }
  return "?";
}

bool config_valid(const DeflateConfig& c) {
  auto bits_ok = [](uint8_t b) { return b >= 8 && b <= 15; };
  return bits_ok(c.server_max_window_bits) && bits_ok(c.client_max_window_bits) && c.mem_level >= 1 &&
         c.mem_level <= 9;
}

// RFC 6455 9.1: extension-list = 1#extension; extension = extension-token
// *( ";" extension-param ); extension-param = token [ "=" (token |
// quoted-string) ]. RFC 7230 7: empty list elements are accepted.
NegotiationResult negotiate(const HeaderValue* values, size_t count, const DeflateConfig& config,
                            char out[kMaxExtensionResponse]) {
  NegotiationResult r;
  if (!config_valid(config)) {
    r.outcome = Negotiation::kBadConfig;
    return r;
  }
  bool offered = false, accepted = false;
  for (size_t k = 0; k < count; ++k) {
    Cursor cur(values[k]);
    for (;;) {
      cur.ows();
      if (cur.eat(',')) continue;
      if (cur.done()) break;
      View name;
      if (!cur.token(&name)) return NegotiationResult{Negotiation::kMalformed, {}, 0};
      const bool ours = name.is("permessage-deflate");
      Offer offer;
      for (;;) {
        cur.ows();
        if (!cur.eat(';')) break;
        cur.ows();
        View pname;
        if (!cur.token(&pname)) return NegotiationResult{Negotiation::kMalformed, {}, 0};
        cur.ows();
        Value v;
        const bool has_value = cur.eat('=');
        if (has_value) {
          cur.ows();
          if (!cur.value(&v)) return NegotiationResult{Negotiation::kMalformed, {}, 0};
        }
        if (ours) apply(&offer, pname, has_value, v);
      }
      if (!cur.done() && !cur.eat(',')) return NegotiationResult{Negotiation::kMalformed, {}, 0};
      if (!ours || !config.enabled) continue;
      offered = true;
      // 7.1: "the first acceptable offer", in the order the client listed them.
      if (!accepted) accepted = accept(offer, config, &r.agreed, out, &r.response_len);
    }
  }
  r.outcome = accepted ? Negotiation::kAccepted : offered ? Negotiation::kDeclined : Negotiation::kNoOffer;
  if (!accepted) {
    r.agreed = DeflateAgreement();
    r.response_len = 0;
  }
  return r;
}

}  // namespace tsgi::ws
