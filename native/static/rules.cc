#include "static/rules.h"

#include <cstring>

namespace tsgi::files {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool same_nocase(const char* a, size_t n, const char* b) {
  if (std::strlen(b) != n) return false;
  for (size_t i = 0; i < n; i++) {
    if (lower(a[i]) != b[i]) return false;
  }
  return true;
}

}  // namespace

const char* path_error_text(PathError e) {
  switch (e) {
    case PathError::kNone: return "ok";
    case PathError::kNotAbsolute: return "the path does not start with '/'";
    case PathError::kBadEscape: return "a '%' escape is not two hex digits";
    case PathError::kNul: return "the path holds a NUL byte";
    case PathError::kBackslash: return "the path holds a backslash";
    case PathError::kAboveRoot: return "a '..' segment leaves the root";
  }
  return "?";
}

// ---- paths -----------------------------------------------------------------

PathError clean_path(const char* p, size_t n, bool decode, CleanPath* out) {
  std::string& s = out->path;
  s.clear();
  out->trailing_slash = false;
  out->hidden = false;
  if (n == 0 || p[0] != '/') return PathError::kNotAbsolute;
  s.reserve(n);
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '%' && decode) {
      int hi = i + 2 < n ? hex_value(p[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value(p[i + 2]) : -1;
      if (lo < 0) return PathError::kBadEscape;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return PathError::kNul;
    if (c == '\\') return PathError::kBackslash;
    s.push_back(c);
  }
  // RFC 3986 5.2.4 on the decoded path, in place: the write position never
  // passes the read position, since segments are only dropped.
  size_t w = 0;  // s[0, w) is the result so far, without a trailing '/'
  size_t r = 0;
  bool last_names_dir = false;
  while (r < s.size()) {
    size_t start = r + 1;  // s[r] is '/'
    size_t end = start;
    while (end < s.size() && s[end] != '/') end++;
    size_t len = end - start;
    if (len == 0 || (len == 1 && s[start] == '.')) {
      last_names_dir = true;
    } else if (len == 2 && s[start] == '.' && s[start + 1] == '.') {
      if (w == 0) return PathError::kAboveRoot;
      while (w > 0 && s[w - 1] != '/') w--;
      w--;  // the '/' before the dropped segment
      last_names_dir = true;
    } else {
      s[w++] = '/';
      std::memmove(&s[w], &s[start], len);
      w += len;
      last_names_dir = false;
    }
    r = end;
  }
  s.resize(w);
  if (s.empty()) {
    s = "/";
    last_names_dir = true;
  }
  out->trailing_slash = last_names_dir;
  out->hidden = s.find("/.") != std::string::npos;
  return PathError::kNone;
}

// ---- validators ------------------------------------------------------------

size_t format_etag(char* out, uint64_t ino, uint64_t size, int64_t mtime_ns) {
  static const char kHex[] = "0123456789abcdef";
  char* p = out;
  auto hex = [&](uint64_t v) {
    char tmp[16];
    int k = 0;
    do {
      tmp[k++] = kHex[v & 15];
      v >>= 4;
    } while (v);
    while (k) *p++ = tmp[--k];
  };
  *p++ = '"';
  hex(ino);
  *p++ = '-';
  hex(size);
  *p++ = '-';
  hex(static_cast<uint64_t>(mtime_ns));
  *p++ = '"';
  return static_cast<size_t>(p - out);
}

namespace {

const char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char kDays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};  // 1970-01-01 was a Thursday

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12): count
// whole 400-year eras from year 0, shifted so the year starts in March and
// the leap day is the era-year's last.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned kLen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kLen[m - 1];
}

// A reader over a date's bytes; each step fails once and stays failed.
struct Scan {
  const char* p;
  size_t n;
  size_t i = 0;
  bool ok = true;
  bool lit(char c) {
    ok = ok && i < n && p[i] == c;
    i += ok;
    return ok;
  }
  unsigned digits(size_t count) {
    unsigned v = 0;
    for (size_t k = 0; k < count && ok; k++) {
      ok = i < n && p[i] >= '0' && p[i] <= '9';
      if (ok) v = v * 10 + static_cast<unsigned>(p[i++] - '0');
    }
    return v;
  }
  unsigned month() {
    for (unsigned k = 0; ok && k < 12; k++) {
      if (i + 3 <= n && std::memcmp(p + i, kMonths[k], 3) == 0) {
        i += 3;
        return k + 1;
      }
    }
    ok = false;
    return 0;
  }
  void letters() {  // a day name; which one it is does not change the date
    size_t start = i;
    while (i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z'))) i++;
    ok = ok && i - start >= 3;
  }
  void time(unsigned* h, unsigned* mi, unsigned* s) {
    *h = digits(2);
    lit(':');
    *mi = digits(2);
    lit(':');
    *s = digits(2);
  }
};

}  // namespace

