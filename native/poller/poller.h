// The one interface the core uses to wait for readiness. epoll on Linux
// (poller_epoll.cc), kqueue on macOS and the BSDs (poller_kqueue.cc); exactly
// one of the two is compiled. Level-triggered on both, so pausing a reader is
// "stop asking for kPollRead", never "remember to drain".
//
// What differs between the two, and what callers may rely on:
// - kqueue keeps read and write as separate filters, so one fd ready both ways
//   comes back as two PollEvents (one kPollRead, one kPollWrite) with the same
//   data; epoll gives one PollEvent with both bits. OR them if it matters.
// - kPollHup means the peer sent FIN or hung up; on the read side data may
//   still be queued, so read until 0. The peer's FIN is watched only with
//   kPollRead, so a paused reader is not woken by it. A full hang-up or an
//   error (EPOLLHUP/EPOLLERR) is reported on epoll whatever the interest,
//   even 0; kqueue reports only on the filters asked for.
#pragma once

#include <cstdint>

#include "net/platform.h"  // TSGI_LIBKQUEUE, always defined (0 or 1)

namespace tsgi {

enum PollFlags : uint32_t {
  kPollRead = 1u << 0,
  kPollWrite = 1u << 1,
  // Reported only: the peer hung up or the socket has an error pending.
  kPollHup = 1u << 2,
  kPollErr = 1u << 3,
  // Request only, for listening sockets shared by several processes: wake one
  // waiter per connection (EPOLLEXCLUSIVE where the kernel has it).
  kPollExclusive = 1u << 4,
};

// Events wait() returns per call, on both backends. run_ready() calls wait()
// again only after a call came back full, so the two must agree: with a
// smaller cap in the poller, one batch would be handled per wake-up.
constexpr int kPollBatch = 256;

struct PollEvent {
  void* data;
  uint32_t flags;
};

class Poller {
 public:
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // The poller's own descriptor: readable whenever wait() would return events.
  // libuv watches it so the core shares Node's loop. Close-on-exec. When
  // !ok(), fd() is the -errno of the failed epoll_create1()/kqueue().
  int fd() const {
#if TSGI_LIBKQUEUE
    return fd_ < 0 ? fd_ : watch_fd_;
#else
    return fd_;
#endif
  }
  bool ok() const { return fd() >= 0; }

  // Each returns 0 or -errno. `interest` is a mask of kPollRead | kPollWrite
  // (| kPollExclusive on add); 0 is allowed. `data` comes back in
  // PollEvent::data and must stay the same for the life of the registration:
  // kqueue stores it per filter, so modify() gives it only to filters it adds.
  // Call remove() before close(): afterwards the kernel has already dropped
  // the fd and remove() returns -EBADF or -ENOENT.
  // kPollExclusive: EPOLLEXCLUSIVE where the kernel accepts it, else a plain
  // add; ignored on kqueue, which has no equivalent.
  int add(int fd, uint32_t interest, void* data);
  // Changes interest. `old_interest` lets kqueue touch only the filters that
  // changed; old_interest == interest is a no-op (no syscall). A descriptor
  // added with kPollExclusive cannot be modified (epoll refuses it with
  // -EINVAL); remove and add it instead.
  int modify(int fd, uint32_t old_interest, uint32_t interest, void* data);
  int remove(int fd, uint32_t old_interest);

  // Fills up to `max` events (at most kPollBatch per call: call again for
  // more); never blocks when timeout_ms is 0, waits forever
  // when it is negative. Returns the count or -errno; EINTR is retried inside
  // with the time left, so a signal does not stretch the timeout.
  int wait(PollEvent* events, int max, int timeout_ms);

 private:
  int fd_;
#if TSGI_LIBKQUEUE
  // The libkqueue test build only (see poller_kqueue.cc): libkqueue's internal
  // epoll descriptor, which fd() hands to libuv instead of fd_.
  int watch_fd_ = -1;
#endif
};

}  // namespace tsgi
