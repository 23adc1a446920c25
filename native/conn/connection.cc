#include "conn/connection.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unistd.h>

#include "conn/blocks.h"
#include "net/socket.h"

namespace tsgi {

static constexpr size_t kInitialIn = 8 * 1024;
static constexpr size_t kBurstIn = 64 * 1024;

Connection::Connection(int fd_, uint32_t slot_, uint32_t listener_, bool is_tcp_)
    : fd(fd_), slot(slot_), listener(listener_), is_tcp(is_tcp_) {}

Connection::~Connection() {
  delete exchange_state;
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
      // A full first block means a burst (a large head or a body): go to
      // kBurstIn at once rather than doubling through 16 and 32 KiB, each a
      // copy and a read more. The worst case is unchanged (any connection
      // may fill its buffer to the limit anyway).
      size_t cap = in_cap_ == 0 ? kInitialIn : in_cap_ < kBurstIn ? kBurstIn : in_cap_ * 2;
      if (cap > limit) cap = limit;
      char* grown;
      if (in_cap_ == 0) {
        grown = blocks::take(cap);
      } else if (blocks::pooled(in_cap_) || blocks::pooled(cap)) {
        // Recycled blocks are not realloc'd: copy into the new one, give the old back.
        grown = blocks::take(cap);
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
  blocks::give(in_buf_, in_cap_);  // to the free list, or free() for other sizes
  in_buf_ = nullptr;
  in_cap_ = in_start_ = in_end_ = 0;
}

}  // namespace tsgi
