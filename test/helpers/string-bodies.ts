// String reply bodies of exact UTF-8 sizes, for the tests of the addon's
// string encoding over each protocol.
import type { Request } from 'tsgi';

/** A string of `ch` repeated to exactly `bytes` bytes of UTF-8 (ASCII 'z' makes up the rest). */
export function stringOf(ch: string, bytes: number): string {
  const each = Buffer.byteLength(ch);
  const count = Math.floor(bytes / each);
  return ch.repeat(count) + 'z'.repeat(bytes - count * each);
}

/** ASCII, and a mix of 2-, 3- and 4-byte characters with a lone surrogate (6 UTF-16 units). */
export const CGI_CHARS: Record<string, string> = { ascii: 'a', mixed: 'aé€😀\ud800' };

/**
 * Answers `/whole?c=<char>&n=<bytes>` with that string, and `/stream?…`
 * with it in four write() calls whose ends fall between whole characters of
 * 'mixed'.
 */
export const cgiStringApp = (req: Request) => {
  const q = new URLSearchParams(req.QUERY_STRING);
  const s = stringOf(CGI_CHARS[q.get('c')!]!, Number(q.get('n')));
  if (req.PATH_INFO === '/whole') return { body: s };
  const step = Math.ceil(s.length / 4 / 6) * 6;
  return { body: (async function* () { for (let i = 0; i < s.length; i += step) yield s.slice(i, i + step); })() };
};
