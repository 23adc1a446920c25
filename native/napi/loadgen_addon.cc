// tsgi_loadgen.node: `tsgi bench`'s engine (native/loadgen/,
// loadgen_binding.cc) as an addon of its own. It ships beside tsgi.node (in
// build/Release and in each prebuilds/ folder) and is loaded from the main
// addon's folder only when a bench runs (src/native/load.ts), so a server
// never maps the load generator and its threads.
#include <napi.h>

namespace tsgi {

void InitLoadgen(Napi::Env env, Napi::Object exports);

}  // namespace tsgi

static Napi::Object InitLoadgenAddon(Napi::Env env, Napi::Object exports) {
  tsgi::InitLoadgen(env, exports);
  return exports;
}

NODE_API_MODULE(tsgi_loadgen, InitLoadgenAddon)
