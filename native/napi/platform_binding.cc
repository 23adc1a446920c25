// platform(): what this addon was built with and which platform paths its
// core takes, for `tsgi doctor`. Compile-time choices are read from the same
// conditions the core tests (net/platform.h); whether the kernel accepts
// EPOLLEXCLUSIVE is asked of the kernel.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unistd.h>

#include "core/memory.h"
#include "net/platform.h"
#include "net/sealed.h"

#include <sys/socket.h>

#if TSGI_POLLER_EPOLL
#include <sys/epoll.h>
#ifndef EPOLLEXCLUSIVE
#define EPOLLEXCLUSIVE (1u << 28)
#endif
#endif

// Node's embedder API (node.h): a memory-reducing collection of the current
// thread's isolate, the one V8 makes under memory pressure (it also shrinks
// the young generation, which an ordinary collection leaves at its peak).
// Declared weak and not through node.h, so the addon loads in runtimes that
// speak N-API without exporting it: there the address is null and only the
// C heap is trimmed.
namespace node {
__attribute__((weak)) void LowMemoryNotification();
}  // namespace node

namespace tsgi {

namespace {

#if TSGI_POLLER_EPOLL
// The poller's own rule (poller_epoll.cc): EPOLLEXCLUSIVE where the kernel
// takes it, else a plain add. Try it once on a throwaway socket.
std::string exclusive_accept() {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return std::string("unknown (epoll_create1: ") + std::strerror(errno) + ")";
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::string answer;
  if (s < 0) {
    answer = std::string("unknown (socket: ") + std::strerror(errno) + ")";
  } else {
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    answer = epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0
        ? "yes (one worker woken per connection on a shared listener)"
        : std::string("no (this kernel refuses it: ") + std::strerror(errno) + "; every worker is woken)";
    close(s);
  }
  close(ep);
  return answer;
}
#endif

Napi::Value Platform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#if TSGI_POLLER_EPOLL
  o.Set("poller", "epoll");
  o.Set("exclusiveAccept", exclusive_accept());
#elif TSGI_LIBKQUEUE
  o.Set("poller", "kqueue (libkqueue)");
  o.Set("exclusiveAccept", "no (kqueue has no equivalent; every worker is woken)");
#else
  o.Set("poller", "kqueue");
  o.Set("exclusiveAccept", "no (kqueue has no equivalent; every worker is woken)");
#endif
  o.Set("accept", TSGI_HAVE_ACCEPT4 ? "accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)" : "accept + fcntl(O_NONBLOCK, FD_CLOEXEC)");
#if TSGI_HAVE_MSG_NOSIGNAL
  o.Set("noSigpipe", "MSG_NOSIGNAL");
#elif defined(SO_NOSIGPIPE)
  o.Set("noSigpipe", "SO_NOSIGPIPE");
#else
  // The forced portable build on Linux: no per-call or per-socket way left;
  // Node ignores SIGPIPE for the whole process.
  o.Set("noSigpipe", "none (Node ignores SIGPIPE)");
#endif
  o.Set("msgMore", Napi::Boolean::New(env, TSGI_HAVE_MSG_MORE));
  o.Set("deferAccept", Napi::Boolean::New(env, TSGI_HAVE_TCP_DEFER_ACCEPT));
#if TSGI_HAVE_LINUX_SENDFILE
  o.Set("sendfile", "sendfile(2), Linux form (read + write where it refuses the file)");
#elif TSGI_HAVE_DARWIN_SENDFILE
  o.Set("sendfile", "sendfile(2), macOS form (read + write where it refuses the file)");
#else
  o.Set("sendfile", "pread + write");
#endif
  o.Set("sealed", net::seal_kind());
#if defined(__clang__)
  o.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", std::string("g++ ") + __VERSION__);
#else
  o.Set("compiler", "unknown");
#endif
  o.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
#if defined(__GLIBC__)
  o.Set("libc", "glibc " + std::to_string(__GLIBC__) + "." + std::to_string(__GLIBC_MINOR__));
#if defined(TSGI_GLIBC_COMPAT)
  // Symbol versions pinned by compat/glibc_compat.cc and the link flags
  // (test/build/glibc-symbols checks): loads on glibc 2.28 and newer.
  o.Set("glibcFloor", "2.28");
#else
  o.Set("glibcFloor", env.Null());
#endif
#else
  o.Set("libc", env.Null());
  o.Set("glibcFloor", env.Null());
#endif
  o.Set("portable", Napi::Boolean::New(env, TSGI_FORCE_PORTABLE_BUILD));
#if defined(__SANITIZE_ADDRESS__)
  o.Set("sanitizers", Napi::Boolean::New(env, true));
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  o.Set("sanitizers", Napi::Boolean::New(env, true));
#else
  o.Set("sanitizers", Napi::Boolean::New(env, false));
#endif
#else
  o.Set("sanitizers", Napi::Boolean::New(env, false));
#endif
  return o;
}

// releaseMemory(collect): the idle-time release (src/server/memory-release.ts).
// With `collect`, first a memory-reducing garbage collection of this thread's
// isolate, whose finalizers free the request bodies and replies V8 held;
// then this thread's block free lists and the C heap's free pages go back.
// Returns what was done: { collected, blocks (bytes), heap }.
Napi::Value ReleaseMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool collect = info.Length() > 0 && info[0].ToBoolean().Value();
  bool collected = false;
  if (collect && &node::LowMemoryNotification != nullptr) {
    node::LowMemoryNotification();
    collected = true;
  }
  memory::Trimmed t = memory::trim();
  Napi::Object o = Napi::Object::New(env);
  o.Set("collected", Napi::Boolean::New(env, collected));
  o.Set("blocks", Napi::Number::New(env, static_cast<double>(t.blocks)));
  o.Set("heap", Napi::Boolean::New(env, t.heap));
  return o;
}

// sealBytes(bytes, tmpdir): a read-only descriptor holding a copy of the
// bytes that nothing can change (net/sealed.h), for a sealed reply body
// (src/server/sealed.ts). Throws with the errno's text when it cannot.
Napi::Value SealBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "sealBytes(bytes: Uint8Array, tmpdir?: string)");
  }
  Napi::Uint8Array u = info[0].As<Napi::Uint8Array>();
  std::string tmpdir = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  int fd = net::seal_bytes(u.Data(), u.ByteLength(), tmpdir.c_str());
  if (fd < 0) {
    Napi::Error e = Napi::Error::New(env, std::string("cannot seal the bytes: ") + std::strerror(-fd));
    e.Set("errno", Napi::Number::New(env, -fd));
    throw e;
  }
  return Napi::Number::New(env, fd);
}

}  // namespace

void InitPlatform(Napi::Env env, Napi::Object exports) {
  exports.Set("platform", Napi::Function::New(env, Platform));
  exports.Set("releaseMemory", Napi::Function::New(env, ReleaseMemory));
  exports.Set("sealBytes", Napi::Function::New(env, SealBytes));
}

}  // namespace tsgi
