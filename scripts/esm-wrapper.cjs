// Writes the ESM entries: each re-exports its CommonJS build, so ESM and
// CommonJS consumers share one module instance (no dual-package hazard).
// dist/register.mjs only loads dist/register.js, for its side effect.
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');

/** dist/<entry>.mjs and .d.mts over dist/<entry>.js. */
function wrap(entry) {
  const base = path.basename(entry);
  const cjs = require(path.join(dist, `${entry}.js`));
  const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
  const body = `import cjs from './${base}.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`;
  fs.writeFileSync(path.join(dist, `${entry}.mjs`), body);
  fs.writeFileSync(path.join(dist, `${entry}.d.mts`), `export * from './${base}.js';\n`);
}

wrap('index');
wrap('http/index');
fs.writeFileSync(path.join(dist, 'register.mjs'), "import './register.js';\n");
fs.writeFileSync(path.join(dist, 'register.d.mts'), 'export {};\n');
