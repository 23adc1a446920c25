// One accepted socket: its input buffer, its output queue and the state of the
// request on it. The request cycle itself is driven by Loop (core/loop.cc)
// and the connection's Exchange (core/exchange.h); this file owns the
// buffers and the bookkeeping they need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "conn/out_queue.h"
#include "conn/reply.h"
#include "proto/http1/parser.h"
#include "proto/http1/writer.h"
#include "proto/ws/extension.h"

namespace tsgi {

class Exchange;

// permessage-deflate as agreed in a WebSocket handshake (RFC 7692), kept
// from the request's head to the app's accepting it.
struct WsDeflateOffer {
  ws::DeflateAgreement agreed;
  uint8_t response_len = 0;
  char response[ws::kMaxExtensionResponse];  // the 101's Sec-WebSocket-Extensions value
};

// What a connection's exchange keeps beyond the fields of Connection (the
// FastCGI request table); owned by the connection, freed with it.
struct ExchangeState {
  virtual ~ExchangeState() = default;
};

class Connection {
 public:
  Connection(int fd, uint32_t slot, uint32_t listener, bool is_tcp);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Input: the unconsumed bytes are [in_data(), in_data() + in_len()).
  const char* in_data() const { return in_buf_ + in_start_; }
  size_t in_len() const { return in_end_ - in_start_; }
  void consume(size_t n);
  // Reads once into the buffer, growing it up to `limit` buffered bytes.
  // Returns bytes read, 0 at EOF, -EAGAIN, -ENOBUFS when the buffer is at
  // limit, or another -errno. *filled says the read used all the room offered
  // (so the socket may hold more); after a short read another read() would
  // only say EAGAIN, a syscall the level-triggered poller makes unnecessary.
  ssize_t read_into(size_t limit, bool* filled);
  // Gives back memory of an idle connection.
  void shrink();

  // Identity, fixed at accept.
  const int fd;
  bool fd_closed = false;  // closed by Loop::close_conn; the object lives to the batch's end
  bool registered = false; // known to the poller
  const uint32_t slot;
  const uint32_t listener;
  const bool is_tcp;
  Exchange* exchange = nullptr;         // its protocol's side of the cycle (core/exchange.h)
  ExchangeState* exchange_state = nullptr;  // owned; what the exchange keeps beyond the fields below
  std::string peer_host, local_host;
  uint16_t peer_port = 0, local_port = 0;

  // Input side of the current request.
  enum class In : uint8_t {
    kHead,      // waiting for a request head
    kBody,      // request dispatched, body arriving
    kBodyDone,  // request dispatched, body complete; later bytes wait
    kDiscard,   // reply done, dropping the rest of an unread body
    kUpgraded,  // the connection switched protocols (WebSocket, a tunnel): its
                // exchange owns the bytes; head_deadline_ms is its idle deadline
  };
  In in_state = In::kHead;
  size_t head_scan = 0;
  bool chunked = false;
  uint64_t body_left = 0;   // Content-Length bytes not yet taken
  uint64_t body_seen = 0;   // for max_body on chunked bodies
  http1::ChunkedDecoder decoder;
  bool body_flowing = false;   // the app is reading the body
  // The app just asked for the body: read before waiting for the poller
  // (the bytes have usually arrived with the head).
  bool read_now = false;
  // Such a read made events the app has not seen yet: registering with the
  // poller waits a round, for the reply that may close the connection first.
  bool unseen = false;
  bool expect_continue = false;
  bool continue_sent = false;
  bool peer_eof = false;
  // The request may switch protocols (HTTP/1.1 Upgrade, no body), and its
  // Sec-WebSocket-Key when it is a valid WebSocket handshake (ws_key_len 24).
  bool upgradable = false;
  uint8_t ws_key_len = 0;
  char ws_key[24] = {};
  std::unique_ptr<WsDeflateOffer> ws_deflate;  // null: no extension agreed

  // Output side.
  bool request_active = false;  // dispatched and the reply not finished
  ReplyState reply;
  bool http11 = true;
  bool keep_alive = true;
  bool close_after_flush = false;
  bool clean_close = false;   // the request was read to its end and nothing follows: no lingering
  bool lingering = false;     // reply sent, write side shut: dropping input until EOF
  OutQueue out;

  // Bookkeeping.
  double handle = 0;           // current request's handle, 0 when none
  uint32_t requests = 0;       // served on this connection
  uint32_t interest = 0;       // poller interest now registered
  uint64_t deadline_ms = 0;    // 0 = none; derived by Loop::settle()
  uint64_t head_deadline_ms = 0;  // waiting for a request head (header or keep-alive timeout)
  uint64_t send_since_ms = 0;  // output pending since / last progress (0 = none pending)
  uint64_t recv_since_ms = 0;
  uint64_t linger_until_ms = 0;  // waiting for body bytes since / last progress
  bool dirty = false;
  bool closed = false;

 private:
  void free_in();
  char* in_buf_ = nullptr;
  size_t in_cap_ = 0, in_start_ = 0, in_end_ = 0;
};

}  // namespace tsgi
