#include "static/mime.h"

namespace tsgi::files {

static char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

void MimeTypes::add(const std::string& ext, const std::string& type) {
  std::string key;
  for (char c : ext) key.push_back(lower(c));
  types_[key] = type;
}

const std::string& MimeTypes::lookup(const char* path, size_t len) const {
  size_t dot = len;
  for (size_t i = len; i > 0; i--) {
    char c = path[i - 1];
    if (c == '/') break;
    if (c == '.') {
      dot = i - 1;
      break;
    }
  }
  if (dot == len || dot + 1 == len) return fallback_;
  key_.assign(path + dot + 1, len - dot - 1);
  for (char& c : key_) c = lower(c);
  auto it = types_.find(key_);
  return it == types_.end() ? fallback_ : it->second;
}

}  // namespace tsgi::files
