// A process's resident size, for the tests that check memory comes back.
import { readFileSync } from 'node:fs';
import { binding } from 'tsgi/native';

/**
 * Why resident sizes cannot be checked here, or false. What a release gives
 * back is the C library's: a sanitizer build's allocator keeps freed memory
 * in its quarantine, so there is none to see.
 */
export const RSS_NOT_MEASURABLE: string | false = process.platform !== 'linux' ? 'reads /proc'
  : binding.platform().sanitizers ? 'a sanitizer build: its allocator holds freed memory in quarantine' : false;

/** The resident size of process `pid`, in bytes (Linux). */
export function rss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kb![1]) * 1024;
}
