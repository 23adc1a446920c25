// What the static file cache asks of the file system beyond open(2): a
// file's metadata, by descriptor or by path, and the kernel's own name for
// an open descriptor. Behind one interface, as sendfile is: statx on Linux
// (glibc 2.28 has it, where a newer glibc's headers version stat and fstat
// 2.33, which the prebuilt addon must not need), stat and fstat elsewhere;
// /proc/self/fd on Linux, F_GETPATH on macOS.
#pragma once

#include <cstdint>
#include <string>

namespace tsgi::net {

struct FileStat {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  bool regular = false, directory = false;
};

// False with errno set when the call fails.
bool stat_fd(int fd, FileStat* out);
bool stat_path(const char* path, FileStat* out);

// The path the kernel holds for an open descriptor (symlinks resolved), or
// false where the system cannot say.
bool fd_path(int fd, std::string* out);

}  // namespace tsgi::net
