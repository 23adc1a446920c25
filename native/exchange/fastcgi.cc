// FastCGI connections: the record decoder feeds a table of requests, each
// with its own PARAMS store, STDIN flow and reply; replies go out as STDOUT
// records and END_REQUEST, interleaved on one connection's output queue.
// FastCGI 1.0 specification sections are cited as "spec N".
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>

#include "conn/connection.h"
#include "core/exchange.h"
#include "core/loop.h"
#include "exchange/fastcgi_session.h"
#include "proto/cgi/writer.h"
#include "proto/fastcgi/writer.h"

namespace tsgi {

namespace {

class FastcgiExchange final : public Exchange {
 public:
  using Exchange::Exchange;

  bool client_speaks_first() const override { return true; }
  bool sends_files() const override { return false; }  // STDOUT records carry the bytes
  void on_accept(Connection* c) override { c->exchange_state = new FcgiSession(); }
  void on_input(Connection* c) override;
  void on_drain(Connection* c) override;
  void on_close(Connection* c) override;
  uint64_t client_deadline(const Connection* c) const override;
  bool on_timeout(Connection* c) override;
  int respond(Connection* c, double handle, int status, const char* headers, size_t headers_len,
              const char* body, size_t body_len, int64_t content_length, uint32_t flags) override;
  int write(Connection* c, double handle, const char* data, size_t len) override;
  int write_file(Connection* c, double handle, int file, uint64_t offset, uint64_t len) override;
  int end(Connection* c, double handle) override;
  int read_body(Connection* c, double handle, bool flowing) override;
  int read_data(Connection* c, double handle, bool flowing) override;
  int write_stderr(Connection* c, double handle, const char* data, size_t len) override;
  int abort(Connection* c, double handle) override;

 private:
  static FcgiSession* session(const Connection* c) { return static_cast<FcgiSession*>(c->exchange_state); }
  void refuse(Connection* c, FcgiRequest* r, int status, uint8_t protocol_status);
  void finish(Connection* c, FcgiRequest* r, uint32_t app_status, uint8_t protocol_status);
  void skip_held(Connection* c, FcgiRequest* r);
  static bool others_waiting(const Connection* c, const fastcgi::Decoder& d, size_t fed, uint16_t id);
  void deliver(FcgiRequest* r);
  void deliver_data(FcgiRequest* r);
  void write_stdout(Connection* c, FcgiRequest* r, const char* data, size_t len);
  void abort_all(Connection* c);
  int write_body(Connection* c, FcgiRequest* r, const char* data, size_t len);
  int end_reply(Connection* c, FcgiRequest* r);
  int after_write(Connection* c, FcgiRequest* r);
  bool input_over(Connection* c, FcgiRequest* r, uint64_t seen, uint64_t stated, bool has_stated, bool data);

