// Kept equal to package.json's version by test/build/package.test.ts.
export const VERSION = '0.1.0';
/** The TSGI version this server implements (docs/tsgi.md): req.tsgi.version. */
export const TSGI_VERSION: readonly [number, number] = Object.freeze([1, 3] as const);
