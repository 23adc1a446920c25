export { serve } from './server/serve.js';
export type { ServeOptions, ServerHandle, BoundAddress, ListenSpec, ListenProtocol } from './server/serve.js';
export type { App, Body, Chunk, HeaderList, Reply, ReplyBody, Request, ServerInfo } from './tsgi/types.js';
export { fromFetch, isFetchApp } from './adapters/fetch.js';
export type { FetchApp, FetchEnv, FetchHandler } from './adapters/fetch.js';
export { TsgiError, ERRORS } from './errors.js';
export type { ErrorCode } from './errors.js';
export { VERSION } from './version.js';
