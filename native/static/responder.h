// Static files answered by the core, without a JavaScript call. The
// responder stands between the loop and the app's sink: every request an
// exchange parsed passes through it, and one that maps to a file
// (--static-map, --check-static) is answered here through the loop's own
// reply calls, so each protocol frames it as it frames an app's reply (an
// HTTP status line, a uwsgi/SCGI CGI head, FastCGI STDOUT records). Every
// other event goes on to the app unchanged. An app's reply that names a
// file (X-Sendfile, X-Accel-Redirect) comes back here through offload().
//
// The rules it applies are static/rules.h's; the files come from the
// open-file cache (static/file_cache.h). The body goes out with sendfile
// where the protocol sends bytes unframed, from memory for small files, and
// read in pieces where a protocol frames them (FastCGI), one piece after
// another as the client takes them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/loop.h"
#include "static/file_cache.h"
#include "static/mime.h"
#include "static/rules.h"

namespace tsgi::files {

struct StaticConfig {
  struct Map {
    std::string prefix;  // URL path, no trailing '/' ("" for "/")
    std::string target;  // a directory or a file, as a real path
    bool file = false;   // the target is one file (/favicon.ico=./favicon.ico)
  };
  struct Expires {
    std::string type;  // a MIME type, or a prefix ending in '/' ("image/")
    uint32_t seconds = 0;
  };
  struct Offload {
    std::string prefix;  // X-Accel-Redirect's URL prefix ("" for "/")
    std::string root;    // real path; X-Sendfile's files lie under one
  };
  std::vector<Map> maps;                 // --static-map PREFIX=PATH, longest prefix first
  std::vector<std::string> check_roots;  // --check-static DIR (real paths)
  std::vector<std::string> index;        // --static-index NAME, tried in order
  std::vector<Offload> offload;          // --offload-root [PREFIX=]DIR
  int64_t expires = -1;                  // --static-expires SECONDS (-1: no Cache-Control)
  std::vector<Expires> expires_type;     // --static-expires-type TYPE=SECONDS
  bool follow_symlinks = false;          // --static-follow-symlinks
  bool dotfiles = false;                 // --static-dotfiles
  uint32_t cache_entries = 1024;         // --static-cache-entries
  uint32_t cache_valid_ms = 1000;        // --static-cache-valid (ms)
  bool report = false;                   // pass each answered request on (kRecServed) for the log and counters
  size_t memory_max = 16 * 1024;         // files up to this are sent from memory
  MimeTypes mime;
};

// What the rules need of a request, from an HTTP head or CGI variables.
struct StaticRequest {
  Text method, path, query, uri_path;  // path: as mapped; uri_path: as the client sent it
  bool decode = true;                  // path is percent-encoded (HTTP), not a CGI PATH_INFO
  Text if_match, if_none_match, if_modified_since, if_unmodified_since, range, if_range, accept_encoding;
};

class StaticFiles final : public Sink {
 public:
  StaticFiles(Sink* app, std::unique_ptr<StaticConfig> config);
  ~StaticFiles() override;
  void attach(Loop* loop) { loop_ = loop; }

  // An app's reply named a file (X-Sendfile: a path under an offload root;
  // X-Accel-Redirect: a URL under an offload prefix): answer with it, the
  // app's own header block (already stripped of the offload field and the
  // framing) added to the file's. kReplyGone when the handle is not live;
  // a file refused is its 404/403, not an error of the call.
  int offload(double handle, bool accel, Text target, const StaticRequest& req, const char* headers,
              size_t headers_len, bool app_type);

  // Sink: requests are looked at; the rest goes on, except the events of a
  // reply being sent from here.
  void on_request(Connection& c, double handle, const http1::RequestHead& head, const char* head_bytes,
                  uint32_t rec_flags) override;
  void on_cgi_request(Connection& c, double handle, const cgi::VarTable& vars, const char* head_bytes,
                      uint32_t head_len, uint64_t content_length, uint32_t rec_flags) override;
  void on_body(double handle, const char* data, size_t len) override { app_->on_body(handle, data, len); }
  void on_body_end(double handle) override { app_->on_body_end(handle); }
  void on_body_error(double handle, int status) override { app_->on_body_error(handle, status); }
  void on_abort(double handle) override;
  void on_drain(double handle) override;
  void on_data(double handle, const char* data, size_t len) override { app_->on_data(handle, data, len); }
  void on_data_end(double handle) override { app_->on_data_end(handle); }
  void on_data_error(double handle, int status) override { app_->on_data_error(handle, status); }
  void on_ws_message(double handle, const char* data, size_t len, bool binary) override {
    app_->on_ws_message(handle, data, len, binary);
  }
  void on_ws_close(double handle, uint16_t code, const char* reason, size_t reason_len) override {
    app_->on_ws_close(handle, code, reason, reason_len);
  }
  void log(const std::string& line) override { app_->log(line); }

  size_t served() const { return served_; }
  size_t cached_fds() const { return cache_.open_fds(); }

 private:
  // One piece of a reply body: bytes of our own, or a range of the file.
  struct Piece {
    std::string bytes;
    uint64_t off = 0, len = 0;
    bool file = false;
  };
  // A reply whose file is read in pieces (a framing protocol), waiting for drain.
  struct Transfer {
    int fd = -1;
    std::vector<Piece> pieces;
    size_t next = 0;
    uint64_t done = 0;  // of pieces[next]
  };
  enum class Outcome : uint8_t { kServed, kApp };

  Outcome handle(Connection& c, double handle, const StaticRequest& req);
  Outcome serve_path(double handle, bool sendfile, const StaticRequest& req, const std::string& file,
                     const std::string& root, bool fallback, const std::string& extra, bool app_type);
  void serve_file(double handle, bool sendfile, const StaticRequest& req, const FileInfo& f,
                  const std::string& file, const std::string& root, const std::string& extra, bool app_type);
  void reply_status(double handle, int status, const char* extra_headers = "");
  void send_pieces(double handle, bool sendfile, int fd, std::vector<Piece>&& pieces);
  void pump(double handle, Transfer& t);
  void cache_headers(const std::string& type);

  Sink* app_;
  Loop* loop_ = nullptr;
  std::unique_ptr<StaticConfig> config_;
  FileCache cache_;
  std::unordered_map<double, Transfer> transfers_;
  std::string boundary_;
  size_t served_ = 0;
  // The reply just given: its status and body bytes (0 for HEAD and 304).
  int last_status_ = 0;
  uint64_t last_bytes_ = 0;
  // Scratch, reused so a request allocates nothing once they have grown.
  CleanPath clean_;
  std::string file_, sibling_, head_, joined_[2];
};

// Fills `req` from an HTTP/1.1 head or CGI variables; false for a request
// the responder never takes (not a path it can map).
void request_from_head(const http1::RequestHead& h, const char* base, StaticRequest* req, std::string joined[2]);
void request_from_vars(const cgi::VarTable& vars, const char* base, StaticRequest* req);

}  // namespace tsgi::files
