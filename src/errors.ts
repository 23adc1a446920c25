// The one catalogue of tsgi errors: TSGI_ERR_<AREA>_<WHAT>, a message, and the
// HTTP status a request gets when the error ends it. docs/errors.md lists them;
// a test keeps the two in step.

export const ERRORS = {
  TSGI_ERR_ADDON_LOAD: { status: 500, message: 'the native addon could not be loaded' },
  TSGI_ERR_LISTEN: { status: 500, message: 'cannot listen on the address' },
  TSGI_ERR_APP_LOAD: { status: 500, message: 'the app module could not be loaded' },
  TSGI_ERR_APP_THROW: { status: 500, message: 'the app threw or rejected' },
  TSGI_ERR_APP_KIND: { status: 500, message: 'the module does not export an app' },
  TSGI_ERR_APP_LISTEN: { status: 500, message: 'the app module starts a server of its own' },
  TSGI_ERR_APP_STARTUP: { status: 500, message: "the app's startup hook threw or rejected" },
  TSGI_ERR_DISPATCH_TABLE: { status: 500, message: 'the dispatch table is invalid' },
  TSGI_ERR_REPLY_STATUS: { status: 500, message: 'the reply status is not an integer in 200..599' },
  TSGI_ERR_REPLY_HEADER: { status: 500, message: 'a reply header name or value is invalid (CR, LF, NUL or not a token)' },
  TSGI_ERR_REPLY_BODY: { status: 500, message: 'the reply body is not a string, bytes or an iterable of those' },
  TSGI_ERR_REPLY_LENGTH: { status: 500, message: 'the reply body is longer than its Content-Length' },
  TSGI_ERR_REPLY_FILE: { status: 500, message: 'the reply file cannot be sent' },
  TSGI_ERR_REPLY_UPGRADE: { status: 500, message: 'the reply cannot switch this request\'s protocol' },
  TSGI_ERR_BODY_TOO_LARGE: { status: 413, message: 'the request body is larger than the reader allows' },
  TSGI_ERR_BODY_INVALID: { status: 400, message: 'the request body is malformed' },
  TSGI_ERR_BODY_ABORTED: { status: 400, message: 'the client went away before the body was complete' },
  TSGI_ERR_BODY_CONSUMED: { status: 500, message: 'the request body was already read' },
  TSGI_ERR_CLI_USAGE: { status: 500, message: 'invalid command line' },
  TSGI_ERR_CONFIG: { status: 500, message: 'invalid configuration' },
  TSGI_ERR_HARAKIRI: { status: 504, message: 'the request ran longer than --harakiri allows' },
  TSGI_ERR_PRIVILEGES: { status: 500, message: 'cannot drop privileges' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class TsgiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message, options);
    this.name = 'TsgiError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}
