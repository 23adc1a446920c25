// The table from file name extensions to Content-Type values, filled once at
// server start from the data JavaScript hands over (the mime-db package),
// never written by hand. Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace tsgi::files {

class MimeTypes {
 public:
  // `type` is the full field value ("text/css; charset=utf-8"); `ext`
  // without its dot, any case.
  void add(const std::string& ext, const std::string& type);
  // The type for the last segment of `path` ("/a/b.CSS" -> text/css), or
  // application/octet-stream for none.
  const std::string& lookup(const char* path, size_t len) const;
  size_t size() const { return types_.size(); }

 private:
  std::unordered_map<std::string, std::string> types_;
  std::string fallback_ = "application/octet-stream";
  mutable std::string key_;  // lookup's scratch: no allocation once grown
};

}  // namespace tsgi::files
