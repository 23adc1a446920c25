export { serve } from './server/serve.js';
export { dispatch } from './dispatch/mount.js';
export type { DispatchTable, MountTable, MountList } from './dispatch/mount.js';
export type { ServeOptions, ServerHandle, BoundAddress } from './server/serve.js';
export type { ListenSpec, ListenProtocol } from './server/listen.js';
export type { StaticOptions } from './server/static.js';
export type { UpgradeStats } from './server/upgrade.js';
export type { BlockedAction } from './server/watchdog.js';
export type {
  App, Body, Chunk, ErrorStream, FileBody, HeaderList, Lifecycle, Middleware, Reply, ReplyBody, Request, SealedBody, SendOptions,
  SendStatus, ServerInfo, TunnelSocket, WebSocket, WebSocketHandlers,
} from './tsgi/types.js';
export { seal } from './server/sealed.js';
export { fromFetch, isFetchApp } from './adapters/fetch.js';
export type { FetchApp, FetchEnv, FetchExecutionContext, FetchHandler, FetchOptions, FetchTsgiApp } from './adapters/fetch.js';
export { fromNodeListener, fromNodeApp } from './adapters/node/index.js';
export { toNodeListener } from './adapters/to-node.js';
export { cgiHost } from './cgi/host.js';
export type { CgiHostOptions } from './cgi/host.js';
export type { NodeListenerOptions } from './adapters/to-node.js';
export { AccessLog } from './server/access-log.js';
export type { AccessLogFormat, AccessLogOptions, RequestDone } from './server/access-log.js';
export { TsgiError, ERRORS } from './errors.js';
export type { ErrorCode } from './errors.js';
export { VERSION, TSGI_VERSION } from './version.js';
