// tsgi_testing.node: the framers' test hooks (parser_binding.cc,
// cgi_binding.cc, fastcgi_binding.cc, ws_binding.cc, static_binding.cc) as an addon of their
// own, which only the tests load (test/helpers/testing-addon.ts). It is
// built in a checkout, never shipped: the tsgi.node users install exports no
// test hook.
#include <napi.h>

namespace tsgi {

void InitParserTesting(Napi::Env env, Napi::Object exports);
void InitCgiTesting(Napi::Env env, Napi::Object exports);
void InitFastcgiTesting(Napi::Env env, Napi::Object exports);
void InitWsTesting(Napi::Env env, Napi::Object exports);
void InitStaticTesting(Napi::Env env, Napi::Object exports);

}  // namespace tsgi

static Napi::Object InitTesting(Napi::Env env, Napi::Object exports) {
  tsgi::InitParserTesting(env, exports);
  tsgi::InitCgiTesting(env, exports);
  tsgi::InitFastcgiTesting(env, exports);
  tsgi::InitWsTesting(env, exports);
  tsgi::InitStaticTesting(env, exports);
  return exports;
}

NODE_API_MODULE(tsgi_testing, InitTesting)
