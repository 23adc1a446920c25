// What every exchange shares (core/exchange.h).
#include "core/exchange.h"

#include <string>

#include "conn/connection.h"
#include "core/loop.h"

namespace tsgi {

int Exchange::read_data(Connection* c, double handle, bool flowing) {
  (void)c, (void)handle, (void)flowing;
  return kReplyGone;  // only FastCGI's FILTER role has a DATA stream
}

int Exchange::write_stderr(Connection* c, double handle, const char* data, size_t len) {
  (void)c, (void)handle, (void)data, (void)len;
  return kReplyGone;  // no error stream: the caller logs the text instead
}

int Exchange::retract(Connection* c, double handle) {
  (void)c, (void)handle;
  return kReplyGone;  // FastCGI's records go out as they are made
}

int Exchange::upgrade(Connection* c, double handle, int kind, const char* headers, size_t headers_len) {
  (void)c, (void)handle, (void)kind, (void)headers, (void)headers_len;
  return kReplyGone;  // only HTTP/1.1 switches protocols
}

int Exchange::ws_send(Connection* c, double handle, const char* data, size_t len, uint32_t flags) {
  (void)c, (void)handle, (void)data, (void)len, (void)flags;
  return kReplyGone;
}

int Exchange::ws_close(Connection* c, double handle, uint16_t code, const char* reason, size_t reason_len) {
  (void)c, (void)handle, (void)code, (void)reason, (void)reason_len;
  return kReplyGone;
}

void Exchange::answer_http_client(Connection* c, const char* protocol, const char* directive) {
  const Listener* l = loop_.listener(c->listener);
  std::string name = l ? l->name : std::string("?");
  std::string msg = std::string("This is a ") + protocol + " socket (" + name +
                    "), not HTTP: use the --http address, or point nginx's " + directive + " here.\n";
  std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                      std::to_string(msg.size()) + "\r\nConnection: close\r\n\r\n" + msg;
  loop_.sink().log(std::string("HTTP request on ") + protocol + " socket " + name + " from " +
                   (c->peer_host.empty() ? "a unix peer" : c->peer_host) + "; answered 400");
  loop_.send_raw_and_close(c, reply.data(), reply.size());
}

}  // namespace tsgi
