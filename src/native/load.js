"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.binding = void 0;
// Loads the addon: a prebuilt binary from prebuilds/<platform>-<arch>/ or the
// one node-gyp built at install. Fails loudly with what to do, never silently.
const path = __importStar(require("node:path"));
function load() {
    const root = path.resolve(__dirname, '..', '..');
    const override = process.env.TSGI_ADDON;
    try {
        if (override)
            return require(path.resolve(override));
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const gypBuild = require('node-gyp-build');
        return gypBuild(root);
    }
    catch (err) {
        const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
        const e = new Error(`tsgi: cannot load its native addon for ${process.platform}-${process.arch} (node ${process.version}, ` +
            `N-API): ${reason}. No prebuilt binary matched and none was built: install a C++ toolchain ` +
            `(python3, make, g++ or clang) and run "npm rebuild tsgi".`);
        e.code = 'TSGI_ERR_ADDON_LOAD';
        throw e;
    }
}
exports.binding = load();
