#include "static/responder.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include "conn/connection.h"
#include "proto/http1/writer.h"

namespace tsgi::files {

namespace {

constexpr size_t kPumpPiece = 64 * 1024;

bool is(Text t, const char* s) {
  size_t n = std::strlen(s);
  return t.p && t.n == n && std::memcmp(t.p, s, n) == 0;
}

bool same_name(const char* a, size_t n, const char* lower) {
  for (size_t i = 0; i < n; i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return lower[n] == '\0';
}

// `path` is `prefix` or lies below it, segment-wise ("" is the whole space).
bool has_prefix(const char* path, size_t n, const std::string& prefix) {
  if (prefix.empty()) return true;
  if (n < prefix.size() || std::memcmp(path, prefix.data(), prefix.size()) != 0) return false;
  return n == prefix.size() || path[prefix.size()] == '/';
}

int status_of(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
    case EXDEV:  // outside its root: refused, as nginx's disable_symlinks
      return 403;
    default:
      return 404;
  }
}

}  // namespace

void request_from_head(const http1::RequestHead& h, const char* base, StaticRequest* req, std::string joined[2]) {
  *req = StaticRequest();
  req->method = Text{base + h.method.off, h.method.len};
  req->path = h.path.len ? Text{base + h.path.off, h.path.len} : Text{"/", 1};
  req->uri_path = req->path;
  if (h.query.len) req->query = Text{base + h.query.off, h.query.len};
  req->decode = true;
  int seen[2] = {0, 0};
  for (uint32_t i = 0; i < h.num_headers; i++) {
    const http1::Header& f = h.headers[i];
    const char* name = base + f.name.off;
    Text value{base + f.value.off, f.value.len};
    Text* slot = nullptr;
    int list = -1;
    switch (f.name.len) {
      case 5: if (same_name(name, 5, "range")) slot = &req->range; break;
      case 8:
        if (same_name(name, 8, "if-match")) slot = &req->if_match, list = 0;
        else if (same_name(name, 8, "if-range")) slot = &req->if_range;
        break;
      case 13: if (same_name(name, 13, "if-none-match")) slot = &req->if_none_match, list = 1; break;
      case 15: if (same_name(name, 15, "accept-encoding")) slot = &req->accept_encoding; break;
      case 17: if (same_name(name, 17, "if-modified-since")) slot = &req->if_modified_since; break;
      case 19: if (same_name(name, 19, "if-unmodified-since")) slot = &req->if_unmodified_since; break;
      default: break;
    }
    if (!slot) continue;
    if (list >= 0 && seen[list]++ > 0) {
      // A list field sent twice is one list (RFC 9110 5.3).
      std::string& j = joined[list];
      if (seen[list] == 2) j.assign(slot->p, slot->n);
      j.append(", ");
      j.append(value.p, value.n);
      *slot = Text{j.data(), j.size()};
      continue;
    }
    if (!slot->present()) *slot = value;
  }
}

void request_from_vars(const cgi::VarTable& vars, const char* base, StaticRequest* req) {
  *req = StaticRequest();
  Text request_uri, document_uri;
  for (uint32_t i = 0; i < vars.count; i++) {
    const cgi::Var& v = vars.vars[i];
    const char* name = base + v.name.off;
    Text value{base + v.value.off, v.value.len};
    auto named = [&](const char* want) {
      size_t n = std::strlen(want);
      return v.name.len == n && std::memcmp(name, want, n) == 0;
    };
    if (named("REQUEST_METHOD")) req->method = value;
    else if (named("PATH_INFO")) req->path = value;
    else if (named("QUERY_STRING")) req->query = value.n ? value : Text{};
    else if (named("REQUEST_URI")) request_uri = value;
    else if (named("DOCUMENT_URI")) document_uri = value;
    else if (named("HTTP_IF_MATCH")) req->if_match = value;
    else if (named("HTTP_IF_NONE_MATCH")) req->if_none_match = value;
    else if (named("HTTP_IF_MODIFIED_SINCE")) req->if_modified_since = value;
    else if (named("HTTP_IF_UNMODIFIED_SINCE")) req->if_unmodified_since = value;
    else if (named("HTTP_RANGE")) req->range = value;
    else if (named("HTTP_IF_RANGE")) req->if_range = value;
    else if (named("HTTP_ACCEPT_ENCODING")) req->accept_encoding = value;
  }
  if (request_uri.present()) {
    size_t n = 0;
    while (n < request_uri.n && request_uri.p[n] != '?') n++;
    req->uri_path = Text{request_uri.p, n};
  }
  // PATH_INFO is decoded already (RFC 3875 4.1.5); nginx's scgi_params sends
  // DOCUMENT_URI instead, decoded too; failing both, REQUEST_URI's path.
  req->decode = false;
  if (!req->path.present()) req->path = document_uri;
  if (!req->path.present() && req->uri_path.present()) {
    req->path = req->uri_path;
    req->decode = true;
  }
  if (!req->uri_path.present()) req->uri_path = req->path;
}

StaticFiles::StaticFiles(Sink* app, std::unique_ptr<StaticConfig> config)
    : app_(app),
      config_(std::move(config)),
      cache_(config_->cache_entries < 8 ? 8 : config_->cache_entries, config_->cache_valid_ms, config_->memory_max) {
  // A multipart boundary the files are unlikely to hold (RFC 2046 5.1.1
  // asks only that no part contain it; the parts' own bytes are files).
  static const char kHex[] = "0123456789abcdef";
  uint64_t seed = static_cast<uint64_t>(time(nullptr)) ^ (static_cast<uint64_t>(getpid()) << 32) ^
                  reinterpret_cast<uintptr_t>(this);
  boundary_ = "tsgi-";
  for (int i = 0; i < 20; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    boundary_.push_back(kHex[(seed >> 59) & 15]);
  }
}

StaticFiles::~StaticFiles() {
  for (auto& kv : transfers_) {
    if (kv.second.fd >= 0) close(kv.second.fd);
  }
}

void StaticFiles::on_request(Connection& c, double handle, const http1::RequestHead& head, const char* head_bytes,
                             uint32_t rec_flags) {
  StaticRequest req;
  request_from_head(head, head_bytes, &req, joined_);
  if ((rec_flags & kRecUpgradable) == 0 && this->handle(c, handle, req) == Outcome::kServed) {
    if (config_->report) {
      app_->on_request(c, handle, head, head_bytes, rec_flags | kRecServed);
      app_->on_served(handle, last_status_, is(req.method, "HEAD") ? 0 : last_bytes_);
    }
    return;
  }
  app_->on_request(c, handle, head, head_bytes, rec_flags);
}

void StaticFiles::on_cgi_request(Connection& c, double handle, const cgi::VarTable& vars, const char* head_bytes,
                                 uint32_t head_len, uint64_t content_length, uint32_t rec_flags) {
  // FastCGI's AUTHORIZER and FILTER roles ask the app something else.
  if ((rec_flags & (kRecAuthorizer | kRecFilter)) == 0) {
    StaticRequest req;
    request_from_vars(vars, head_bytes, &req);
    if (req.path.present() && this->handle(c, handle, req) == Outcome::kServed) {
      if (config_->report) {
        app_->on_cgi_request(c, handle, vars, head_bytes, head_len, content_length, rec_flags | kRecServed);
        app_->on_served(handle, last_status_, is(req.method, "HEAD") ? 0 : last_bytes_);
      }
      return;
    }
  }
  app_->on_cgi_request(c, handle, vars, head_bytes, head_len, content_length, rec_flags);
}

void StaticFiles::on_abort(double handle) {
  if (!transfers_.empty()) {
    auto it = transfers_.find(handle);
    if (it != transfers_.end()) {
      if (it->second.fd >= 0) close(it->second.fd);
      transfers_.erase(it);
      return;
    }
  }
  app_->on_abort(handle);
}

void StaticFiles::on_drain(double handle) {
  if (!transfers_.empty()) {
    auto it = transfers_.find(handle);
    if (it != transfers_.end()) {
      pump(handle, it->second);
      if (it->second.fd < 0) transfers_.erase(it);
      return;
    }
  }
  app_->on_drain(handle);
}

StaticFiles::Outcome StaticFiles::handle(Connection& c, double handle, const StaticRequest& req) {
  const StaticConfig& cfg = *config_;
  bool get = is(req.method, "GET"), head = is(req.method, "HEAD");
  PathError err = clean_path(req.path.p, req.path.n, req.decode, &clean_);
  if (err != PathError::kNone) {
    // A path we cannot read is refused when it is under a static prefix as
    // sent; elsewhere it is the app's to judge.
    for (const StaticConfig::Map& m : cfg.maps) {
      if (has_prefix(req.path.p, req.path.n, m.prefix)) {
        reply_status(handle, 400);
        return Outcome::kServed;
      }
    }
    return Outcome::kApp;
  }
  bool sendfile = c.exchange->sends_files();
  const std::string& path = clean_.path;
  for (const StaticConfig::Map& m : cfg.maps) {  // longest prefix first
    if (!has_prefix(path.data(), path.size(), m.prefix)) continue;
    if (!get && !head) {
      reply_status(handle, 405, "Allow: GET, HEAD\r\n");  // RFC 9110 15.5.6
      return Outcome::kServed;
    }
    size_t rest = m.prefix.size();
    if (!cfg.dotfiles && path.find("/.", rest) != std::string::npos) {
      reply_status(handle, 404);
      return Outcome::kServed;
    }
    if (m.file) {
      if (path.size() != rest) {
        reply_status(handle, 404);
        return Outcome::kServed;
      }
      file_ = m.target;
    } else {
      file_ = m.target;
      if (path.size() > rest) file_.append(path, rest, std::string::npos);
    }
    return serve_path(handle, sendfile, req, file_, m.target, false, std::string(), false);
  }
  if (cfg.check_roots.empty() || (!get && !head)) return Outcome::kApp;
  if (clean_.hidden && !cfg.dotfiles) return Outcome::kApp;
  for (const std::string& root : cfg.check_roots) {
    file_ = root;
    if (path.size() > 1) file_.append(path);
    if (serve_path(handle, sendfile, req, file_, root, true, std::string(), false) == Outcome::kServed) {
      return Outcome::kServed;
    }
  }
  return Outcome::kApp;
}

// `file` under `root`: a file, a directory (its index, or the slash form),
// or an error. With `fallback` (--check-static) anything but a file to send
// is the app's.
StaticFiles::Outcome StaticFiles::serve_path(double handle, bool sendfile, const StaticRequest& req,
                                             const std::string& file, const std::string& root, bool fallback,
                                             const std::string& extra, bool app_type) {
  const StaticConfig& cfg = *config_;
  bool trailing = clean_.trailing_slash;
  const FileInfo* f = cache_.get(file, root, cfg.follow_symlinks, loop_->now());
  if (f->err != 0) {
    if (fallback) return Outcome::kApp;
    if (f->err == EXDEV) log("static: " + file + " leads outside its root " + root + "; refused");
    reply_status(handle, status_of(f->err));
    return Outcome::kServed;
  }
  if (f->directory) {
    std::string index;
    for (const std::string& name : cfg.index) {
      std::string candidate = file + "/" + name;
      const FileInfo* i = cache_.get(candidate, root, cfg.follow_symlinks, loop_->now());
      if (i->err == 0 && i->regular) {
        index = candidate;
        break;
      }
    }
    if (index.empty()) {
      if (fallback) return Outcome::kApp;
      reply_status(handle, 403);  // no listings
      return Outcome::kServed;
    }
    if (!trailing) {
      // The index's relative links resolve against the slash form.
      std::string loc = "Location: ";
      loc.append(req.uri_path.p, req.uri_path.n);
      loc.push_back('/');
      if (req.query.present()) {
        loc.push_back('?');
        loc.append(req.query.p, req.query.n);
      }
      loc.append("\r\n");
      reply_status(handle, 301, loc.c_str());
      return Outcome::kServed;
    }
    const FileInfo* i = cache_.get(index, root, cfg.follow_symlinks, loop_->now());
    serve_file(handle, sendfile, req, *i, index, root, extra, app_type);
    return Outcome::kServed;
  }
  if (!f->regular || trailing) {
    if (fallback) return Outcome::kApp;
    reply_status(handle, f->regular ? 404 : 403);
    return Outcome::kServed;
  }
  serve_file(handle, sendfile, req, *f, file, root, extra, app_type);
  return Outcome::kServed;
}

void StaticFiles::cache_headers(const std::string& type) {
  const StaticConfig& cfg = *config_;
  int64_t seconds = cfg.expires;
  for (const StaticConfig::Expires& e : cfg.expires_type) {
    bool prefix = !e.type.empty() && e.type.back() == '/';
    size_t n = prefix ? e.type.size() : type.find(';');
    if (n == std::string::npos) n = type.size();
    if (type.compare(0, n, e.type) == 0 && (prefix || n == e.type.size())) {
      seconds = e.seconds;
      break;
    }
  }
  if (seconds < 0) return;
  head_ += "Cache-Control: max-age=" + std::to_string(seconds) + "\r\nExpires: ";
  char date[kHttpDateLen];
  format_http_date(static_cast<int64_t>(time(nullptr)) + seconds, date);
  head_.append(date, kHttpDateLen);
  head_ += "\r\n";
}

void StaticFiles::serve_file(double handle, bool sendfile, const StaticRequest& req, const FileInfo& identity,
                             const std::string& file, const std::string& root, const std::string& extra,
                             bool app_type) {
  const StaticConfig& cfg = *config_;
  // The precompressed siblings (file.br, file.gz) that are there: each a
  // representation of its own, with its own entity tag.
  const FileInfo* reps[3] = {&identity, nullptr, nullptr};
  unsigned available = 0;
  static const char* kSuffix[3] = {"", ".gz", ".br"};
  for (int k = kGzip; k <= kBrotli; k++) {
    sibling_ = file;
    sibling_ += kSuffix[k];
    const FileInfo* s = cache_.get(sibling_, root, cfg.follow_symlinks, loop_->now());
    if (s->err == 0 && s->regular) {
      reps[k] = s;
      available |= kCodingBit(static_cast<Coding>(k));
    }
  }
  Coding coding = choose_coding(req.accept_encoding, available);
  const FileInfo& f = *reps[coding];
  const std::string& type = cfg.mime.lookup(file.data(), file.size());

  Validator v{f.etag, f.etag_len, f.mtime_ns >= 0 ? f.mtime_ns / 1000000000 : (f.mtime_ns - 999999999) / 1000000000};
  char date[kHttpDateLen];
  format_http_date(v.mtime, date);
  head_.clear();
  head_ += "ETag: ";
  head_.append(f.etag, f.etag_len);
  head_ += "\r\n";
  if (available) head_ += "Vary: Accept-Encoding\r\n";
  cache_headers(type);
  Preconditions pre{req.if_match, req.if_none_match, req.if_modified_since, req.if_unmodified_since};
  int status = evaluate_preconditions(pre, v);
  if (status == 304) {
    // RFC 9110 15.4.5: the validators and caching fields a 200 would carry.
    head_ += extra;
    loop_->respond(handle, 304, head_.data(), head_.size(), nullptr, 0, -1, Loop::kEnd);
    served_++;
    last_status_ = 304;
    last_bytes_ = 0;
    return;
  }
  if (status == 412) {
    reply_status(handle, 412);
    return;
  }
  head_ += "Last-Modified: ";
  head_.append(date, kHttpDateLen);
  head_ += "\r\nAccept-Ranges: bytes\r\n";
  if (coding != kIdentity) head_ += coding == kBrotli ? "Content-Encoding: br\r\n" : "Content-Encoding: gzip\r\n";
  head_ += extra;

  ByteRange ranges[kMaxRanges];
  size_t count = 0;
  RangeResult rr = RangeResult::kIgnore;
  // RFC 9110 14.2: Range is defined for GET only; If-Range may void it.
  if (is(req.method, "GET") && req.range.present() && if_range_holds(req.if_range, v)) {
    rr = parse_range(req.range, f.size, ranges, &count);
  }
  std::vector<Piece> pieces;
  uint64_t total = 0;
  status = 200;
  auto content_type = [&](std::string* out) {
    if (!app_type) *out += "Content-Type: " + type + "\r\n";
  };
  if (rr == RangeResult::kUnsatisfiable) {
    // 15.5.17: the current length, so the client can ask again.
    std::string h = "Content-Range: bytes */" + std::to_string(f.size) + "\r\n";
    reply_status(handle, 416, h.c_str());
    return;
  }
  if (rr == RangeResult::kOk && count == 1) {
    status = 206;
    content_type(&head_);
    head_ += "Content-Range: bytes " + std::to_string(ranges[0].first) + "-" + std::to_string(ranges[0].last) + "/" +
             std::to_string(f.size) + "\r\n";
    pieces.push_back(Piece{std::string(), ranges[0].first, ranges[0].length(), true});
    total = ranges[0].length();
  } else if (rr == RangeResult::kOk) {
    // 14.6: multipart/byteranges, each part with its type and range.
    status = 206;
    head_ += "Content-Type: multipart/byteranges; boundary=" + boundary_ + "\r\n";
    for (size_t i = 0; i < count; i++) {
      std::string part = (i == 0 ? "--" : "\r\n--") + boundary_ + "\r\n";
      if (!app_type) part += "Content-Type: " + type + "\r\n";
      part += "Content-Range: bytes " + std::to_string(ranges[i].first) + "-" + std::to_string(ranges[i].last) +
              "/" + std::to_string(f.size) + "\r\n\r\n";
      total += part.size() + ranges[i].length();
      pieces.push_back(Piece{std::move(part), 0, 0, false});
      pieces.push_back(Piece{std::string(), ranges[i].first, ranges[i].length(), true});
    }
    std::string end = "\r\n--" + boundary_ + "--\r\n";
    total += end.size();
    pieces.push_back(Piece{std::move(end), 0, 0, false});
  } else {
    content_type(&head_);
    pieces.push_back(Piece{std::string(), 0, f.size, true});
    total = f.size;
  }
  served_++;
  last_status_ = status;
  last_bytes_ = total;
  if (f.in_memory && pieces.size() == 1) {
    // Head and body in one writev (the exchange drops the body after HEAD).
    const char* body = f.body.data() + pieces[0].off;
    loop_->respond(handle, status, head_.data(), head_.size(), body, static_cast<size_t>(pieces[0].len), -1,
                   Loop::kEnd);
    return;
  }
  int rc = loop_->respond(handle, status, head_.data(), head_.size(), nullptr, 0, static_cast<int64_t>(total), 0);
  if (rc == kReplyGone || rc == kReplyOverflow) return;
  if (!is(req.method, "GET")) {
    loop_->end(handle);
    return;
  }
  if (f.in_memory) {
    for (Piece& p : pieces) {
      if (p.file) p.bytes.assign(f.body, static_cast<size_t>(p.off), static_cast<size_t>(p.len)), p.file = false;
    }
  }
  send_pieces(handle, sendfile, f.fd, std::move(pieces));
}

void StaticFiles::send_pieces(double handle, bool sendfile, int fd, std::vector<Piece>&& pieces) {
  if (sendfile) {
    // The queue sends each file piece with sendfile, from a descriptor of its
    // own: the cache may close its one while the client is still reading.
    for (const Piece& p : pieces) {
      int rc;
      if (p.file) {
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (own < 0) {
          log(std::string("static: cannot duplicate a file descriptor: ") + std::strerror(errno));
          loop_->abort(handle);
          return;
        }
        rc = loop_->write_file(handle, own, p.off, p.len);
      } else {
        rc = loop_->write(handle, p.bytes.data(), p.bytes.size());
      }
      if (rc == kReplyGone || rc == kReplyOverflow) return;
    }
    loop_->end(handle);
    return;
  }
  Transfer t;
  t.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (t.fd < 0) {
    loop_->abort(handle);
    return;
  }
  t.pieces = std::move(pieces);
  pump(handle, t);
  if (t.fd >= 0) transfers_.emplace(handle, std::move(t));
}

// Reads the file in pieces into the reply until the client's queue is full;
// on_drain calls again. Sets t.fd to -1 when the transfer is over.
void StaticFiles::pump(double handle, Transfer& t) {
  char buf[kPumpPiece];
  auto finish = [&]() {
    close(t.fd);
    t.fd = -1;
  };
  while (t.next < t.pieces.size()) {
    Piece& p = t.pieces[t.next];
    if (!p.file) {
      int rc = loop_->write(handle, p.bytes.data(), p.bytes.size());
      t.next++;
      if (rc == kReplyGone || rc == kReplyOverflow) return finish();
      if (rc == kReplyFull) return;
      continue;
    }
    while (t.done < p.len) {
      uint64_t want = p.len - t.done < kPumpPiece ? p.len - t.done : kPumpPiece;
      ssize_t n = pread(t.fd, buf, static_cast<size_t>(want), static_cast<off_t>(p.off + t.done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The file shrank under us: the reply cannot be completed.
        log("static: a file shrank while it was sent; the reply is cut short");
        loop_->abort(handle);
        return finish();
      }
      t.done += static_cast<uint64_t>(n);
      int rc = loop_->write(handle, buf, static_cast<size_t>(n));
      if (rc == kReplyGone || rc == kReplyOverflow) return finish();
      if (rc == kReplyFull) {
        if (t.done == p.len) t.next++, t.done = 0;
        return;
      }
    }
    t.next++;
    t.done = 0;
  }
  loop_->end(handle);
  finish();
}

void StaticFiles::reply_status(double handle, int status, const char* extra_headers) {
  std::string body = std::to_string(status) + " " + http1::reason_phrase(status) + "\n";
  std::string h = "Content-Type: text/plain; charset=utf-8\r\n";
  h += extra_headers;
  loop_->respond(handle, status, h.data(), h.size(), body.data(), body.size(), -1, Loop::kEnd);
  served_++;
  last_status_ = status;
  last_bytes_ = body.size();
}

int StaticFiles::offload(double handle, bool accel, Text target, const StaticRequest& req, const char* headers,
                         size_t headers_len, bool app_type) {
  const StaticConfig& cfg = *config_;
  std::string extra(headers, headers_len);
  int sendfile = loop_->sends_files(handle);
  if (sendfile < 0) return kReplyGone;
  size_t n = target.n;
  if (accel) {
    for (size_t i = 0; i < n; i++) {
      if (target.p[i] == '?') n = i;  // the query, if any, names no file
    }
  }
  if (clean_path(target.p, n, accel, &clean_) != PathError::kNone) {
    log("static: refused the offload path " + std::string(target.p, target.n));
    reply_status(handle, 403);
    return kReplyOk;
  }
  clean_.trailing_slash = false;
  const std::string& path = clean_.path;
  const StaticConfig::Offload* hit = nullptr;
  for (const StaticConfig::Offload& o : cfg.offload) {
    if (accel ? has_prefix(path.data(), path.size(), o.prefix) : under_root(path, o.root)) {
      if (!hit || (accel && o.prefix.size() > hit->prefix.size())) hit = &o;
    }
  }
  if (!hit) {
    log(std::string("static: ") + (accel ? "X-Accel-Redirect " : "X-Sendfile ") + path +
        " is under no --offload-root; refused");
    reply_status(handle, 403);
    return kReplyOk;
  }
  std::string file = accel ? hit->root + path.substr(hit->prefix.size()) : path;
  if (!cfg.dotfiles && file.find("/.", hit->root.size()) != std::string::npos) {
    reply_status(handle, 404);
    return kReplyOk;
  }
  StaticRequest r = req;
  if (!is(r.method, "HEAD")) r.method = Text{"GET", 3};  // a POST's answer is a file all the same
  serve_path(handle, sendfile > 0, r, file, hit->root, false, extra, app_type);
  return kReplyOk;
}

}  // namespace tsgi::files
