// The app the --stats tests serve, and what they expect of its replies.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/index.js';

export const dir = tempDir('tsgi-stats-');
export const OK_BODY = 'hello\n';
export const ERROR_BODY = 'Internal Server Error\n';

/** /boom throws (a 500, an exception); /hold waits 1.5 s; /block blocks the loop 1.5 s; else OK_BODY. */
export const APP = path.join(dir, 'app.js');
writeFileSync(APP, `
module.exports = async (req) => {
  if (req.PATH_INFO === '/boom') throw new Error('boom (expected by the test)');
  if (req.PATH_INFO === '/hold') await new Promise((r) => setTimeout(r, 1500));
  if (req.PATH_INFO === '/block') { const end = Date.now() + 1500; while (Date.now() < end); }
  return { headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(OK_BODY)} };
};
`);

/** The stats address from the log line "tsgi: stats on http://127.0.0.1:PORT". */
export const STATS_LINE = /^tsgi: stats on http:\/\/127\.0\.0\.1:(\d+)$/m;
