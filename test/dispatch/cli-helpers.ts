// For the dispatch tests that run `node bin/tsgi` (test/helpers/tsgi-process.ts):
// where their app fixtures live.
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';

/** The fixture modules live beside the sources (plain .js/.cjs/.mjs, not compiled). */
export const FIX = path.join(ROOT, 'test', 'dispatch', 'fixtures');
