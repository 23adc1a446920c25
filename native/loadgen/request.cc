// See request.h.
#include "loadgen/request.h"

#include <algorithm>
#include <stdexcept>
#include <strings.h>

#include "loadgen/fastcgi.h"

namespace tsgi::loadgen {

namespace {

using Vars = std::vector<std::pair<std::string, std::string>>;

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// PATH_INFO is the decoded path, as a web server sends it (RFC 3875 4.1.5).
std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += char(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 3875 4.1.18: HTTP_ + the name upper-cased, '-' as '_'.
std::string cgi_header_name(const std::string& name) {
  std::string out = "HTTP_";
  for (char c : name) out += c == '-' ? '_' : char(c >= 'a' && c <= 'z' ? c - 32 : c);
  return out;
}

std::string header(const Options& o, const char* name) {
  for (const auto& [k, v] : o.headers)
    if (strcasecmp(k.c_str(), name) == 0) return v;
  return "";
}

// nginx 1.22's fastcgi.conf (fastcgi_params with SCRIPT_FILENAME first):
// empty variables are sent empty, `HTTPS ... if_not_empty` is left out.
Vars fastcgi_vars(const Options& o, const net::Peer& t, const std::string& host, const std::string& path,
                  const std::string& query, const std::string& length) {
  std::string script = percent_decode(path);
  return {{"SCRIPT_FILENAME", "/var/www/html" + script}, {"QUERY_STRING", query}, {"REQUEST_METHOD", o.method},
          {"CONTENT_TYPE", header(o, "content-type")}, {"CONTENT_LENGTH", length}, {"SCRIPT_NAME", script},
          {"REQUEST_URI", o.path}, {"DOCUMENT_URI", script}, {"DOCUMENT_ROOT", "/var/www/html"},
          {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"GATEWAY_INTERFACE", "CGI/1.1"},
          {"SERVER_SOFTWARE", "nginx/1.22.1"}, {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "50000"},
          {"REMOTE_USER", ""}, {"SERVER_ADDR", t.tcp ? t.host : "127.0.0.1"}, {"SERVER_PORT", t.port},
          {"SERVER_NAME", host}, {"REDIRECT_STATUS", "200"}, {"HTTP_HOST", host}};
}

Vars cgi_vars(const Options& o, const net::Peer& t) {
  std::string host = o.host.empty() ? t.host : o.host;
  size_t q = o.path.find('?');
  std::string path = o.path.substr(0, q);
  std::string query = q == std::string::npos ? "" : o.path.substr(q + 1);
  // nginx sends $content_length: empty without a body (SCGI requires a number).
  std::string length = o.body.empty() ? "" : std::to_string(o.body.size());
  std::string type = header(o, "content-type");
  Vars v;
  if (o.protocol == Protocol::kFastcgi) {
    v = fastcgi_vars(o, t, host, path, query, length);
  } else if (o.protocol == Protocol::kScgi) {
    v = {{"CONTENT_LENGTH", std::to_string(o.body.size())}, {"REQUEST_METHOD", o.method},
         {"REQUEST_URI", o.path}, {"QUERY_STRING", query}, {"CONTENT_TYPE", type},
         {"DOCUMENT_URI", percent_decode(path)}, {"PATH_INFO", percent_decode(path)},
         {"DOCUMENT_ROOT", "/var/www/html"}, {"SCGI", "1"}};
  } else {
    v = {{"QUERY_STRING", query}, {"REQUEST_METHOD", o.method}, {"CONTENT_TYPE", type},
         {"CONTENT_LENGTH", length}, {"REQUEST_URI", o.path}, {"PATH_INFO", percent_decode(path)},
         {"DOCUMENT_ROOT", "/var/www/html"}};
  }
  if (o.protocol != Protocol::kFastcgi) {
    Vars rest = {{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"REMOTE_ADDR", "127.0.0.1"},
                 {"REMOTE_PORT", "50000"}, {"SERVER_PORT", t.port}, {"SERVER_NAME", host}, {"HTTP_HOST", host}};
    v.insert(v.end(), rest.begin(), rest.end());
  }
  bool agent = false;
  for (const auto& [name, value] : o.headers) {
    std::string cgi = cgi_header_name(name);
    // Host is Options::host; RFC 3875 4.1.18: no HTTP_CONTENT_TYPE/LENGTH.
    if (cgi == "HTTP_HOST" || cgi == "HTTP_CONTENT_TYPE" || cgi == "HTTP_CONTENT_LENGTH") continue;
    agent = agent || cgi == "HTTP_USER_AGENT";
    v.emplace_back(cgi, value);
  }
  // A browser or wrk sends one; nginx passes it on as HTTP_USER_AGENT.
  if (o.protocol == Protocol::kFastcgi && !agent) v.emplace_back("HTTP_USER_AGENT", "tsgi-bench");
  for (const auto& param : o.params) {
    // (Not a structured binding: C++17 lambdas cannot capture those; clang says so.)
    auto same = std::find_if(v.begin(), v.end(), [&](const auto& kv) { return kv.first == param.first; });
    if (same != v.end()) same->second = param.second;
    else v.emplace_back(param.first, param.second);
  }
  return v;
}

void put_u16le(std::string* out, size_t n) {
  out->push_back(char(n & 0xff));
  out->push_back(char((n >> 8) & 0xff));
}

std::string http(const Options& o, const net::Peer& t) {
  std::string host = o.host.empty() ? (t.tcp ? (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) +
                                                   ":" + t.port
                                             : t.host)
                                    : o.host;
  std::string r = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (const auto& [name, value] : o.headers) {
    if (strcasecmp(name.c_str(), "host") != 0 && strcasecmp(name.c_str(), "content-length") != 0)
      r += name + ": " + value + "\r\n";
  }
  if (!o.body.empty() || o.method == "POST" || o.method == "PUT" || o.method == "PATCH")
    r += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  return r + "\r\n" + o.body;
}

// u8 modifier1 0 | u16le size of the vars | u8 modifier2 0 | {u16le len, key, u16le len, value}* | body
std::string uwsgi(const Vars& vars, const std::string& body) {
  std::string block;
  for (const auto& [k, v] : vars) {
    if (k.size() > 0xffff || v.size() > 0xffff) throw std::runtime_error("uwsgi variable too long: " + k);
    put_u16le(&block, k.size());
    block += k;
    put_u16le(&block, v.size());
    block += v;
  }
  if (block.size() > 0xffff) throw std::runtime_error("uwsgi request over 65535 bytes of variables");
  std::string r(1, '\0');
  put_u16le(&r, block.size());
  r.push_back('\0');
  return r + block + body;
}

// A netstring of NUL-terminated names and values, CONTENT_LENGTH first, then the body.
std::string scgi(const Vars& vars, const std::string& body) {
  std::string block;
  for (const auto& [k, v] : vars) {
    block += k;
    block.push_back('\0');
    block += v;
    block.push_back('\0');
  }
  return std::to_string(block.size()) + ":" + block + "," + body;
}

}  // namespace

std::string build_request(const Options& o, const net::Peer& peer, uint16_t fcgi_request_id) {
  if (o.protocol == Protocol::kHttp) return http(o, peer);
  Vars vars = cgi_vars(o, peer);
  if (o.protocol == Protocol::kFastcgi) return fcgi::request(vars, o.body, o.keep_conn, fcgi_request_id);
  if (o.protocol == Protocol::kUwsgi) return uwsgi(vars, o.body);
  return scgi(vars, o.body);
}

}  // namespace tsgi::loadgen