bool parse_http_date(const char* p, size_t n, int64_t* out) {
  Scan sc{p, n};
  sc.letters();
  int64_t year = 0;
  unsigned mon = 0, day = 0, h = 0, mi = 0, s = 0;
  if (sc.ok && sc.i < n && p[sc.i] == ',') {
    sc.lit(',');
    sc.lit(' ');
    day = sc.digits(2);
    if (sc.ok && sc.i < n && p[sc.i] == '-') {
      // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year more
      // than 50 years ahead is in the past century (RFC 9110 5.6.7).
      sc.lit('-');
      mon = sc.month();
      sc.lit('-');
      year = sc.digits(2);
      year += year < 70 ? 2000 : 1900;
    } else {
      // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
      sc.lit(' ');
      mon = sc.month();
      sc.lit(' ');
      year = sc.digits(4);
    }
    sc.lit(' ');
    sc.time(&h, &mi, &s);
    sc.lit(' ');
    sc.lit('G');
    sc.lit('M');
    sc.lit('T');
  } else {
    // asctime: "Sun Nov  6 08:49:37 1994"
    sc.lit(' ');
    mon = sc.month();
    sc.lit(' ');
    if (sc.ok && sc.i < n && p[sc.i] == ' ') {
      sc.lit(' ');
      day = sc.digits(1);
    } else {
      day = sc.digits(2);
    }
    sc.lit(' ');
    sc.time(&h, &mi, &s);
    sc.lit(' ');
    year = sc.digits(4);
  }
  if (!sc.ok || sc.i != n) return false;
  if (mon < 1 || day < 1 || day > days_in_month(year, mon) || h > 23 || mi > 59 || s > 60) return false;
  *out = days_from_civil(year, mon, day) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

void format_http_date(int64_t t, char out[kHttpDateLen]) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t rem = t - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
  int64_t wd = days % 7;
  if (wd < 0) wd += 7;
  auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out, kDays[wd], 3);
  std::memcpy(out + 3, ", ", 2);
  two(out + 5, d);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths[m - 1], 3);
  out[11] = ' ';
  two(out + 12, static_cast<unsigned>(y / 100));
  two(out + 14, static_cast<unsigned>(y % 100));
  out[16] = ' ';
  two(out + 17, static_cast<unsigned>(rem / 3600));
  out[19] = ':';
  two(out + 20, static_cast<unsigned>(rem / 60 % 60));
  out[22] = ':';
  two(out + 23, static_cast<unsigned>(rem % 60));
  std::memcpy(out + 25, " GMT", 4);
}

bool etag_matches(Text list, const char* etag, size_t etag_len, bool strong) {
  const char* p = list.p;
  size_t n = list.n, i = 0;
  while (i < n) {
    while (i < n && (is_ows(p[i]) || p[i] == ',')) i++;
    if (i == n) break;
    if (p[i] == '*') {
      // "*": any current representation (RFC 9110 13.1.1, 13.1.2).
      size_t k = i + 1;
      while (k < n && is_ows(p[k])) k++;
      if (k == n || p[k] == ',') return true;
    }
    bool weak = false;
    if (i + 1 < n && p[i] == 'W' && p[i + 1] == '/') {
      weak = true;
      i += 2;
    }
    if (i < n && p[i] == '"') {
      size_t close = i + 1;
      while (close < n && p[close] != '"') close++;
      if (close < n) {
        size_t len = close + 1 - i;
        if (len == etag_len && std::memcmp(p + i, etag, len) == 0 && !(strong && weak)) return true;
        i = close + 1;
        continue;
      }
    }
    while (i < n && p[i] != ',') i++;  // not an entity-tag: skip the element
  }
  return false;
}

