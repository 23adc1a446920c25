#include "exchange/http1.h"

#include <cstring>
#include <memory>

#include "conn/connection.h"
#include "core/loop.h"
#include "proto/http1/writer.h"
#include "proto/ws/handshake.h"

namespace tsgi {

bool Http1Exchange::parse_head(Connection* c) {
  http1::HeadError err;
  http1::Result r =
      http1::parse_head(c->in_data(), c->in_len(), loop_.options().limits, &c->head_scan, &head_, &err);
  if (r == http1::Result::kAgain) {
    if (c->peer_eof) loop_.close_conn(c);  // a partial head and no more bytes coming
    return false;
  }
  c->head_scan = 0;
  if (r == http1::Result::kError) {
    send_error(c, err.status);
    return false;
  }
  return begin_request(c);
}

bool Http1Exchange::begin_request(Connection* c) {
  const http1::RequestHead& h = head_;
  if ((h.flags & http1::kContentLength) && h.content_length > loop_.options().max_body) {
    send_error(c, 413);
    return false;
  }
  const char* base = c->in_data();
  c->http11 = (h.flags & http1::kHttp11) != 0;
  c->keep_alive = (h.flags & http1::kKeepAlive) != 0 && !loop_.closing() && !c->peer_eof;
  c->expect_continue = (h.flags & http1::kExpectContinue) != 0;
  bool head_method = h.method.len == 4 && std::memcmp(base + h.method.off, "HEAD", 4) == 0;
  start_request(c, (h.flags & http1::kChunked) != 0, h.content_length, head_method);
  uint32_t rec = (c->in_state == Connection::In::kBodyDone ? uint32_t{kRecNoBody} : 0u) |
                 (head_method ? uint32_t{kRecHead} : 0u) |
                 (c->chunked ? 0u : uint32_t{kRecLengthKnown});
  // RFC 9110 7.8: a request with a body is answered as it is (the upgrade
  // declined); one without may switch once the app agrees (upgrade()).
  c->upgradable = (h.flags & http1::kUpgrade) != 0 && c->in_state == Connection::In::kBodyDone;
  c->ws_key_len = 0;
  c->ws_deflate.reset();
  if (c->upgradable) {
    rec |= kRecUpgradable;
    if (websocket_handshake(c, h, base)) rec |= kRecWebSocket;
  }
  // Consumed first: a sink may answer within the call (a static file), and
  // the request it ends must see what follows the head as the next input.
  // The head's bytes stay where they are until the next read.
  c->consume(h.head_len);
  loop_.sink().on_request(*c, c->handle, h, base, rec);
  return true;
}

// Whether `value` (a comma-separated list, RFC 9110 5.6.1) holds `token`, any case.
static bool has_token(const char* v, size_t n, const char* token) {
  size_t tn = std::strlen(token);
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    while (i < n && v[i] != ',') i++;
    size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    if (end - start == tn) {
      bool same = true;
      for (size_t k = 0; k < tn && same; k++) same = (v[start + k] | 0x20) == (token[k] | 0x20);
      if (same) return true;
    }
  }
  return false;
}

