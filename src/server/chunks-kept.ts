// Marks a streamed reply body whose chunks their writer never changes once
// given (Node's writable streams make that promise: a chunk may be written
// later). What a slow client's socket has not taken of such a chunk stays in
// its memory (the KEPT reply flag) instead of being copied. A TSGI iterable
// makes no such promise: a generator may refill one buffer between yields.
// A module of its own, with no imports: the Node adapter marks its bodies
// with it under `tsgi --cgi` too, where the native addon must not load.
export const CHUNKS_KEPT = Symbol('tsgi.chunksKept');
