/* Test-only: compiled into the libkqueue build (TSGI_POLLER=kqueue on Linux,
 * build-kqueue/) and nowhere else; binding.gyp never builds it.
 *
 * On macOS and the BSDs a kqueue descriptor is readable while kevent() has
 * events, so libuv watches it like any other fd. libkqueue cannot give that:
 * its kqueue() descriptor is the write end of a pipe (used to notice close)
 * and never becomes readable. What does become readable when kevent() has
 * events is the epoll descriptor libkqueue keeps inside each kqueue. This hook
 * reads it from libkqueue's private structures so the test build can hand it
 * to libuv; every kevent() call still goes through the kqueue descriptor. */
#include "private.h"

int tsgi_libkqueue_epoll_fd(int kq);

int tsgi_libkqueue_epoll_fd(int kq) {
  struct kqueue* k = kqueue_lookup(kq);
  return k ? kqueue_epoll_fd(k) : -1;
}
