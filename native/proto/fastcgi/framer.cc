// FastCGI 1.0 input; see framer.h and docs/protocols.md. "Spec" below is the
// FastCGI Specification, Open Market, 1996, by section.
//
// Both machines take one decision per byte position, from the bytes before
// it only, so feeding a stream in any pieces gives the same events, the same
// variables and the same first error as feeding it whole. Bulk bytes (stream
// content, names and values) are handed on or copied a run at a time.
#include "proto/fastcgi/framer.h"

#include <cstring>

namespace tsgi::fastcgi {
namespace {

// Spec appendix A: the types only the web server sends on a request...
bool is_request_type(uint8_t t) {
  return t == kBeginRequest || t == kAbortRequest || t == kParams || t == kStdin || t == kData;
}

// ...and those only the application sends.
bool is_application_type(uint8_t t) {
  return t == kEndRequest || t == kStdout || t == kStderr || t == kGetValuesResult ||
         t == kUnknownType;
}

struct Known {
  const char* name;
  uint32_t len;
};
constexpr Known kKnown[kGetValueCount] = {
    {kMaxConnsName, sizeof(kMaxConnsName) - 1},
    {kMaxReqsName, sizeof(kMaxReqsName) - 1},
    {kMpxsConnsName, sizeof(kMpxsConnsName) - 1},
};

// The same rule as uwsgi and SCGI names (docs/protocols.md): CGI
// meta-variable names and HTTP_ + header names are printable ASCII.
bool is_name_byte(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

bool is_content_length(const char* p, uint32_t n) {
  return n == 14 && std::memcmp(p, "CONTENT_LENGTH", 14) == 0;
}

}  // namespace

const char* get_value_name(GetValue v) { return kKnown[static_cast<uint8_t>(v)].name; }

// ---- Decoder -------------------------------------------------------------

bool Decoder::fail(Error e, uint32_t detail) {
  state_ = State::kError;
  error_ = e;
  detail_ = detail;
  return false;
}

// The whole header is in: decide what its content is for.
bool Decoder::on_header() {
  const uint8_t t = h_.type;
  const uint16_t clen = h_.content_length();
  // A web server never sends these (spec appendix A); nginx refuses the
  // mirror image, "upstream sent unexpected FastCGI record".
  if (is_application_type(t)) return fail(Error::kUnexpectedType, t);
  if (h_.request_id() == kNullRequestId) {
    // Spec 3.3: request records "cannot use the null request ID".
    if (is_request_type(t)) return fail(Error::kBadRequestId, t);
    // Spec 4.2: a management type we do not know is answered with
    // {FCGI_UNKNOWN_TYPE, 0, {T}}, whatever its content.
    kind_ = t == kGetValues ? Kind::kGetValues : Kind::kSkip;
  } else {
    switch (t) {
      case kBeginRequest:
        // Spec 5.1: the content is FCGI_BeginRequestBody, 8 bytes.
        if (clen != sizeof(BeginRequestBody)) return fail(Error::kBadBeginRequest, clen);
        kind_ = Kind::kBegin;
        break;
      case kAbortRequest:
        // Spec 5.4: {FCGI_ABORT_REQUEST, R}, no content.
        if (clen != 0) return fail(Error::kBadAbortRequest, clen);
        kind_ = Kind::kAbort;
        break;
      case kParams:
      case kStdin:
      case kData:
        kind_ = Kind::kStream;
        break;
      case kGetValues:  // spec 3.3: management records use the null id
        return fail(Error::kBadRequestId, t);
      default:  // no request record type beyond the eleven of FastCGI 1.0
        return fail(Error::kUnknownType, t);
    }
  }
  content_left_ = clen;
  padding_left_ = h_.padding_length;
  begin_got_ = 0;
  gv_state_ = GvState::kNameLen;
  gv_len_ = NvLength();
  query_ = GetValuesQuery();
  state_ = clen ? State::kContent : State::kPadding;
  return true;
}

// One byte of GET_VALUES content; content_left_ already counts it as read.
bool Decoder::get_values_byte(unsigned char c) {
  const uint32_t off = h_.content_length() - content_left_ - 1;
  switch (gv_state_) {
    case GvState::kNameLen:
      if (gv_len_.left == 0) gv_pair_off_ = off;
      if (gv_len_.push(c)) {
        gv_name_len_ = gv_len_.value;
        gv_state_ = GvState::kValueLen;
      }
      return true;
    case GvState::kValueLen:
      if (!gv_len_.push(c)) return true;
      // Spec 4.1: "a sequence of name-value pairs with empty values". The
      // name must lie inside this record: management records are discrete.
      if (gv_len_.value != 0 || gv_name_len_ == 0 || gv_name_len_ > content_left_)
        return fail(Error::kBadGetValues, gv_pair_off_);
      gv_state_ = GvState::kName;
      gv_name_pos_ = 0;
      gv_match_ = 0;
      for (uint8_t k = 0; k < kGetValueCount; ++k)
        if (kKnown[k].len == gv_name_len_) gv_match_ |= uint8_t(1u << k);
      return true;
    case GvState::kName:
      for (uint8_t k = 0; k < kGetValueCount; ++k)
        if ((gv_match_ >> k & 1u) && static_cast<unsigned char>(kKnown[k].name[gv_name_pos_]) != c)
          gv_match_ &= uint8_t(~(1u << k));
      if (++gv_name_pos_ < gv_name_len_) return true;
      // Spec 4.1: names we do not understand are left out of the answer;
      // a name asked twice is answered once.
      for (uint8_t k = 0; k < kGetValueCount; ++k) {
        if (!(gv_match_ >> k & 1u)) continue;
        bool seen = false;
        for (uint8_t j = 0; j < query_.count; ++j) seen = seen || query_.names[j] == GetValue(k);
        if (!seen) query_.names[query_.count++] = GetValue(k);
      }
      gv_state_ = GvState::kNameLen;
      return true;
  }
  return true;
}

// The last content byte is in.
bool Decoder::content_done() {
  state_ = State::kPadding;
  if (kind_ == Kind::kGetValues && (gv_state_ != GvState::kNameLen || gv_len_.left != 0))
    return fail(Error::kBadGetValues, gv_pair_off_);  // a pair cut off by the record's end
  return true;
}

// The record and its padding are in: the event for a discrete record or for
// the empty record closing a stream; false for a record with nothing to say.
bool Decoder::record_done(Event* ev) {
  ev->record_type = h_.type;
  ev->request_id = h_.request_id();
  switch (kind_) {
    case Kind::kBegin:
      ev->type = Ev::kBeginRequest;
      ev->role = begin_.role();
      ev->flags = begin_.flags;  // other bits and the reserved bytes are ignored
      return true;
    case Kind::kAbort:
      ev->type = Ev::kAbortRequest;
      return true;
    case Kind::kGetValues:
      ev->type = Ev::kGetValues;
      ev->query = query_;
      return true;
    case Kind::kSkip:
      ev->type = Ev::kUnknownType;
      return true;
    case Kind::kStream:
      // Spec 3.3: "followed by an empty record (length == 0) of the stream
      // type". A non-empty record only carried content.
      if (h_.content_length() != 0) break;
      ev->type = h_.type == kParams ? Ev::kParamsEnd : h_.type == kStdin ? Ev::kStdinEnd : Ev::kDataEnd;
      return true;
  }
  *ev = Event();
  return false;
}

size_t Decoder::feed(const char* in, size_t len, Event* ev) {
  *ev = Event();
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  size_t i = 0;
  for (;;) {
    if (state_ == State::kError) {
      ev->type = Ev::kError;
      ev->error = error_;
      ev->detail = detail_;
      return i;
    }
    if (state_ == State::kPadding && padding_left_ == 0) {
      state_ = State::kVersion;
      if (record_done(ev)) return i;
      continue;
    }
    if (i == len) {
      ev->type = Ev::kAgain;
      return i;
    }
    const unsigned char c = p[i];
    switch (state_) {
      case State::kVersion:
        // Spec 3.3: this specification documents FCGI_VERSION_1. An HTTP
        // request line here is the classic wrong-port mistake; nginx names
        // the reverse one "unsupported FastCGI protocol version: 72".
        if (c != kVersion1) {
          const bool http = pos_ == 0 && c >= 'A' && c <= 'Z';
          fail(http ? Error::kLooksLikeHttp : Error::kBadVersion, c);
          continue;
        }
        h_.version = c;
        state_ = State::kType;
        break;
      case State::kType: h_.type = c; state_ = State::kRequestIdB1; break;
      case State::kRequestIdB1: h_.request_id_b1 = c; state_ = State::kRequestIdB0; break;
      case State::kRequestIdB0: h_.request_id_b0 = c; state_ = State::kContentLengthB1; break;
      case State::kContentLengthB1: h_.content_length_b1 = c; state_ = State::kContentLengthB0; break;
      case State::kContentLengthB0: h_.content_length_b0 = c; state_ = State::kPaddingLength; break;
      case State::kPaddingLength: h_.padding_length = c; state_ = State::kReserved; break;
      case State::kReserved:
        h_.reserved = c;  // spec 3.3 gives it no meaning; ignored
        ++i;
        ++pos_;
        on_header();
        continue;
      case State::kContent: {
        const size_t n = len - i < content_left_ ? len - i : content_left_;
        if (kind_ == Kind::kStream) {
          // Spec 3.3: a stream's value does not depend on how it is cut into
          // records, so content is handed on as it arrives, never buffered.
          ev->type = h_.type == kParams ? Ev::kParams : h_.type == kStdin ? Ev::kStdin : Ev::kData;
          ev->record_type = h_.type;
          ev->request_id = h_.request_id();
          ev->data = in + i;
          ev->len = n;
          i += n;
          pos_ += n;
          content_left_ -= static_cast<uint32_t>(n);
          if (content_left_ == 0) content_done();
          return i;
        }
        if (kind_ == Kind::kGetValues) {
          size_t k = 0;
          while (k < n && state_ == State::kContent) {
            --content_left_;
            ++pos_;
            if (!get_values_byte(p[i + k++])) break;
            if (content_left_ == 0) content_done();
          }
          i += k;
          continue;
        }
        if (kind_ == Kind::kBegin) {  // on_header() made sure it is 8 bytes
          std::memcpy(reinterpret_cast<unsigned char*>(&begin_) + begin_got_, p + i, n);
          begin_got_ = static_cast<uint8_t>(begin_got_ + n);
        }
        i += n;
        pos_ += n;
        content_left_ -= static_cast<uint32_t>(n);
        if (content_left_ == 0) content_done();
        continue;
      }
      case State::kPadding: {
        // Spec 3.3: receivers "interpret the paddingLength and skip the
        // paddingData" - nginx pads to 8, uWSGI and lighttpd do not.
        const size_t n = len - i < padding_left_ ? len - i : padding_left_;
        i += n;
        pos_ += n;
        padding_left_ -= static_cast<uint32_t>(n);
        continue;
      }
      case State::kError:
        continue;
    }
    ++i;
    ++pos_;
  }
}

// ---- ParamsParser ----------------------------------------------------------

void ParamsParser::reset(char* store, size_t cap, const ParamsLimits& limits, Params* out) {
  *this = ParamsParser();
  store_ = store;
  out_ = out;
  limit_ = cap < limits.max_bytes ? static_cast<uint32_t>(cap) : limits.max_bytes;
  max_vars_ = limits.max_vars < cgi::kMaxVarsCap ? limits.max_vars : cgi::kMaxVarsCap;
  out->vars.count = 0;
  out->content_length = 0;
  out->has_content_length = false;
  state_ = State::kNameLen;
}

Result ParamsParser::fail(Error e, uint32_t detail) {
  state_ = State::kError;
  error_ = e;
  detail_ = detail;
  return Result::kError;
}

// A pair is complete: check it and add it.
bool ParamsParser::end_pair() {
  const char* name = store_ + name_.off;
  if (is_content_length(name, name_.len)) {
    // nginx sends `CONTENT_LENGTH $content_length`: digits, or empty when
    // there is no body or its length is unknown (a chunked upload streamed
    // with fastcgi_request_buffering off). A second CONTENT_LENGTH must say
    // the same thing: two framings of one body is the smuggling shape.
    uint64_t v = 0;
    const bool has = value_.len != 0;
    if (!cgi::parse_content_length(store_ + value_.off, value_.len, &v) ||
        (have_length_ && (has != out_->has_content_length || v != out_->content_length))) {
      fail(Error::kBadContentLength, pair_off_);
      return false;
    }
    out_->content_length = v;
    out_->has_content_length = has;
    have_length_ = true;
  }
  // Repeated names are kept in order, as for uwsgi: nginx before 1.23 sends
  // a repeated request header as repeated HTTP_* pairs.
  cgi::VarTable& t = out_->vars;
  t.vars[t.count++] = cgi::Var{name_, value_};
  state_ = State::kNameLen;
  return true;
}

size_t ParamsParser::take_name(const char* in, size_t len) {
  const uint32_t n = len < left_ ? static_cast<uint32_t>(len) : left_;
  for (uint32_t k = 0; k < n; ++k)
    if (!is_name_byte(static_cast<unsigned char>(in[k]))) {
      fail(Error::kBadParams, pair_off_);
      return k;
    }
  std::memcpy(store_ + stored_, in, n);
  stored_ += n;
  pos_ += n;
  left_ -= n;
  if (left_ == 0) {
    value_ = cgi::Slice{stored_, value_len_};
    left_ = value_len_;
    state_ = State::kValue;
    if (value_len_ == 0) end_pair();
  }
  return n;
}

size_t ParamsParser::take_value(const char* in, size_t len) {
  const uint32_t n = len < left_ ? static_cast<uint32_t>(len) : left_;
  // Spec 6.1: "the value itself does not include a null byte".
  if (n && std::memchr(in, 0, n)) {
    fail(Error::kBadParams, pair_off_);
    return 0;
  }
  std::memcpy(store_ + stored_, in, n);
  stored_ += n;
  pos_ += n;
  left_ -= n;
  if (left_ == 0) end_pair();
  return n;
}

Result ParamsParser::feed(const char* in, size_t len) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  size_t i = 0;
  while (i < len) {
    switch (state_) {
      case State::kError:
        return Result::kError;
      case State::kDone:  // more PARAMS after the empty record: not a stream
        return fail(Error::kBadParams, pos_);
      case State::kNameLen:
      case State::kValueLen: {
        if (state_ == State::kNameLen && len_.left == 0) {
          pair_off_ = pos_;
          if (out_->vars.count >= max_vars_) return fail(Error::kTooManyVars, max_vars_);
        }
        if (pos_ >= limit_) return fail(Error::kParamsTooLarge, limit_);
        ++pos_;
        if (!len_.push(p[i++])) break;
        if (state_ == State::kNameLen) {
          name_len_ = len_.value;
          state_ = State::kValueLen;
          break;
        }
        value_len_ = len_.value;
        if (name_len_ == 0) return fail(Error::kBadParams, pair_off_);
        // Both lengths are known before either string: refuse a pair that
        // cannot fit now, not after copying most of it.
        if (uint64_t{pos_} + name_len_ + value_len_ > limit_)
          return fail(Error::kParamsTooLarge, limit_);
        name_ = cgi::Slice{stored_, name_len_};
        left_ = name_len_;
        state_ = State::kName;
        break;
      }
      case State::kName:
        i += take_name(in + i, len - i);
        break;
      case State::kValue:
        i += take_value(in + i, len - i);
        break;
    }
  }
  return state_ == State::kError ? Result::kError : Result::kAgain;
}

Result ParamsParser::finish() {
  if (state_ == State::kError) return Result::kError;
  if (state_ == State::kDone) return Result::kOk;
  if (state_ != State::kNameLen || len_.left != 0) return fail(Error::kBadParams, pair_off_);
  // A request needs at least REQUEST_METHOD; no web server sends none.
  if (out_->vars.count == 0) return fail(Error::kEmptyParams, 0);
  state_ = State::kDone;
  return Result::kOk;
}

// ---- errors ----------------------------------------------------------------

const char* error_text(Error e) {
  switch (e) {
    case Error::kNone: return "no error";
#define TSGI_X(name, status, text) \
  case Error::name:                \
    return text;
    TSGI_FASTCGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return "unknown FastCGI error";
}

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone: return "kNone";
#define TSGI_X(name, status, text) \
  case Error::name:                \
    return #name;
    TSGI_FASTCGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return "?";
}

int http_status(Error e) {
  switch (e) {
    case Error::kNone: return 0;
#define TSGI_X(name, status, text) \
  case Error::name:                \
    return status;
    TSGI_FASTCGI_ERRORS(TSGI_X)
#undef TSGI_X
  }
  return 0;
}

}  // namespace tsgi::fastcgi
