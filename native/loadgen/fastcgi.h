// FastCGI for the load generator (FastCGI 1.0 specification): the records a
// web server sends for one RESPONDER request, and a reader of the reply's
// records that follows several requests multiplexed on one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tsgi::loadgen::fcgi {

constexpr uint8_t kVersion = 1;
enum Type : uint8_t { kBeginRequest = 1, kEndRequest = 3, kParams = 4, kStdin = 5, kStdout = 6, kStderr = 7 };
constexpr uint8_t kRequestComplete = 0;  // END_REQUEST protocolStatus (section 5.5)

// BEGIN_REQUEST (RESPONDER, FCGI_KEEP_CONN if keep_conn), the params in PARAMS
// records of at most 64 KiB, an empty PARAMS, the body in STDIN records, an
// empty STDIN: the bytes nginx writes. Content padded to 8 bytes as nginx does
// (section 3.3: "recommended").
std::string request(const std::vector<std::pair<std::string, std::string>>& params, const std::string& body,
                    bool keep_conn, uint16_t id);

// Per request id in flight: what its reply has brought so far.
struct Stream {
  bool active = false;
  std::string head;  // the first max_head bytes of STDOUT (the CGI head)
  uint64_t stdout_bytes = 0, stderr_bytes = 0;
  uint8_t protocol_status = 0;
};

// A state machine over the record stream, resumable at any byte; buffers
// nothing but each stream's first max_head bytes of STDOUT.
class Reader {
 public:
  enum Rc { kAgain, kEnd, kFraming, kProtocol };

  void init(unsigned max_id, size_t max_head);
  void begin(uint16_t id);  // a request with this id (1..max_id) is in flight
  void clear();             // the connection is gone: nothing in flight
  void restart() { state_ = kHeader, got_ = 0; }  // a new connection: at a record boundary
  bool mid_record() const { return state_ != kHeader || got_ != 0; }
  Stream& stream(uint16_t id) { return streams_[id - 1]; }

  // Takes bytes from data[0, n) up to and including an END_REQUEST record
  // (kEnd, its id in *id), an error, or the end of the data (kAgain); *used is
  // how many. kFraming: not FastCGI records; kProtocol: a record for a request
  // id that is not in flight. The reason in *why when given.
  Rc feed(const char* data, size_t n, size_t* used, uint16_t* id, std::string* why);

 private:
  enum State : uint8_t { kHeader, kContent, kPadding };
  Rc end(size_t i, size_t* used, uint16_t* id);

  std::vector<Stream> streams_;
  size_t max_head_ = 0;
  State state_ = kHeader;
  uint8_t hdr_[8] = {};
  uint8_t end_[8] = {};
  size_t got_ = 0;
  uint8_t type_ = 0;
  uint16_t id_ = 0;
  size_t left_ = 0;
  uint8_t pad_ = 0;
};

}  // namespace tsgi::loadgen::fcgi