// RFC 6455 4.2.1: GET, Upgrade: websocket, Connection: upgrade, version 13
// and a valid key, each field once where the RFC says so. The key is kept
// for the 101 (the head's bytes are gone by then).
bool Http1Exchange::websocket_handshake(Connection* c, const http1::RequestHead& h, const char* base) {
  if (h.method.len != 3 || std::memcmp(base + h.method.off, "GET", 3) != 0) return false;
  bool upgrade = false, connection = false, version = false;
  int keys = 0, versions = 0;
  constexpr size_t kMaxExtensionLines = 8;  // more declines the extension, not the handshake
  ws::HeaderValue extensions[kMaxExtensionLines];
  size_t extension_lines = 0, extension_fields = 0;
  const char* key = nullptr;
  size_t key_len = 0;
  for (uint32_t i = 0; i < h.num_headers; i++) {
    const http1::Header& f = h.headers[i];
    const char* name = base + f.name.off;
    const char* value = base + f.value.off;
    auto is = [&](const char* want) {
      size_t n = std::strlen(want);
      if (f.name.len != n) return false;
      for (size_t k = 0; k < n; k++) {
        if ((name[k] | 0x20) != want[k]) return false;
      }
      return true;
    };
    if (is("upgrade")) {
      upgrade = upgrade || has_token(value, f.value.len, "websocket");
    } else if (is("connection")) {
      connection = connection || has_token(value, f.value.len, "upgrade");
    } else if (is("sec-websocket-key")) {
      keys++;
      key = value;
      key_len = f.value.len;
    } else if (is("sec-websocket-version")) {
      versions++;
      version = ws::version_valid(value, f.value.len);
    } else if (is("sec-websocket-extensions")) {
      if (extension_lines < kMaxExtensionLines) extensions[extension_lines++] = ws::HeaderValue{value, f.value.len};
      extension_fields++;
    }
  }
  if (!upgrade || !connection || keys != 1 || versions != 1 || !version) return false;
  if (!ws::key_valid(key, key_len) || key_len != sizeof c->ws_key) return false;
  std::memcpy(c->ws_key, key, key_len);
  c->ws_key_len = static_cast<uint8_t>(key_len);
  const ws::DeflateConfig& deflate = loop_.options().ws_deflate;
  if (deflate.enabled && extension_lines > 0 && extension_fields == extension_lines) {
    auto offer = std::make_unique<WsDeflateOffer>();
    ws::NegotiationResult r = ws::negotiate(extensions, extension_lines, deflate, offer->response);
    if (r.outcome == ws::Negotiation::kAccepted) {
      offer->agreed = r.agreed;
      offer->response_len = static_cast<uint8_t>(r.response_len);
      c->ws_deflate = std::move(offer);
    }
  }
  return true;
}

int Http1Exchange::upgrade(Connection* c, double handle, int kind, const char* headers, size_t headers_len) {
  if (!current(c, handle) || !c->request_active || c->reply.started || !c->upgradable) return kReplyGone;
  Exchange* next = loop_.upgrade_exchange(kind);
  if (!next) return kReplyGone;
  if (kind == kUpgradeWebSocket) {
    if (c->ws_key_len != sizeof c->ws_key) return kReplyGone;
    static const char kHead[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: ";
    char accept[ws::kAcceptLen];
    ws::accept_key(c->ws_key, c->ws_key_len, accept);
    c->out.append(kHead, sizeof kHead - 1);
    c->out.append(accept, sizeof accept);
    c->out.append("\r\n", 2);
    if (c->ws_deflate) {
      static const char kExt[] = "Sec-WebSocket-Extensions: ";
      c->out.append(kExt, sizeof kExt - 1);
      c->out.append(c->ws_deflate->response, c->ws_deflate->response_len);
      c->out.append("\r\n", 2);
    }
    c->out.append(headers, headers_len);
    c->out.append("\r\n", 2);
  }
  // The reply is this switch: nothing more of HTTP is written or read here.
  c->reply.started = true;
  c->reply.ended = true;
  c->keep_alive = false;
  c->in_state = Connection::In::kUpgraded;
  c->body_flowing = false;
  c->head_deadline_ms = 0;
  c->exchange = next;
  next->on_accept(c);  // hangs its state on c; bytes already buffered are its own
  loop_.mark_dirty(c);
  return kReplyOk;
}

bool Http1Exchange::can_chunk(const Connection* c) const { return c->http11; }

void Http1Exchange::write_head(Connection* c, int status, const char* headers, size_t headers_len, uint32_t flags) {
  char* out = c->out.reserve(http1::head_size(headers_len));
  const char* date = (flags & Loop::kNoDate) ? nullptr : loop_.date_line();
  c->out.commit(http1::head(out, status, c->http11, headers, headers_len, date, c->reply.framing, c->reply.left,
                            c->keep_alive));
}

size_t Http1Exchange::error_response(char* out, int status) {
  return http1::error_response(out, status, loop_.date_line());
}

}  // namespace tsgi

namespace tsgi {

std::unique_ptr<Exchange> make_http1_exchange(Loop& loop) { return std::make_unique<Http1Exchange>(loop); }

}  // namespace tsgi