int evaluate_preconditions(const Preconditions& pre, const Validator& v) {
  int64_t t = 0;
  // 13.2.2 steps 1-2: the client's precondition on the current file.
  if (pre.if_match.present()) {
    if (!etag_matches(pre.if_match, v.etag, v.etag_len, true)) return 412;
  } else if (pre.if_unmodified_since.present() &&
             parse_http_date(pre.if_unmodified_since.p, pre.if_unmodified_since.n, &t)) {
    if (v.mtime > t) return 412;  // 13.1.4: changed since that date
  }
  // Steps 3-4: the client's copy is current. An invalid date is ignored (13.1.3).
  if (pre.if_none_match.present()) {
    if (etag_matches(pre.if_none_match, v.etag, v.etag_len, false)) return 304;
  } else if (pre.if_modified_since.present() &&
             parse_http_date(pre.if_modified_since.p, pre.if_modified_since.n, &t)) {
    if (v.mtime <= t) return 304;
  }
  return 0;
}

bool if_range_holds(Text if_range, const Validator& v) {
  if (!if_range.present()) return true;
  const char* p = if_range.p;
  size_t n = if_range.n;
  while (n > 0 && is_ows(p[n - 1])) n--;
  while (n > 0 && is_ows(*p)) p++, n--;
  if (n > 0 && (p[0] == '"' || p[0] == 'W')) {
    // 13.1.5: a strong comparison; a weak tag never matches.
    return n == v.etag_len && std::memcmp(p, v.etag, n) == 0;
  }
  int64_t t = 0;
  return parse_http_date(p, n, &t) && t == v.mtime;
}

// ---- ranges ----------------------------------------------------------------

namespace {

// Digits as a saturating number: a position past 2^64 is past any file.
bool read_number(const char* p, size_t n, size_t* i, uint64_t* out) {
  size_t start = *i;
  uint64_t v = 0;
  while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
    unsigned d = static_cast<unsigned>(p[*i] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    (*i)++;
  }
  *out = v;
  return *i > start;
}

}  // namespace

RangeResult parse_range(Text value, uint64_t size, ByteRange* ranges, size_t* count) {
  *count = 0;
  const char* p = value.p;
  size_t n = value.n;
  // 14.1: range-unit "=" range-set; units are case-insensitive.
  if (!p || n < 6 || !same_nocase(p, 5, "bytes") || p[5] != '=') return RangeResult::kIgnore;
  size_t i = 6;
  size_t specs = 0;
  bool any_satisfiable = false;
  while (i < n) {
    // 1#range-spec (RFC 9110 5.6.1): empty elements and OWS around commas.
    while (i < n && (is_ows(p[i]) || p[i] == ',')) i++;
    if (i == n) break;
    if (++specs > kMaxRanges) return RangeResult::kIgnore;
    ByteRange r;
    bool satisfiable = false;
    if (p[i] == '-') {
      i++;
      uint64_t suffix = 0;
      if (!read_number(p, n, &i, &suffix)) return RangeResult::kIgnore;
      // 14.1.1: a suffix-range is satisfiable when its length is not 0.
      if (suffix > 0 && size > 0) {
        satisfiable = true;
        r.first = suffix >= size ? 0 : size - suffix;
        r.last = size - 1;
      }
    } else {
      uint64_t first = 0, last = UINT64_MAX;
      if (!read_number(p, n, &i, &first)) return RangeResult::kIgnore;
      if (i == n || p[i] != '-') return RangeResult::kIgnore;
      i++;
      if (i < n && p[i] >= '0' && p[i] <= '9') {
        read_number(p, n, &i, &last);
        if (last < first) return RangeResult::kIgnore;  // 14.1.1: invalid, the whole field is
      }
      // 14.1.1: an int-range is satisfiable when it starts inside the file.
      if (first < size) {
        satisfiable = true;
        r.first = first;
        r.last = last < size - 1 ? last : size - 1;
      }
    }
    while (i < n && is_ows(p[i])) i++;
    if (i < n && p[i] != ',') return RangeResult::kIgnore;
    if (satisfiable) {
      ranges[(*count)++] = r;
      any_satisfiable = true;
    }
  }
  if (specs == 0) return RangeResult::kIgnore;
  if (!any_satisfiable) return RangeResult::kUnsatisfiable;  // 15.5.17
  bool touch = false;
  for (size_t a = 0; a < *count && !touch; a++) {
    for (size_t b = a + 1; b < *count && !touch; b++) {
      const ByteRange &x = ranges[a], &y = ranges[b];
      touch = x.first <= (y.last == UINT64_MAX ? y.last : y.last + 1) &&
              y.first <= (x.last == UINT64_MAX ? x.last : x.last + 1);
    }
  }
  if (touch) {
    // Insertion sort (at most kMaxRanges), then merge neighbours.
    for (size_t a = 1; a < *count; a++) {
      ByteRange key = ranges[a];
      size_t b = a;
      while (b > 0 && ranges[b - 1].first > key.first) {
        ranges[b] = ranges[b - 1];
        b--;
      }
      ranges[b] = key;
    }
    size_t out = 0;
    for (size_t a = 1; a < *count; a++) {
      if (ranges[a].first <= ranges[out].last + 1) {
        if (ranges[a].last > ranges[out].last) ranges[out].last = ranges[a].last;
      } else {
        ranges[++out] = ranges[a];
      }
    }
    *count = out + 1;
  }
  return RangeResult::kOk;
}

