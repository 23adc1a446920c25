#include "conn/connection.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unistd.h>

#include "conn/blocks.h"
#include "conn/fastcgi_session.h"
#include "net/socket.h"

namespace tsgi {

static constexpr size_t kInitialIn = 8 * 1024;

Connection::Connection(int fd_, uint32_t slot_, uint32_t listener_, bool is_tcp_)
    : fd(fd_), slot(slot_), listener(listener_), is_tcp(is_tcp_) {}

Connection::~Connection() {
  delete fcgi;
  free_in();
  if (fd >= 0 && !fd_closed) ::close(fd);
}

void Connection::consume(size_t n) {
  in_start_ += n;
  if (in_start_ == in_end_) in_start_ = in_end_ = 0;
}

ssize_t Connection::read_into(size_t limit, bool* filled) {
  *filled = false;
  size_t have = in_len();
  if (have >= limit) return -ENOBUFS;
  if (in_cap_ - in_end_ < 1024) {
    // Little room at the tail: move what is left to the front, then grow
    // (doubling) toward the limit.
    if (in_start_ > 0) {
      std::memmove(in_buf_, in_buf_ + in_start_, have);
      in_start_ = 0;
      in_end_ = have;
    }
    if (in_cap_ - in_end_ < 1024 && in_cap_ < limit) {
      size_t cap = in_cap_ ? in_cap_ * 2 : kInitialIn;
      if (cap > limit) cap = limit;
      char* grown;
      if (in_cap_ == 0) {
        grown = blocks::take(cap);
      } else if (in_cap_ == kInitialIn) {
        // The first buffer is a recycled block: copy out of it, give it back.
        grown = static_cast<char*>(std::malloc(cap));
        if (grown) {
          std::memcpy(grown, in_buf_, in_end_);
          blocks::give(in_buf_, in_cap_);
        }
      } else {
        grown = static_cast<char*>(std::realloc(in_buf_, cap));
      }
      if (!grown) return -ENOMEM;
      in_buf_ = grown;
      in_cap_ = cap;
    }
  }
  size_t room = in_cap_ - in_end_;
  if (room > limit - have) room = limit - have;
  if (room == 0) return -ENOBUFS;
  ssize_t n = net::recv_some(fd, in_buf_ + in_end_, room);
  if (n > 0) {
    in_end_ += static_cast<size_t>(n);
    *filled = static_cast<size_t>(n) == room;
  }
  return n;
}

void Connection::shrink() {
  if (in_len() == 0 && in_cap_ > kInitialIn) free_in();
}

void Connection::free_in() {
  if (in_cap_ == kInitialIn) blocks::give(in_buf_, in_cap_);
  else std::free(in_buf_);
  in_buf_ = nullptr;
  in_cap_ = in_start_ = in_end_ = 0;
}

}  // namespace tsgi
