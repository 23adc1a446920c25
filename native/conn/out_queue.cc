#include "conn/out_queue.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/uio.h>
#include <unistd.h>

#include "conn/blocks.h"
#include "net/sendfile.h"
#include "net/socket.h"

namespace tsgi {

char* OutQueue::reserve(size_t n) {
  if (!segs_.empty()) {
    Segment& tail = segs_.back();
    if (tail.owned && tail.cap - tail.len >= n) return tail.owned + tail.len;
  }
  size_t cap = n > kBlock ? n : kBlock;
  char* block = blocks::take(cap);
  if (!block) throw std::bad_alloc();
  segs_.push_back(Segment{block, block, 0, cap});
  return block;
}

void OutQueue::commit(size_t n) {
  segs_.back().len += n;
  bytes_ += n;
  appended_ += n;
}

void OutQueue::append(const char* data, size_t len) {
  if (len == 0) return;
  std::memcpy(reserve(len), data, len);
  commit(len);
}

void OutQueue::append_ref(const char* data, size_t len) {
  if (len == 0) return;
  segs_.push_back(Segment{nullptr, data, len, 0});
  bytes_ += len;
  appended_ += len;
}

void OutQueue::append_file(int file, uint64_t offset, size_t len) {
  if (len == 0) {
    close(file);
    return;
  }
  segs_.push_back(Segment{nullptr, nullptr, len, 0, file, offset});
  bytes_ += len;
  appended_ += len;
}

void OutQueue::release(Segment& s) {
  if (s.owned) blocks::give(s.owned, s.cap);
  if (s.file >= 0) close(s.file);
  delete s.pin;
}

void OutQueue::pop_front() {
  release(segs_.front());
  segs_.pop_front();
  front_off_ = 0;
}

void OutQueue::truncate(uint64_t mark) {
  if (!unsent_since(mark) || mark >= appended_) return;
  uint64_t drop = appended_ - mark;  // all unwritten: at the back, past front_off_
  while (drop > 0 && !segs_.empty()) {
    Segment& s = segs_.back();
    size_t unsent = s.len - (segs_.size() == 1 ? front_off_ : 0);
    if (unsent <= drop && !(segs_.size() == 1 && front_off_ > 0)) {
      drop -= s.len;
      bytes_ -= s.len;
      release(s);
      segs_.pop_back();
      if (segs_.empty()) front_off_ = 0;
    } else {
      size_t cut = static_cast<size_t>(drop < unsent ? drop : unsent);
      s.len -= cut;
      bytes_ -= cut;
      drop -= cut;
      if (drop > 0) break;  // cannot happen: what was written precedes the mark
    }
  }
  appended_ = mark;
}

// Drops `n` written bytes from the front.
void OutQueue::advance(size_t n) {
  bytes_ -= n;
  written_ += n;
  while (n > 0) {
    Segment& s = segs_.front();
    size_t avail = s.len - front_off_;
    if (n < avail) {
      front_off_ += n;
      n = 0;
    } else if (segs_.size() == 1 && s.owned) {
      // Keep the last block for the next response: no malloc per request.
      n -= avail;
      s.len = 0;
      front_off_ = 0;
    } else {
      n -= avail;
      pop_front();
    }
  }
}

ssize_t OutQueue::flush(int fd, bool last) {
  size_t total = 0;
  while (bytes_ > 0) {
    // Spent blocks ahead of the next bytes (one kept for reuse) go first.
    while (segs_.size() > 1 && segs_.front().len == front_off_) pop_front();
    const Segment& front = segs_.front();
    if (front.file >= 0) {
      size_t want = front.len - front_off_;
      if (want > kFileStep) want = kFileStep;
      ssize_t n = net::send_file(fd, front.file, front.file_off + front_off_, want);
      if (n < 0) return total > 0 && n == -EAGAIN ? static_cast<ssize_t>(total) : n;
      if (n == 0) return -EIO;  // the file shrank under us: the reply cannot complete
      total += static_cast<size_t>(n);
      advance(static_cast<size_t>(n));
      if (static_cast<size_t>(n) < want) return static_cast<ssize_t>(total);
      continue;
    }
    struct iovec iov[kMaxIov];
    int count = 0;
    size_t offered = 0;
    bool file_next = false;
    for (size_t i = 0; i < segs_.size() && count < kMaxIov; i++) {
      const Segment& s = segs_[i];
      if (s.file >= 0) {  // memory up to the file; the file on the next turn
        file_next = true;
        break;
      }
      size_t skip = i == 0 ? front_off_ : 0;
      if (s.len == skip) continue;
      iov[count].iov_base = const_cast<char*>(s.data + skip);
      iov[count].iov_len = s.len - skip;
      offered += iov[count].iov_len;
      count++;
    }
    // MSG_MORE when a file follows (a head and the file's first bytes share
    // a segment, as nginx's tcp_nopush does), or when this send carries the
    // queue's end and the caller closes right after (the FIN goes with it).
    ssize_t n = net::send_iov(fd, iov, count, file_next || (last && offered == bytes_));
    if (n < 0) return total > 0 && n == -EAGAIN ? static_cast<ssize_t>(total) : n;
    total += static_cast<size_t>(n);
    advance(static_cast<size_t>(n));
    if (static_cast<size_t>(n) < offered) return static_cast<ssize_t>(total);
  }
  return static_cast<ssize_t>(total);
}

void OutQueue::own_refs(PinSource* pins) {
  for (size_t i = 0; i < segs_.size(); i++) {
    Segment& s = segs_[i];
    if (s.owned || s.file >= 0 || s.pin) continue;
    size_t skip = i == 0 ? front_off_ : 0;
    if (pins && s.len > skip) {
      s.pin = pins->pin(s.data + skip, s.len - skip);
      if (s.pin) continue;
    }
    size_t rest = s.len - skip;
    char* block = static_cast<char*>(std::malloc(rest > 0 ? rest : 1));
    if (!block) throw std::bad_alloc();
    std::memcpy(block, s.data + skip, rest);
    s = Segment{block, block, rest, rest};
    if (i == 0) front_off_ = 0;
  }
}

void OutQueue::clear() {
  while (!segs_.empty()) pop_front();
  bytes_ = 0;
}

}  // namespace tsgi
