// Link-time glue that lets a binary built against a new glibc (the release
// machine's) load on glibc 2.28, the oldest that Node 20's own binaries need.
// Only binding.gyp's Linux builds define TSGI_GLIBC_COMPAT and pass the
// matching --wrap flags, so the wrappers exist whenever they do (on musl too,
// where they only forward); the sanitizer and fuzz builds link against the
// machine's own libc and compile this file to nothing. See docs/design.md,
// "Prebuilt binaries", and test/build/glibc-symbols.test.ts, which fails on
// any symbol version newer than 2.28.
#include <pthread.h>  // and through it <features.h>: __GLIBC__, __GLIBC_PREREQ

#if defined(TSGI_GLIBC_COMPAT) && defined(__linux__)

// 0 on other libcs (musl defines no __GLIBC_PREREQ, which #if cannot call).
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#define TSGI_GLIBC_AT_LEAST(major, minor) __GLIBC_PREREQ(major, minor)
#else
#define TSGI_GLIBC_AT_LEAST(major, minor) 0
#endif

extern "C" {

// glibc 2.34 merged libpthread into libc and gave pthread_create and
// pthread_join a new default version (GLIBC_2.34); the old ones stay as
// aliases of the same code. The references come from libstdc++.a's
// std::thread (native/loadgen), which is compiled already, so a .symver in
// our sources cannot reach them: ld's --wrap sends every reference to
// __wrap_<name>, and these call the architecture's first version of the
// symbol, present in every glibc. Other architectures, older glibc and
// other libcs call the default one.
#if TSGI_GLIBC_AT_LEAST(2, 34) && (defined(__x86_64__) || defined(__aarch64__))
#if defined(__x86_64__)
#define TSGI_GLIBC_BASELINE "GLIBC_2.2.5"
#else
#define TSGI_GLIBC_BASELINE "GLIBC_2.17"
#endif
int tsgi_pthread_create_baseline(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int tsgi_pthread_join_baseline(pthread_t, void**);
__asm__(".symver tsgi_pthread_create_baseline, pthread_create@" TSGI_GLIBC_BASELINE);
__asm__(".symver tsgi_pthread_join_baseline, pthread_join@" TSGI_GLIBC_BASELINE);
#define TSGI_PTHREAD_CREATE tsgi_pthread_create_baseline
#define TSGI_PTHREAD_JOIN tsgi_pthread_join_baseline
#else
int __real_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int __real_pthread_join(pthread_t, void**);
#define TSGI_PTHREAD_CREATE __real_pthread_create
#define TSGI_PTHREAD_JOIN __real_pthread_join
#endif

__attribute__((visibility("hidden"))) int __wrap_pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                                                void* (*start)(void*), void* arg) {
  return TSGI_PTHREAD_CREATE(thread, attr, start, arg);
}

__attribute__((visibility("hidden"))) int __wrap_pthread_join(pthread_t thread, void** result) {
  return TSGI_PTHREAD_JOIN(thread, result);
}

// libstdc++ (ext/atomicity.h, and libstdc++.a's strings, exceptions, static
// guards and std::thread) reads glibc's __libc_single_threaded (GLIBC_2.32)
// whenever <sys/single_threaded.h> exists, to skip atomic instructions in a
// process with one thread; it is a plain strong reference, so no compiler
// flag removes it. This hidden definition binds those references inside the
// addon and says "maybe multi-threaded", so libstdc++ always takes its atomic
// path: correct in any process, and in Node the same answer glibc gives,
// since Node starts its platform threads before it loads any addon.
#if TSGI_GLIBC_AT_LEAST(2, 32)
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
#endif

}  // extern "C"

#endif
