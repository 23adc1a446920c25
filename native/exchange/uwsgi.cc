// uwsgi (the uWSGI project's wire protocol): a 4-byte header and the vars
// block (proto/uwsgi/framer.h); replies start with a status line, which
// Apache's mod_proxy_uwsgi requires and nginx accepts.
#include <memory>

#include "core/loop.h"
#include "exchange/cgi.h"
#include "proto/uwsgi/framer.h"

namespace tsgi {

namespace {

class UwsgiExchange final : public CgiExchange {
 public:
  explicit UwsgiExchange(Loop& loop) : CgiExchange(loop, {"uwsgi", "uwsgi_pass", cgi::Style::kStatusLine}) {}

 protected:
  void parse_block(const char* data, size_t len, uint32_t max_block, CgiBlock* out) override {
    uwsgi::Limits lim;
    lim.max_vars = loop_.options().max_cgi_vars;
    lim.max_block = max_block;
    uwsgi::Error err = uwsgi::Error::kNone;
    uwsgi::Result r = uwsgi::parse(data, len, lim, &packet_, &err, &out->detail);
    if (r == uwsgi::Result::kAgain) {
      out->status = CgiBlock::Status::kAgain;
    } else if (r == uwsgi::Result::kError) {
      out->status = CgiBlock::Status::kError;
      out->error = uwsgi::error_text(err);
      out->looks_http = err == uwsgi::Error::kLooksLikeHttp;
      out->too_large = err == uwsgi::Error::kTooLarge;
    } else {
      out->status = CgiBlock::Status::kOk;
      out->vars = &packet_.vars;
      out->head_len = packet_.head_len;
      out->content_length = packet_.content_length;
      if (packet_.modifier1 == 30) out->rec_flags = kRecStripScriptName;
    }
  }

 private:
  uwsgi::Packet packet_;  // scratch: one block is parsed at a time
};

}  // namespace

std::unique_ptr<Exchange> make_uwsgi_exchange(Loop& loop) { return std::make_unique<UwsgiExchange>(loop); }

}  // namespace tsgi