  std::string scratch_;  // a reply head, before it goes out as STDOUT records
};

// nginx and PHP pad records to 8 bytes (spec 3.3 recommends it).
static constexpr bool kPad = true;

// FILTER: DATA_LENGTH (spec 6.4) states the DATA stream's length, as
// CONTENT_LENGTH does STDIN's. Absent: the stream ends at its empty record.
static bool fcgi_data_length(FcgiRequest* r, const char* base) {
  const cgi::Var* v = r->vars.vars.find(base, "DATA_LENGTH");
  if (!v) return true;
  if (v->value.len == 0 || v->value.len > 15) return false;
  uint64_t n = 0;
  for (uint32_t i = 0; i < v->value.len; i++) {
    char ch = base[v->value.off + i];
    if (ch < '0' || ch > '9') return false;
    n = n * 10 + static_cast<uint64_t>(ch - '0');
  }
  r->has_data_length = true;
  r->data_length = n;
  return true;
}

void FastcgiExchange::on_input(Connection* c) {
  const LoopOptions& opts = loop_.options();
  // Output past the high-water mark: the web server is not reading; take no
  // more requests from it until it does.
  if (c->out.size() > opts.out_high_water) return;
  FcgiSession* s = session(c);
  while (!c->closed && c->in_len() > 0) {
    // A request whose app is not reading holds at most in_buffer bytes; past
    // that the whole connection waits (its records cannot be skipped).
    for (FcgiRequest* r : s->requests) {
      if (r->stdin_buf.size() >= opts.in_buffer || r->data_buf.size() >= opts.in_buffer) return;
    }
    // The connection's one request, given to the app, which has not asked
    // for its body: its STDIN stays in the input, as an HTTP body stays in
    // the socket, until the app reads it (then each record's bytes go
    // straight to the app: one copy, into its Buffer when it reads whole) or
    // its reply ends (skip_held). With several requests on the connection
    // the others' records must get through, so STDIN is buffered instead.
    // A full input buffer is no longer held: the socket would not be read,
    // and a request behind the body could not come in.
    FcgiRequest* hold = s->requests.size() == 1 ? s->requests.front() : nullptr;
    if (hold && !(hold->dispatched && !hold->flowing && !hold->refused && !hold->stdin_ended &&
                  hold->stdin_buf.empty() &&
                  c->in_len() < (c->in_state == Connection::In::kHead ? opts.limits.max_head : opts.in_buffer))) {
      hold = nullptr;
    }
    std::optional<fastcgi::Decoder> before;  // the decoder to go back to, only while a hold is possible
    if (hold) before = s->decoder;
    fastcgi::Event ev;
    size_t n = s->decoder.feed(c->in_data(), c->in_len(), &ev);
    FcgiRequest* r = ev.request_id ? s->by_id(ev.request_id) : nullptr;
    switch (ev.type) {
      case fastcgi::Ev::kAgain:
        break;
      case fastcgi::Ev::kBeginRequest: {
        if (r) break;  // spec 3.3: a BEGIN for an active id is ignored
        s->keep_conn = (ev.flags & fastcgi::kKeepConn) != 0;
        FcgiRequest* nr = new FcgiRequest();
        nr->id = ev.request_id;
        nr->role = ev.role;
        s->requests.push_back(nr);
        c->request_active = true;
        if (ev.role != fastcgi::kResponder && ev.role != fastcgi::kAuthorizer && ev.role != fastcgi::kFilter) {
          finish(c, nr, 0, fastcgi::kUnknownRole);  // spec 5.5
        } else if (s->requests.size() > opts.fcgi_max_reqs_per_conn) {
          // nginx ignores protocolStatus and shows OVERLOADED as a bare 502:
          // a Status: 503 body says what happened (docs/protocols.md).
          refuse(c, nr, 503, fastcgi::kOverloaded);
        } else {
          // The store grows with what arrives (kParams below), up to the
          // limit: a BEGIN_REQUEST alone reserves nothing.
          fastcgi::ParamsLimits lim;
          lim.max_bytes = opts.max_cgi_block;
          lim.max_vars = opts.max_cgi_vars;
          nr->parser.reset(&nr->params[0], opts.max_cgi_block, lim, &nr->vars);
          nr->since_ms = loop_.now();
        }
        break;
      }
      case fastcgi::Ev::kAbortRequest:
        if (!r) break;
        if (r->dispatched) loop_.sink().on_abort(r->handle);
        finish(c, r, 0, fastcgi::kRequestComplete);  // spec 5.4: END_REQUEST answers it
        break;
      case fastcgi::Ev::kParams:
        if (!r || r->refused || r->dispatched) break;
        {
          size_t need = std::min<size_t>(r->parser.stored() + ev.len, opts.max_cgi_block);
          if (r->params.size() < need) {
            // Doubling, so a large PARAMS costs few copies; the parser's
            // variables are offsets and survive the move.
            r->params.resize(std::min<size_t>(std::max<size_t>({need, r->params.size() * 2, 1024}), opts.max_cgi_block));
            r->parser.move_store(&r->params[0]);
          }
        }
        if (r->parser.feed(ev.data, ev.len) == fastcgi::Result::kError) {
          loop_.sink().log(std::string("FastCGI request refused: ") + fastcgi::error_text(r->parser.error()) +
                     (r->parser.error() == fastcgi::Error::kParamsTooLarge ? "; raise it with --buffer-size" : ""));
          refuse(c, r, fastcgi::http_status(r->parser.error()), fastcgi::kRequestComplete);
        }
        break;
      case fastcgi::Ev::kParamsEnd: {
        if (!r || r->refused || r->dispatched) break;
        if (r->parser.finish() == fastcgi::Result::kError) {
          loop_.sink().log(std::string("FastCGI request refused: ") + fastcgi::error_text(r->parser.error()));
          refuse(c, r, fastcgi::http_status(r->parser.error()), fastcgi::kRequestComplete);
          break;
        }
        if (r->vars.has_content_length && r->vars.content_length > opts.max_body) {
          refuse(c, r, 413, fastcgi::kRequestComplete);
          break;
        }
        const char* base = r->params.data();
        if (r->role == fastcgi::kFilter && !fcgi_data_length(r, base)) {
          loop_.sink().log("FastCGI request refused: DATA_LENGTH is not a decimal number");
          refuse(c, r, 400, fastcgi::kRequestComplete);
          break;
        }
        const cgi::Var* m = r->vars.vars.find(base, "REQUEST_METHOD");
        r->reply.head_method = m && m->value.len == 4 && std::memcmp(base + m->value.off, "HEAD", 4) == 0;
        r->handle = loop_.next_handle(c);
        r->dispatched = true;
        uint32_t rec = kRecCgi | (r->reply.head_method ? uint32_t{kRecHead} : 0u) |
                       (r->role == fastcgi::kAuthorizer ? uint32_t{kRecAuthorizer} : 0u) |
                       (r->role == fastcgi::kFilter ? uint32_t{kRecFilter} : 0u) |
                       (r->vars.has_content_length ? uint32_t{kRecLengthKnown} : 0u);
        // A stated length of 0, or STDIN already over: nothing to read.
        if ((r->vars.has_content_length && r->vars.content_length == 0) ||
            (r->stdin_ended && r->stdin_buf.empty())) {
          rec |= kRecNoBody;
        }
        loop_.sink().on_cgi_request(*c, r->handle, r->vars.vars, base, r->parser.stored(), r->vars.content_length, rec);
        break;
      }
      case fastcgi::Ev::kStdin:
        // Spec 3.3: the stream ends at its empty record; what follows is dropped.
        if (!r || r->refused || r->stdin_ended) break;
        if (r == hold && !others_waiting(c, s->decoder, n, r->id)) {
          s->decoder = *before;  // not consumed: fed again once the app reads
          r->held = true;
          return;
        }
        r->held = false;
        r->stdin_seen += ev.len;
        r->since_ms = loop_.now();
        if (input_over(c, r, r->stdin_seen, r->vars.content_length, r->vars.has_content_length, false)) break;
        if (r->dispatched && r->flowing && r->stdin_buf.empty()) {
          // The app is reading: from the record straight to the sink.
          if (ev.len > 0) loop_.sink().on_body(r->handle, ev.data, ev.len);
          break;
        }
        r->stdin_buf.append(ev.data, ev.len);
        if (r->dispatched && r->flowing) deliver(r);
        break;
      case fastcgi::Ev::kStdinEnd:
        if (!r || r->refused) break;
        r->stdin_ended = true;
        if (r->vars.has_content_length && r->stdin_seen < r->vars.content_length) {
          r->body_error = 400;  // the body ended short of CONTENT_LENGTH
        }
        if (r->dispatched && r->flowing) deliver(r);
        break;
      case fastcgi::Ev::kData:
        // spec 6.4: only a FILTER has a DATA stream; for other roles the
        // records carry nothing the request can use.
        if (!r || r->refused || r->role != fastcgi::kFilter || r->data_ended) break;
        r->data_seen += ev.len;
        if (input_over(c, r, r->data_seen, r->data_length, r->has_data_length, true)) break;
        r->data_buf.append(ev.data, ev.len);
        if (r->dispatched && r->data_flowing) deliver_data(r);
        break;
      case fastcgi::Ev::kDataEnd:
        if (!r || r->refused || r->role != fastcgi::kFilter) break;
        r->data_ended = true;
        if (r->has_data_length && r->data_seen < r->data_length) r->data_error = 400;
        if (r->dispatched && r->data_flowing) deliver_data(r);
        break;
      case fastcgi::Ev::kGetValues: {
        // spec 4.1: answer only the names asked, truthfully.
        fastcgi::ServerValues v;
        v.max_conns = opts.max_connections;
        uint64_t reqs = uint64_t{opts.max_connections} * opts.fcgi_max_reqs_per_conn;
        v.max_reqs = reqs > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(reqs);
        v.mpxs_conns = true;
        char* out = c->out.reserve(fastcgi::kGetValuesResultMax);
        c->out.commit(fastcgi::write_get_values_result(out, ev.query, v, kPad));
        loop_.mark_dirty(c);
        break;
      }
      case fastcgi::Ev::kUnknownType: {
        char* out = c->out.reserve(fastcgi::kUnknownTypeLen);
        c->out.commit(fastcgi::write_unknown_type(out, ev.record_type));  // spec 4.2
        loop_.mark_dirty(c);
        break;
      }
      case fastcgi::Ev::kError: {
        const Listener* l = loop_.listener(c->listener);
        if (ev.error == fastcgi::Error::kLooksLikeHttp) {
          answer_http_client(c, "FastCGI", "fastcgi_pass");
        } else {
          loop_.sink().log(std::string("FastCGI protocol error on ") + (l ? l->name : std::string("?")) + ": " +
                           fastcgi::error_text(ev.error) + " (" + std::to_string(ev.detail) +
                           "); closing the connection");
          abort_all(c);
          c->consume(c->in_len());
          c->close_after_flush = true;
          loop_.mark_dirty(c);
        }
        return;
      }
    }
    if (c->closed) return;
    c->consume(n);
  }
}

// STDIN (or DATA) past the body limit, or past the length PARAMS stated for
// it: the two framings disagree. The request is answered 413/400 if its
// reply has not begun, else ended. Returns true when that happened.
bool FastcgiExchange::input_over(Connection* c, FcgiRequest* r, uint64_t seen, uint64_t stated, bool has_stated,
                           bool data) {
  const LoopOptions& opts = loop_.options();
  int status = 0;
  if (seen > opts.max_body) {
    status = 413;
  } else if (has_stated && seen > stated) {
    loop_.sink().log(data ? "FastCGI request refused: DATA is longer than DATA_LENGTH"
                    : "FastCGI request refused: STDIN is longer than CONTENT_LENGTH");
    status = 400;
  }
  if (status == 0) return false;
  if (r->dispatched) {
    if (data) {
      loop_.sink().on_data_error(r->handle, status);
    } else {
      loop_.sink().on_body_error(r->handle, status);
    }
  }
  if (!r->reply.started) {
    refuse(c, r, status, fastcgi::kRequestComplete);
  } else {
    finish(c, r, 1, fastcgi::kRequestComplete);
  }
  return true;
}

// Hands buffered STDIN to the app, and its end once STDIN is over.
void FastcgiExchange::deliver(FcgiRequest* r) {
  if (!r->stdin_buf.empty()) {
    loop_.sink().on_body(r->handle, r->stdin_buf.data(), r->stdin_buf.size());
    r->stdin_buf.clear();
  }
  if (r->stdin_ended && !r->body_end_sent) {
    r->body_end_sent = true;
    if (r->body_error) {
      loop_.sink().on_body_error(r->handle, r->body_error);
    } else {
      loop_.sink().on_body_end(r->handle);
    }
  }
}

// The same for FILTER's DATA stream.
void FastcgiExchange::deliver_data(FcgiRequest* r) {
  if (!r->data_buf.empty()) {
    loop_.sink().on_data(r->handle, r->data_buf.data(), r->data_buf.size());
    r->data_buf.clear();
  }
  if (r->data_ended && !r->data_end_sent) {
    r->data_end_sent = true;
    if (r->data_error) {
      loop_.sink().on_data_error(r->handle, r->data_error);
    } else {
      loop_.sink().on_data_end(r->handle);
    }
  }
}

void FastcgiExchange::write_stdout(Connection* c, FcgiRequest* r, const char* data, size_t len) {
  if (len == 0) return;
  if (len <= 16 * 1024) {
    char* out = c->out.reserve(fastcgi::stream_size(len, kPad));
    c->out.commit(fastcgi::write_stream(out, fastcgi::kStdout, r->id, data, len, kPad));
    return;
  }
  // A large body: record headers around the caller's bytes, written at once
  // with the rest of the queue, and only what the socket did not take copied
  // (as StreamExchange::write does).
  fastcgi::StreamRecord recs[16];
  while (len > 0) {
    size_t used = 0;
    size_t n = fastcgi::plan_stream(fastcgi::kStdout, r->id, data, len, kPad, recs, 16, &used);
    for (size_t i = 0; i < n; i++) {
      c->out.append(recs[i].header, fastcgi::kHeaderLen);
      c->out.append_ref(recs[i].data, recs[i].len);
      if (recs[i].padding) c->out.append(fastcgi::kPaddingBytes, recs[i].padding);
    }
    data += used;
    len -= used;
  }
  loop_.flush(c);
  if (!c->closed) loop_.own_refs(c);
}

// The server answers a request itself (limits, overload): a CGI-style reply
// on STDOUT, then END_REQUEST.
void FastcgiExchange::refuse(Connection* c, FcgiRequest* r, int status, uint8_t protocol_status) {
  if (r->dispatched) loop_.sink().on_abort(r->handle);
  r->dispatched = false;
  r->refused = true;
  char buf[512];
  size_t n = cgi::error_response(buf, cgi::Style::kStatusHeader, status);
  write_stdout(c, r, buf, n);
  finish(c, r, 0, protocol_status);
}

// Ends a request: the empty STDOUT (spec 6.1), END_REQUEST (spec 5.5), and
// the connection closes if the server did not ask to keep it (spec 5.1), or
// once this server drains: the web server sees END_REQUEST and the close
// together, and never sends another request on it.
void FastcgiExchange::finish(Connection* c, FcgiRequest* r, uint32_t app_status, uint8_t protocol_status) {
  FcgiSession* s = session(c);
  if (r->held) skip_held(c, r);
  char* out = c->out.reserve(2 * fastcgi::kStreamEndLen + fastcgi::kEndRequestLen);
  size_t n = 0;
  if (r->stderr_used) n += fastcgi::write_stream_end(out, fastcgi::kStderr, r->id);
  if (protocol_status == fastcgi::kRequestComplete || r->refused) {
    n += fastcgi::write_stream_end(out + n, fastcgi::kStdout, r->id);
  }
  n += fastcgi::write_end_request(out + n, r->id, app_status, protocol_status);
  c->out.commit(n);
  // The web server sends nothing more for this request once its input
  // streams ended (Apache sends the empty STDIN after the PARAMS even when
  // the reply is already on its way).
  bool input_done = r->stdin_ended && (r->role != fastcgi::kFilter || r->data_ended);
  s->remove(r);
  c->request_active = !s->requests.empty();
  if (!c->request_active) {
    if (!s->keep_conn || loop_.closing() || loop_.stopped()) {
      c->close_after_flush = true;
      c->clean_close = input_done && c->in_len() == 0;  // as StreamExchange::finish_request does
    } else {
      c->requests++;
      c->head_deadline_ms = loop_.now() + loop_.options().keepalive_timeout_ms;
    }
  }
  loop_.mark_dirty(c);
}

// Whether the input after the record being read (`fed` bytes in, `d` the
// decoder after them) holds a record other than request `id`'s STDIN: a
// multiplexing client's next request, which a held body must not keep from
// the app (its app might be the one this request waits for). Only whole
// headers that have arrived are looked at; on_input runs again as more do.
bool FastcgiExchange::others_waiting(const Connection* c, const fastcgi::Decoder& d, size_t fed, uint16_t id) {
  int64_t skip = d.to_boundary();
  if (skip < 0) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(c->in_data());
  size_t len = c->in_len();
  size_t at = fed + static_cast<size_t>(skip);
  while (at + fastcgi::kHeaderLen <= len) {
    const unsigned char* h = p + at;
    if (h[1] != fastcgi::kStdin || (uint16_t(h[2] << 8) | h[3]) != id) return true;
    size_t content = size_t{h[4]} << 8 | h[5];
    if (content == 0) return at + fastcgi::kHeaderLen + h[6] < len;  // STDIN ends: is anything behind it?
    at += fastcgi::kHeaderLen + content + h[6];
  }
  return false;
}

// A request's reply ended while its unread STDIN waited in the input (see
// on_input): drop those records now, up to the first of anything else, so
// the end of its input is known (a clean close needs it) and the next
// request's records are next. Never called from inside on_input, which
// consumes what it fed itself.
void FastcgiExchange::skip_held(Connection* c, FcgiRequest* r) {
  FcgiSession* s = session(c);
  r->held = false;
  while (c->in_len() > 0) {
    fastcgi::Decoder before = s->decoder;
    fastcgi::Event ev;
    size_t n = s->decoder.feed(c->in_data(), c->in_len(), &ev);
    bool mine = ev.request_id == r->id && (ev.type == fastcgi::Ev::kStdin || ev.type == fastcgi::Ev::kStdinEnd);
    if (ev.type != fastcgi::Ev::kAgain && !mine) {
      s->decoder = before;  // another record: on_input's to read
      return;
    }
    c->consume(n);
    if (ev.type == fastcgi::Ev::kAgain) return;  // all of it taken in: the rest is still to come
    if (ev.type == fastcgi::Ev::kStdinEnd) {
      r->stdin_ended = true;
      return;
    }
    r->stdin_seen += ev.len;
  }
}

void FastcgiExchange::on_drain(Connection* c) {
  for (FcgiRequest* r : session(c)->requests) {
    if (r->reply.want_drain) {
      r->reply.want_drain = false;
      loop_.sink().on_drain(r->handle);
    }
  }
}

void FastcgiExchange::on_close(Connection* c) { abort_all(c); }

void FastcgiExchange::abort_all(Connection* c) {
  for (FcgiRequest* r : session(c)->requests) {
    if (r->dispatched) loop_.sink().on_abort(r->handle);
    r->dispatched = false;  // no second abort when the connection closes
  }
}

// After STDOUT or STDERR records went into the queue: whether the app is
// to wait, recorded on the request (drains are reported per request).
int FastcgiExchange::after_write(Connection* c, FcgiRequest* r) {
  int rc = loop_.backpressure(c);
  if (rc == kReplyFull) r->reply.want_drain = true;
  return rc;
}

int FastcgiExchange::respond(Connection* c, double handle, int status, const char* headers, size_t headers_len,
                             const char* body, size_t body_len, int64_t content_length, uint32_t flags) {
  FcgiRequest* r = session(c)->by_handle(handle);
  if (!r || r->reply.started) return kReplyGone;
  bool ends = (flags & Loop::kEnd) != 0;
  // No chunks: without a length, END_REQUEST ends the reply.
  r->reply.begin(status, ends, body_len, content_length, false);
  scratch_.resize(cgi::head_size(headers_len));
  size_t n = cgi::head(&scratch_[0], cgi::Style::kStatusHeader, status, headers, headers_len,
                       r->reply.framing == http1::kFrameLength, r->reply.left);
  write_stdout(c, r, scratch_.data(), n);
  if (body_len > 0) {
    int rc = write_body(c, r, body, body_len);
    if (rc == kReplyOverflow || rc == kReplyGone) return rc;
  }
  if (ends) return end_reply(c, r);
  return after_write(c, r);
}

int FastcgiExchange::write(Connection* c, double handle, const char* data, size_t len) {
  FcgiRequest* r = session(c)->by_handle(handle);
  if (!r || !r->reply.started) return kReplyGone;
  return write_body(c, r, data, len);
}

int FastcgiExchange::write_body(Connection* c, FcgiRequest* r, const char* data, size_t len) {
  if (len == 0 || !r->reply.has_content()) return kReplyOk;
  bool overflow = r->reply.take(&len);
  write_stdout(c, r, data, len);
  if (overflow) {
    // More than the stated Content-Length: end the reply at that length.
    finish(c, r, 1, fastcgi::kRequestComplete);
    return kReplyOverflow;
  }
  return after_write(c, r);
}

// FastCGI's records need the bytes: no sendfile here.
int FastcgiExchange::write_file(Connection* c, double handle, int file, uint64_t offset, uint64_t len) {
  (void)c, (void)handle, (void)offset, (void)len;
  close(file);
  return kReplyGone;
}

int FastcgiExchange::end(Connection* c, double handle) {
  FcgiRequest* r = session(c)->by_handle(handle);
  return r ? end_reply(c, r) : kReplyGone;
}

int FastcgiExchange::end_reply(Connection* c, FcgiRequest* r) {
  if (!r->reply.started) return kReplyGone;
  uint32_t app_status = 0;
  if (r->reply.short_of_length()) {
    loop_.sink().log("reply ended " + std::to_string(r->reply.left) + " bytes short of its Content-Length");
    app_status = 1;
  }
  finish(c, r, app_status, fastcgi::kRequestComplete);
  return kReplyOk;
}

// The requests' own deadlines against the web server (the loop's cover only
// a connection between requests): PARAMS complete within the header timeout
// of BEGIN_REQUEST, and STDIN the app is reading not stalled longer than the
// socket timeout. The earliest, or 0.
uint64_t FastcgiExchange::client_deadline(const Connection* c) const {
  const LoopOptions& opts = loop_.options();
  uint64_t at = 0;
  for (const FcgiRequest* r : static_cast<const FcgiSession*>(c->exchange_state)->requests) {
    uint64_t d = 0;
    if (r->refused) continue;
    if (!r->dispatched) {
      d = r->since_ms + opts.header_timeout_ms;
    } else if (r->flowing && !r->stdin_ended) {
      d = r->since_ms + opts.io_timeout_ms;
    }
    if (d != 0 && (at == 0 || d < at)) at = d;
  }
  return at;
}

bool FastcgiExchange::on_timeout(Connection* c) {
  const FcgiSession* s = session(c);
  bool params = false;
  for (const FcgiRequest* r : s->requests) params = params || (!r->dispatched && !r->refused);
  if (!s->requests.empty()) {
    loop_.sink().log(params ? "FastCGI connection closed: a request's PARAMS did not arrive within --header-timeout"
                            : "FastCGI connection closed: a request's STDIN stalled past --socket-timeout");
  }
  return false;  // the loop closes it; the requests in flight are aborted
}

int FastcgiExchange::read_body(Connection* c, double handle, bool flowing) {
  FcgiRequest* r = session(c)->by_handle(handle);
  if (!r) return kReplyGone;
  if (flowing && !r->flowing) r->since_ms = loop_.now();  // the client's time starts now
  r->flowing = flowing;
  if (flowing) deliver(r);
  loop_.mark_dirty(c);  // input may have waited for this request to take its bytes
  return kReplyOk;
}

int FastcgiExchange::read_data(Connection* c, double handle, bool flowing) {
  FcgiRequest* r = session(c)->by_handle(handle);
  if (!r) return kReplyGone;
  r->data_flowing = flowing;
  if (flowing) deliver_data(r);
  loop_.mark_dirty(c);
  return kReplyOk;
}

// The app's error stream as STDERR records (spec 6.1), which the web server
// logs (nginx: "FastCGI sent in stderr"). The stream is ended with an empty
// record when the request finishes. Backpressure as for STDOUT.
int FastcgiExchange::write_stderr(Connection* c, double handle, const char* data, size_t len) {
  FcgiRequest* r = session(c)->by_handle(handle);
  if (!r) return kReplyGone;
  if (len == 0) return kReplyOk;
  r->stderr_used = true;
  while (len > 0) {
    size_t piece = len < 16 * 1024 ? len : 16 * 1024;
    char* out = c->out.reserve(fastcgi::stream_size(piece, kPad));
    c->out.commit(fastcgi::write_stream(out, fastcgi::kStderr, r->id, data, piece, kPad));
    data += piece;
    len -= piece;
  }
  return after_write(c, r);
}

// The app gave up on its reply: end that request alone (others on the
// connection go on). The web server sees the reply end early.
int FastcgiExchange::abort(Connection* c, double handle) {
  FcgiRequest* r = session(c)->by_handle(handle);
  if (!r) return kReplyGone;
  r->dispatched = false;
  finish(c, r, 1, fastcgi::kRequestComplete);
  return kReplyOk;
}

}  // namespace

std::unique_ptr<Exchange> make_fastcgi_exchange(Loop& loop) { return std::make_unique<FastcgiExchange>(loop); }

}  // namespace tsgi
