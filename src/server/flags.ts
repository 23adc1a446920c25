// Record flags, as native/proto/http1/parser.h (HeadFlags) and
// native/core/loop.h (RecordFlags) define them.
export const F_HTTP11 = 1 << 0;
export const F_CHUNKED = 1 << 2;
export const F_CONTENT_LENGTH = 1 << 3;
export const F_ABSOLUTE_FORM = 1 << 6;
export const F_NO_BODY = 1 << 16;
export const F_HEAD = 1 << 17;
export const F_CGI = 1 << 18;
export const F_STRIP_SCRIPT_NAME = 1 << 19;
export const F_AUTHORIZER = 1 << 20;
export const F_FILTER = 1 << 21;
