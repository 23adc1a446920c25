// Poller on Linux epoll, level-triggered.
#include "poller/poller.h"

#include <cerrno>
#include <ctime>
#include <sys/epoll.h>
#include <unistd.h>

// glibc < 2.24 headers lack it; kernels >= 4.5 understand it.
#ifndef EPOLLEXCLUSIVE
#define EPOLLEXCLUSIVE (1u << 28)
#endif

namespace tsgi {

namespace {

// Events copied out per wait(); the caller loops for more.
constexpr int kMaxBatch = kPollBatch;

uint32_t to_epoll(uint32_t interest) {
  uint32_t ev = 0;
  // EPOLLRDHUP only while reading: it stays raised after the peer's FIN, so
  // a paused reader (no kPollRead) would otherwise be woken again and again.
  if (interest & kPollRead) ev |= EPOLLIN | EPOLLRDHUP;
  if (interest & kPollWrite) ev |= EPOLLOUT;
  return ev;
}

uint32_t from_epoll(uint32_t ev) {
  uint32_t flags = 0;
  if (ev & EPOLLIN) flags |= kPollRead;
  if (ev & EPOLLOUT) flags |= kPollWrite;
  if (ev & (EPOLLHUP | EPOLLRDHUP)) flags |= kPollHup;
  if (ev & EPOLLERR) flags |= kPollErr;
  return flags;
}

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // cannot fail with a valid clock id
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

Poller::Poller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (fd_ < 0) fd_ = -errno;
}

Poller::~Poller() {
  if (fd_ >= 0) close(fd_);
}

int Poller::add(int fd, uint32_t interest, void* data) {
  struct epoll_event ev = {};
  ev.events = to_epoll(interest);
  ev.data.ptr = data;
  if (interest & kPollExclusive) {
    // epoll_ctl(2): only EPOLLIN/EPOLLOUT/EPOLLWAKEUP/EPOLLET may accompany
    // EPOLLEXCLUSIVE, so drop EPOLLRDHUP (it means nothing on a listener).
    struct epoll_event ex = ev;
    ex.events = (ev.events & ~uint32_t(EPOLLRDHUP)) | EPOLLEXCLUSIVE;
    if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ex) == 0) return 0;
    // A kernel that knows the flag but refuses it here: plain wake-all.
    if (errno != EINVAL) return -errno;
  }
  if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return -errno;
  return 0;
}

int Poller::modify(int fd, uint32_t old_interest, uint32_t interest, void* data) {
  if (old_interest == interest) return 0;
  struct epoll_event ev = {};
  ev.events = to_epoll(interest);
  ev.data.ptr = data;
  if (epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev) != 0) return -errno;
  return 0;
}

int Poller::remove(int fd, uint32_t /*old_interest*/) {
  // Kernels before 2.6.9 want a non-null event even for DEL.
  struct epoll_event ev = {};
  if (epoll_ctl(fd_, EPOLL_CTL_DEL, fd, &ev) != 0) return -errno;
  return 0;
}

int Poller::wait(PollEvent* events, int max, int timeout_ms) {
  if (max <= 0) return -EINVAL;
  if (max > kMaxBatch) max = kMaxBatch;
  struct epoll_event ev[kMaxBatch];
  const int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  int n;
  for (;;) {
    n = epoll_wait(fd_, ev, max, timeout_ms);
    if (n >= 0) break;
    if (errno != EINTR) return -errno;
    // A signal must not stretch the caller's timeout.
    if (timeout_ms > 0) {
      int64_t left = deadline - now_ms();
      timeout_ms = left > 0 ? int(left) : 0;
    }
  }
  for (int i = 0; i < n; i++) {
    events[i].data = ev[i].data.ptr;
    events[i].flags = from_epoll(ev[i].events);
  }
  return n;
}

}  // namespace tsgi
