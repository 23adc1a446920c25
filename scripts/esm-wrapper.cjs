// Writes dist/index.mjs: the ESM entry re-exports the CommonJS build, so ESM
// and CommonJS consumers share one module instance (no dual-package hazard).
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
const cjs = require(path.join(dist, 'index.js'));
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
const body = `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`;
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
fs.writeFileSync(path.join(dist, 'index.d.mts'), "export * from './index.js';\n");
