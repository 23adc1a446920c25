// The protocols a listener can speak, each with its exchange: the one place
// that names them all. A new protocol adds its factory here (docs/design.md,
// "Adding a protocol").
#include <memory>

#include "core/exchange.h"
#include "core/loop.h"

namespace tsgi {

std::unique_ptr<Exchange> make_http1_exchange(Loop& loop);    // exchange/http1.cc
std::unique_ptr<Exchange> make_uwsgi_exchange(Loop& loop);    // exchange/uwsgi.cc
std::unique_ptr<Exchange> make_scgi_exchange(Loop& loop);     // exchange/scgi.cc
std::unique_ptr<Exchange> make_fastcgi_exchange(Loop& loop);  // exchange/fastcgi.cc

std::unique_ptr<Exchange> make_tunnel_exchange(Loop& loop);     // exchange/tunnel.cc
std::unique_ptr<Exchange> make_websocket_exchange(Loop& loop);  // exchange/websocket.cc

std::unique_ptr<Exchange> make_exchange(Protocol protocol, Loop& loop) {
  switch (protocol) {
    case Protocol::kHttp: return make_http1_exchange(loop);
    case Protocol::kUwsgi: return make_uwsgi_exchange(loop);
    case Protocol::kScgi: return make_scgi_exchange(loop);
    case Protocol::kFastcgi: return make_fastcgi_exchange(loop);
  }
  return nullptr;
}

// A protocol entered from HTTP/1.1 by Upgrade: no listener speaks it.
std::unique_ptr<Exchange> make_upgrade_exchange(int kind, Loop& loop) {
  switch (kind) {
    case kUpgradeTunnel: return make_tunnel_exchange(loop);
    case kUpgradeWebSocket: return make_websocket_exchange(loop);
  }
  return nullptr;
}

}  // namespace tsgi
