// Hello world as an app module for the CLI (bench/run-master.mjs): tsgi --processes N bench/servers/hello-app.cjs
const BODY = 'Hello, World!\n';
const HEADERS = { 'content-type': 'text/plain' };
module.exports = () => ({ status: 200, headers: HEADERS, body: BODY });
