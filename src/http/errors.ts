// Errors with node's codes and messages, where apps and frameworks test
// `err.code` as they would on node:http.
import { getSystemErrorMap } from 'node:util';

export function nodeError(Kind: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string,
  message: string): Error & { code: string } {
  const err = new Kind(message) as Error & { code: string };
  err.code = code;
  return err;
}

export function notRunning(): Error {
  return nodeError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.');
}

export function alreadyListening(): Error {
  return nodeError(Error, 'ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
}

export interface ListenError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

/**
 * A failed bind as node reports it: `listen EADDRINUSE: address already in
 * use :::3000` with code, errno (negative, libuv's), syscall, address and
 * port. The addon's error (which says the same in tsgi's words) is the cause.
 */
export function listenError(err: unknown, address: string, host: string | undefined, port: number | undefined): Error {
  const errno = typeof (err as { errno?: unknown })?.errno === 'number' ? (err as { errno: number }).errno : 0;
  const known = errno > 0 ? getSystemErrorMap().get(-errno) : undefined;
  if (known === undefined) return err instanceof Error ? err : new Error(String(err));
  const where = port === undefined ? address : `${host ?? '::'}:${port}`;
  const e: ListenError = new Error(`listen ${known[0]}: ${known[1]} ${where}`, { cause: err });
  e.code = known[0];
  e.errno = -errno;
  e.syscall = 'listen';
  e.address = port === undefined ? address : host ?? '::';
  if (port !== undefined) e.port = port;
  return e;
}
