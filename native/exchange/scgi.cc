// SCGI (python.ca/scgi/protocol.txt): the variables as a netstring
// (proto/scgi/framer.h); replies carry their status as a Status header.
#include <memory>

#include "core/loop.h"
#include "exchange/cgi.h"
#include "proto/scgi/framer.h"

namespace tsgi {

namespace {

class ScgiExchange final : public CgiExchange {
 public:
  explicit ScgiExchange(Loop& loop) : CgiExchange(loop, {"SCGI", "scgi_pass", cgi::Style::kStatusHeader}) {}

 protected:
  void parse_block(const char* data, size_t len, uint32_t max_block, CgiBlock* out) override {
    scgi::Limits lim;
    lim.max_vars = loop_.options().max_cgi_vars;
    lim.max_block = max_block;
    scgi::Error err = scgi::Error::kNone;
    scgi::Result r = scgi::parse(data, len, lim, &request_, &err, &out->detail);
    if (r == scgi::Result::kAgain) {
      out->status = CgiBlock::Status::kAgain;
    } else if (r == scgi::Result::kError) {
      out->status = CgiBlock::Status::kError;
      out->error = scgi::error_text(err);
      out->looks_http = err == scgi::Error::kLooksLikeHttp;
      out->too_large = err == scgi::Error::kTooLarge;
    } else {
      out->status = CgiBlock::Status::kOk;
      out->vars = &request_.vars;
      out->head_len = request_.head_len;
      out->content_length = request_.content_length;
    }
  }

 private:
  scgi::Request request_;  // scratch: one block is parsed at a time
};

}  // namespace

std::unique_ptr<Exchange> make_scgi_exchange(Loop& loop) { return std::make_unique<ScgiExchange>(loop); }

}  // namespace tsgi
