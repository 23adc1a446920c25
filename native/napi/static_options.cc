// The static files' side of the addon: the `static` server option read into
// a StaticConfig (roots resolved to real paths once, here, so a missing one
// fails the server's start), and the offload() call an app's X-Sendfile or
// X-Accel-Redirect reply becomes.
#include <napi.h>

#include <utility>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <fcntl.h>
#include <unistd.h>

#include "static/responder.h"

namespace tsgi {

namespace {

std::string real_path(Napi::Env env, const std::string& flag, const std::string& p) {
  char buf[PATH_MAX];
  if (!realpath(p.c_str(), buf)) {
    throw Napi::Error::New(env, flag + ": " + p + ": " + std::strerror(errno));
  }
  std::string r(buf);
  return r == "/" ? std::string() : r;  // joined with paths that start with '/'
}

std::string prefix_of(const std::string& p) {
  std::string r = p;
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r;
}

std::vector<std::string> strings(Napi::Object o, const char* key) {
  std::vector<std::string> out;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToString().Utf8Value());
  return out;
}

}  // namespace

std::unique_ptr<files::StaticConfig> static_config(Napi::Env env, Napi::Object o) {
  auto cfg = std::make_unique<files::StaticConfig>();
  std::vector<std::string> map = strings(o, "map");
  for (size_t i = 0; i + 1 < map.size(); i += 2) {
    files::StaticConfig::Map m;
    m.prefix = prefix_of(map[i]);
    m.target = real_path(env, "--static-map " + map[i], map[i + 1]);
    // open(O_DIRECTORY), not stat(): no glibc 2.33 symbol (native/compat/).
    int dir = open(m.target.empty() ? "/" : m.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    m.file = dir < 0;
    if (dir >= 0) close(dir);
    cfg->maps.push_back(std::move(m));
  }
  // Longest prefix first: /static/img before /static. An insertion sort:
  // a handful of maps, and std::stable_sort's code would double this file's.
  auto& maps = cfg->maps;
  for (size_t i = 1; i < maps.size(); i++) {
    for (size_t j = i; j > 0 && maps[j - 1].prefix.size() < maps[j].prefix.size(); j--) std::swap(maps[j - 1], maps[j]);
  }
  for (const std::string& d : strings(o, "check")) cfg->check_roots.push_back(real_path(env, "--check-static", d));
  cfg->index = strings(o, "index");
  std::vector<std::string> offload = strings(o, "offload");
  for (size_t i = 0; i + 1 < offload.size(); i += 2) {
    cfg->offload.push_back({prefix_of(offload[i]), real_path(env, "--offload-root", offload[i + 1])});
  }
  Napi::Value exp = o.Get("expires");
  if (exp.IsNumber()) cfg->expires = static_cast<int64_t>(exp.As<Napi::Number>().DoubleValue());
  std::vector<std::string> types = strings(o, "expiresType");
  for (size_t i = 0; i + 1 < types.size(); i += 2) {
    cfg->expires_type.push_back({types[i], static_cast<uint32_t>(std::strtoul(types[i + 1].c_str(), nullptr, 10))});
  }
  cfg->follow_symlinks = o.Get("followSymlinks").ToBoolean();
  cfg->dotfiles = o.Get("dotfiles").ToBoolean();
  cfg->report = o.Get("report").ToBoolean();
  Napi::Value entries = o.Get("cacheEntries");
  if (entries.IsNumber()) cfg->cache_entries = entries.As<Napi::Number>().Uint32Value();
  Napi::Value valid = o.Get("cacheValid");
  if (valid.IsNumber()) cfg->cache_valid_ms = valid.As<Napi::Number>().Uint32Value();
  std::vector<std::string> mime = strings(o, "mime");
  for (size_t i = 0; i + 1 < mime.size(); i += 2) cfg->mime.add(mime[i], mime[i + 1]);
  return cfg;
}

// offload(handle, accel, target, fields, headers, appType): fields are the
// request's [method, uriPath, query, If-Match, If-None-Match,
// If-Modified-Since, If-Unmodified-Since, Range, If-Range, Accept-Encoding],
// each a string or undefined.
int static_offload(files::StaticFiles* files, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsNumber() || !info[2].IsString() || !info[3].IsArray() || !info[4].IsString()) {
    throw Napi::TypeError::New(env, "offload(handle, accel, target, fields, headers, appType)");
  }
  std::string target = info[2].As<Napi::String>().Utf8Value();
  std::string headers = info[4].As<Napi::String>().Utf8Value();
  Napi::Array a = info[3].As<Napi::Array>();
  std::string store[10];
  bool has[10] = {};
  for (uint32_t i = 0; i < 10 && i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (v.IsString()) {
      store[i] = v.As<Napi::String>().Utf8Value();
      has[i] = true;
    }
  }
  auto text = [&](int i) { return has[i] ? files::Text{store[i].data(), store[i].size()} : files::Text{}; };
  files::StaticRequest req;
  req.method = text(0);
  req.uri_path = text(1);
  req.path = req.uri_path;
  req.query = text(2);
  req.if_match = text(3);
  req.if_none_match = text(4);
  req.if_modified_since = text(5);
  req.if_unmodified_since = text(6);
  req.range = text(7);
  req.if_range = text(8);
  req.accept_encoding = text(9);
  return files->offload(info[0].As<Napi::Number>().DoubleValue(), info[1].ToBoolean(),
                        files::Text{target.data(), target.size()}, req, headers.data(), headers.size(),
                        info[5].ToBoolean());
}

}  // namespace tsgi
