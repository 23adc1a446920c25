// Poller on BSD kqueue (macOS, FreeBSD, OpenBSD, NetBSD). kqueue keeps one
// registration per (fd, filter), so read and write interest are two filters
// and one ready fd can come back as two PollEvents.
#include "poller/poller.h"

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#if TSGI_LIBKQUEUE
// Test-only, the libkqueue build on Linux (native/poller/libkqueue_epoll_fd.c).
// A BSD kqueue descriptor is readable while kevent() has events, which is what
// lets libuv watch it; libkqueue's is the write end of a pipe and never
// readable, so uv_poll on it would never fire. Its internal epoll descriptor
// is readable exactly when kevent() has events, so that one goes to libuv.
// Not something to do in production: it relies on libkqueue's internals.
extern "C" int tsgi_libkqueue_epoll_fd(int kq);
#endif

namespace tsgi {

namespace {

// Events copied out per wait(); the caller loops for more.
constexpr int kMaxBatch = kPollBatch;

// One change per call: with no event list, kevent() reports the failing
// change as -1/errno, which is the 0 / -errno this interface promises.
int change(int kq, int fd, int filter, int flags, void* data) {
  // Fields set one by one rather than with EV_SET: FreeBSD's EV_SET is a
  // compound literal that C++ rejects for non-constant (narrowing) arguments,
  // and zeroing first also clears FreeBSD's ext[] words.
  struct kevent kev = {};
  kev.ident = uintptr_t(fd);
  kev.filter = decltype(kev.filter)(filter);
  kev.flags = decltype(kev.flags)(flags);
  // udata is void* on most BSDs but intptr_t on NetBSD before 10.
  kev.udata = reinterpret_cast<decltype(kev.udata)>(data);
  if (kevent(kq, &kev, 1, nullptr, 0, nullptr) != 0) return -errno;
  return 0;
}

// Adds the filters in `on` and deletes those in `off`. On a failed add, the
// filters this call already added are deleted again so that the fd is left
// as it was; a failed delete is reported after the other changes are made.
int apply(int kq, int fd, uint32_t on, uint32_t off, void* data) {
  int rc = 0;
  if (on & kPollRead) {
    rc = change(kq, fd, EVFILT_READ, EV_ADD | EV_ENABLE, data);
    if (rc != 0) return rc;
  }
  if (on & kPollWrite) {
    rc = change(kq, fd, EVFILT_WRITE, EV_ADD | EV_ENABLE, data);
    if (rc != 0) {
      if (on & kPollRead) change(kq, fd, EVFILT_READ, EV_DELETE, nullptr);
      return rc;
    }
  }
  if (off & kPollRead) rc = change(kq, fd, EVFILT_READ, EV_DELETE, nullptr);
  if (off & kPollWrite) {
    int w = change(kq, fd, EVFILT_WRITE, EV_DELETE, nullptr);
    if (rc == 0) rc = w;
  }
  return rc;
}

uint32_t from_kevent(const struct kevent& kev) {
  // A change that failed inside a wait (not produced by apply(), which
  // passes no event list, but cheap to map).
  if (kev.flags & EV_ERROR) return kPollErr;
  uint32_t flags = 0;
  if (kev.filter == EVFILT_READ) flags |= kPollRead;
  if (kev.filter == EVFILT_WRITE) flags |= kPollWrite;
  if (kev.flags & EV_EOF) {
    flags |= kPollHup;
    // For sockets, fflags holds the pending socket error at EOF, if any.
    if (kev.fflags != 0) flags |= kPollErr;
  }
  return flags;
}

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // cannot fail with a valid clock id
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

Poller::Poller() : fd_(kqueue()) {
  if (fd_ < 0) {
    fd_ = -errno;
    return;
  }
  // kqueue descriptors are not inherited by fork(), but they are by exec().
  int flags = fcntl(fd_, F_GETFD);
  if (flags < 0 || fcntl(fd_, F_SETFD, flags | FD_CLOEXEC) < 0) {
    int err = errno;
    close(fd_);
    fd_ = -err;
    return;
  }
#if TSGI_LIBKQUEUE
  watch_fd_ = tsgi_libkqueue_epoll_fd(fd_);
  if (watch_fd_ < 0) {
    close(fd_);
    fd_ = -EBADF;
  }
#endif
}

Poller::~Poller() {
  if (fd_ >= 0) close(fd_);
}

// kPollExclusive has no kqueue counterpart and is ignored: every process
// watching a shared listener wakes, and the losers' accept() gets EAGAIN.
int Poller::add(int fd, uint32_t interest, void* data) {
  return apply(fd_, fd, interest & (kPollRead | kPollWrite), 0, data);
}

int Poller::modify(int fd, uint32_t old_interest, uint32_t interest, void* data) {
  const uint32_t mask = kPollRead | kPollWrite;
  old_interest &= mask;
  interest &= mask;
  return apply(fd_, fd, interest & ~old_interest, old_interest & ~interest, data);
}

int Poller::remove(int fd, uint32_t old_interest) {
  return apply(fd_, fd, 0, old_interest & (kPollRead | kPollWrite), nullptr);
}

int Poller::wait(PollEvent* events, int max, int timeout_ms) {
  if (max <= 0) return -EINVAL;
  if (max > kMaxBatch) max = kMaxBatch;
  struct kevent kev[kMaxBatch];
  const int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  int n;
  for (;;) {
    struct timespec ts;
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = long(timeout_ms % 1000) * 1000000;
    n = kevent(fd_, nullptr, 0, kev, max, timeout_ms < 0 ? nullptr : &ts);
    if (n >= 0) break;
    if (errno != EINTR) return -errno;
    // A signal must not stretch the caller's timeout.
    if (timeout_ms > 0) {
      int64_t left = deadline - now_ms();
      timeout_ms = left > 0 ? int(left) : 0;
    }
  }
  for (int i = 0; i < n; i++) {
    events[i].data = reinterpret_cast<void*>(kev[i].udata);
    events[i].flags = from_kevent(kev[i]);
  }
  return n;
}

}  // namespace tsgi
