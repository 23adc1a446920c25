// The platform paths the core takes, decided in one place. Code tests these
// macros (always defined, 0 or 1), never __linux__ or __APPLE__ directly.
//
// TSGI_FORCE_PORTABLE (npm run build:portable) turns every Linux-only path off
// so that the plain-POSIX ones a macOS build takes are compiled and tested on
// Linux too: accept + fcntl, no MSG_MORE, no TCP_DEFER_ACCEPT, pread + write
// instead of sendfile.
#pragma once

#if defined(TSGI_FORCE_PORTABLE)
#define TSGI_FORCE_PORTABLE_BUILD 1
#else
#define TSGI_FORCE_PORTABLE_BUILD 0
#endif

#if defined(__linux__) && !TSGI_FORCE_PORTABLE_BUILD
#define TSGI_LINUX_PATHS 1
#else
#define TSGI_LINUX_PATHS 0
#endif

// Which Poller implementation is compiled (poller/poller_*.cc). TSGI_LIBKQUEUE:
// kqueue through libkqueue on Linux (npm run build:kqueue).
#if defined(TSGI_LIBKQUEUE) || defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#define TSGI_POLLER_EPOLL 0
#else
#define TSGI_POLLER_EPOLL 1
#endif
#if !defined(TSGI_LIBKQUEUE)
#define TSGI_LIBKQUEUE 0
#endif

// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: one call instead of three.
#define TSGI_HAVE_ACCEPT4 TSGI_LINUX_PATHS
// socket(2) taking SOCK_NONBLOCK | SOCK_CLOEXEC in its type (macOS: fcntl after).
#define TSGI_HAVE_SOCK_FLAGS TSGI_LINUX_PATHS
// An accepted socket inherits TCP_NODELAY from its listener (Linux); elsewhere
// it is set on each accepted socket.
#define TSGI_HAVE_INHERITED_NODELAY TSGI_LINUX_PATHS
// Abstract unix socket names ("@name"): a Linux kernel feature with no
// portable counterpart, so a forced portable build keeps it.
#if defined(__linux__)
#define TSGI_HAVE_ABSTRACT_SOCKETS 1
#else
#define TSGI_HAVE_ABSTRACT_SOCKETS 0
#endif
// send(2) flags: MSG_NOSIGNAL (no SIGPIPE from a closed peer) and MSG_MORE
// (hold a partial segment: reply and FIN in one). macOS has neither; there
// SO_NOSIGPIPE is set on each socket instead.
#define TSGI_HAVE_MSG_NOSIGNAL TSGI_LINUX_PATHS
#define TSGI_HAVE_MSG_MORE TSGI_LINUX_PATHS
// TCP_DEFER_ACCEPT: accept() only once the client has sent bytes.
#define TSGI_HAVE_TCP_DEFER_ACCEPT TSGI_LINUX_PATHS
// sendfile(2) in its Linux form (sock, file, &offset, count) or its macOS
// form (file, sock, offset, &len, headers, flags); else pread + write.
#define TSGI_HAVE_LINUX_SENDFILE TSGI_LINUX_PATHS
#if defined(__APPLE__) && !TSGI_FORCE_PORTABLE_BUILD
#define TSGI_HAVE_DARWIN_SENDFILE 1
#else
#define TSGI_HAVE_DARWIN_SENDFILE 0
#endif
// statx(2) for a file's metadata (net/file.cc), where the C library declares
// it: the call a glibc 2.28 provides, where stat and fstat are versioned 2.33
// by a newer glibc's headers. Elsewhere stat and fstat, whose mtime is
// st_mtimespec on macOS; F_GETPATH names an open descriptor there.
#define TSGI_HAVE_STATX TSGI_LINUX_PATHS
#if defined(__APPLE__)
#define TSGI_HAVE_STAT_MTIMESPEC 1
#define TSGI_HAVE_F_GETPATH 1
#else
#define TSGI_HAVE_STAT_MTIMESPEC 0
#define TSGI_HAVE_F_GETPATH 0
#endif
