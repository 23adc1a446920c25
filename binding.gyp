{
  "variables": {
    # The test hooks' addon is built in a checkout (test/ is there), never
    # from the npm tarball or by npm run prebuild, which carry no tests.
    "tsgi_testing%": "<!(node -p \"+require('fs').existsSync('test')\")"
  },
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "native"
    ],
    "defines": [
      "NAPI_VERSION=8",
      "NODE_ADDON_API_DISABLE_DEPRECATED",
      "NODE_ADDON_API_CPP_EXCEPTIONS"
    ],
    "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"],
    "conditions": [
      ["OS=='linux'", {
        # Prebuilt binaries must load on glibc 2.28 (docs/design.md,
        # "Prebuilt binaries"): libstdc++ is linked in and its symbols kept
        # private (--exclude-libs), so the binary needs no GLIBCXX/CXXABI
        # version of the machine it runs on; hidden visibility and
        # --gc-sections drop the code nobody calls, and with it libstdc++'s
        # references to newer glibc symbols (arc4random, pthread_once ...).
        # libgcc_s stays shared: the static unwinder calls _dl_find_object
        # (glibc 2.35). The two --wrap'ed calls left are pinned to the
        # architecture's baseline version in native/compat/glibc_compat.cc,
        # which each addon links itself.
        "defines": ["TSGI_GLIBC_COMPAT"],
        "cflags": ["-fPIC"],
        "cflags_cc": ["-fvisibility=hidden", "-fvisibility-inlines-hidden", "-ffunction-sections", "-fdata-sections"],
        "ldflags": [
          "-static-libstdc++",
          "-Wl,--exclude-libs,ALL",
          "-Wl,--gc-sections",
          "-Wl,--wrap=pthread_create",
          "-Wl,--wrap=pthread_join"
        ]
      }],
      ["OS=='mac'", {
        "xcode_settings": {
          "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
          "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
          "MACOSX_DEPLOYMENT_TARGET": "11.0",
          "OTHER_CPLUSPLUSFLAGS": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
        }
      }]
    ]
  },
  "targets": [
    {
      # The core every addon links what it needs of: loop, connections,
      # sockets, framers, poller. No N-API. proto/ws/deflate.cc includes
      # zlib.h from Node's headers (on node-gyp's include path) and links
      # no zlib: the addons take zlib's symbols from the node binary.
      "target_name": "tsgi_core",
      "type": "static_library",
      "sources": [
        "native/core/loop.cc",
        "native/core/memory.cc",
        "native/exchange/exchange.cc",
        "native/exchange/registry.cc",
        "native/exchange/stream.cc",
        "native/exchange/http1.cc",
        "native/exchange/tunnel.cc",
        "native/exchange/websocket.cc",
        "native/exchange/cgi.cc",
        "native/exchange/uwsgi.cc",
        "native/exchange/scgi.cc",
        "native/exchange/fastcgi.cc",
        "native/conn/blocks.cc",
        "native/conn/connection.cc",
        "native/conn/out_queue.cc",
        "native/net/address.cc",
        "native/net/socket.cc",
        "native/net/sealed.cc",
        "native/net/sendfile.cc",
        "native/net/file.cc",
        "native/net/notify.cc",
        "native/net/allow.cc",
        "native/net/connect.cc",
        "native/proto/http1/parser.cc",
        "native/proto/cgi/vars.cc",
        "native/proto/uwsgi/framer.cc",
        "native/proto/ws/framer.cc",
        "native/proto/ws/handshake.cc",
        "native/proto/ws/writer.cc",
        "native/proto/scgi/framer.cc",
        "native/proto/http1/writer.cc",
        "native/proto/cgi/writer.cc",
        "native/proto/fastcgi/framer.cc",
        "native/proto/fastcgi/writer.cc",
        "native/proto/ws/extension.cc",
        "native/proto/ws/deflate.cc",
        "native/static/rules.cc",
        "native/static/mime.cc",
        "native/static/file_cache.cc",
        "native/static/responder.cc"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/poller/poller_epoll.cc"]
        }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd'", {
          "sources": ["native/poller/poller_kqueue.cc"]
        }]
      ]
    },
    {
      # What users install and servers load: the public exports only
      # (docs/design.md, "Packaging").
      "target_name": "tsgi",
      "dependencies": ["tsgi_core"],
      "sources": [
        "native/addon.cc",
        "native/napi/platform_binding.cc",
        "native/napi/static_options.cc"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/compat/glibc_compat.cc"]
        }]
      ]
    },
    {
      # `tsgi bench`'s engine: shipped beside tsgi.node, loaded only by a bench.
      "target_name": "tsgi_loadgen",
      "dependencies": ["tsgi_core"],
      "sources": [
        "native/napi/loadgen_addon.cc",
        "native/napi/loadgen_binding.cc",
        "native/loadgen/engine.cc",
        "native/loadgen/worker.cc",
        "native/loadgen/request.cc",
        "native/loadgen/reply.cc",
        "native/loadgen/fastcgi.cc",
        "native/loadgen/histogram.cc",
        "native/loadgen/ws_worker.cc"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/compat/glibc_compat.cc"]
        }]
      ]
    }
  ],
  "conditions": [
    ["tsgi_testing==1", {
      "targets": [
        {
          # The framers' test hooks (test/helpers/testing-addon.ts); never shipped.
          "target_name": "tsgi_testing",
          "dependencies": ["tsgi_core"],
          "sources": [
            "native/napi/testing_addon.cc",
            "native/napi/parser_binding.cc",
            "native/napi/cgi_binding.cc",
            "native/napi/fastcgi_binding.cc",
            "native/napi/ws_binding.cc",
            "native/napi/ws_deflate_binding.cc",
            "native/napi/static_binding.cc"
          ]
        }
      ]
    }]
  ]
}
