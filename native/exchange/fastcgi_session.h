// The FastCGI state of one connection: its record decoder and the requests
// in flight on it (several at once when the web server multiplexes). Data
// only; the request cycle that drives it is exchange/fastcgi.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conn/connection.h"
#include "conn/reply.h"
#include "proto/fastcgi/framer.h"

namespace tsgi {

struct FcgiRequest {
  uint16_t id = 0;
  uint16_t role = 0;
  double handle = 0;          // set once PARAMS is complete and the app has it
  bool dispatched = false;
  bool refused = false;       // answered by the server itself; later records ignored
  bool flowing = false;       // the app is reading STDIN
  bool held = false;          // its STDIN waits in the connection's input for the app
  bool stdin_ended = false;
  bool body_end_sent = false;
  int body_error = 0;         // STDIN did not match CONTENT_LENGTH: the status to report
  ReplyState reply;
  uint64_t stdin_seen = 0;
  // The client's progress, for the timeouts: BEGIN_REQUEST (then the end of
  // PARAMS is due within the header timeout), later STDIN's last bytes.
  uint64_t since_ms = 0;
  // FILTER (spec 6.4): the DATA stream, a second input flowing like STDIN.
  bool data_flowing = false;
  bool data_ended = false;
  bool data_end_sent = false;
  bool has_data_length = false;
  int data_error = 0;         // DATA did not match DATA_LENGTH
  uint64_t data_length = 0;
  uint64_t data_seen = 0;
  bool stderr_used = false;   // STDERR was written: end it with an empty record
  std::string params;         // the name-value store the variables point into
  fastcgi::ParamsParser parser;
  fastcgi::Params vars;
  std::string stdin_buf;      // body bytes the app has not asked for yet
  std::string data_buf;       // FILTER: DATA bytes the app has not asked for yet
};

struct FcgiSession final : ExchangeState {
  fastcgi::Decoder decoder;
  std::vector<FcgiRequest*> requests;
  bool keep_conn = false;     // FCGI_KEEP_CONN of the latest BEGIN_REQUEST

  ~FcgiSession() override {
    for (FcgiRequest* r : requests) delete r;
  }
  FcgiRequest* by_id(uint16_t id) const {
    for (FcgiRequest* r : requests) if (r->id == id) return r;
    return nullptr;
  }
  FcgiRequest* by_handle(double handle) const {
    for (FcgiRequest* r : requests) if (r->dispatched && r->handle == handle) return r;
    return nullptr;
  }
  void remove(FcgiRequest* r) {
    for (size_t i = 0; i < requests.size(); i++) {
      if (requests[i] == r) {
        requests.erase(requests.begin() + static_cast<long>(i));
        delete r;
        return;
      }
    }
  }
};

}  // namespace tsgi