// ---- content codings -------------------------------------------------------

namespace {

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths (RFC 9110 12.4.2).
bool parse_qvalue(const char* p, size_t n, int* q) {
  if (n == 0 || (p[0] != '0' && p[0] != '1')) return false;
  int v = (p[0] - '0') * 1000;
  if (n > 1) {
    if (p[1] != '.' || n > 5) return false;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
      if (p[i] < '0' || p[i] > '9') return false;
      v += (p[i] - '0') * scale;
    }
  }
  if (v > 1000) return false;
  *q = v;
  return true;
}

}  // namespace

Coding choose_coding(Text accept_encoding, unsigned available) {
  if (!accept_encoding.present()) return kIdentity;
  const char* p = accept_encoding.p;
  size_t n = accept_encoding.n, i = 0;
  int q_br = -1, q_gzip = -1, q_identity = -1, q_any = -1;
  while (i < n) {
    while (i < n && (is_ows(p[i]) || p[i] == ',')) i++;
    if (i == n) break;
    size_t name = i;
    while (i < n && p[i] != ',' && p[i] != ';' && !is_ows(p[i])) i++;
    size_t name_len = i - name;
    int q = 1000;
    bool valid = true;
    while (i < n && is_ows(p[i])) i++;
    while (i < n && p[i] == ';') {
      i++;
      while (i < n && is_ows(p[i])) i++;
      size_t param = i;
      while (i < n && p[i] != ',' && p[i] != ';' && !is_ows(p[i])) i++;
      if (i - param >= 2 && (p[param] | 0x20) == 'q' && p[param + 1] == '=') {
        valid = valid && parse_qvalue(p + param + 2, i - param - 2, &q);
      }
      while (i < n && is_ows(p[i])) i++;
    }
    if (i < n && p[i] != ',') valid = false;
    while (i < n && p[i] != ',') i++;
    if (!valid) continue;  // an element we cannot read states nothing
    const char* nm = p + name;
    if (same_nocase(nm, name_len, "br")) q_br = q;
    else if (same_nocase(nm, name_len, "gzip") || same_nocase(nm, name_len, "x-gzip")) q_gzip = q;
    else if (same_nocase(nm, name_len, "identity")) q_identity = q;
    else if (name_len == 1 && nm[0] == '*') q_any = q;
  }
  // Unlisted codings take "*"'s weight. Identity, unlisted and not excluded
  // by "*", stays acceptable (12.5.3) but below any coding the client named.
  auto weight = [&](int listed) { return listed >= 0 ? listed : q_any >= 0 ? q_any : 0; };
  int w_br = (available & kCodingBit(kBrotli)) ? weight(q_br) : 0;
  int w_gzip = (available & kCodingBit(kGzip)) ? weight(q_gzip) : 0;
  int w_identity = q_identity >= 0 ? q_identity : q_any >= 0 ? q_any : 1;
  if (w_br > 0 && w_br >= w_gzip && w_br >= w_identity) return kBrotli;
  if (w_gzip > 0 && w_gzip >= w_identity) return kGzip;
  return kIdentity;
}

}  // namespace tsgi::files
