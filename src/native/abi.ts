// The numbers the core and TypeScript share (native/napi/abi.h), read from the
// addon once. This is the only file in src/ that knows them: everything else
// imports the tables below. The keys are declared here, so every use is typed;
// the values come from the addon alone. test/build/abi.test.ts fails when a
// key list here and the addon's differ, or a copy of a number turns up
// elsewhere in src/.
import { binding } from './load.js';

/** Each list the addon exports under binding.abi, with the keys TypeScript uses. */
export const ABI_KEYS = {
  events: ['REQUEST', 'BODY', 'BODY_END', 'BODY_ERROR', 'ABORT', 'DRAIN', 'DATA', 'DATA_END', 'DATA_ERROR',
    'WS_TEXT', 'WS_BINARY', 'WS_CLOSE', 'SERVED', 'BODY_READ'],
  eventSlots: ['TYPE', 'HANDLE', 'A', 'B', 'SIZE'],
  record: ['HEAD', 'FLAGS', 'LENGTH_LO', 'LENGTH_HI', 'METHOD', 'TARGET', 'PATH', 'QUERY', 'HOST', 'PEER',
    'PEER_PORT', 'LOCAL', 'LOCAL_PORT', 'LISTENER', 'COUNT', 'PAIRS'],
  pair: ['NAME', 'VALUE', 'SIZE'],
  recordFlags: ['HTTP11', 'KEEP_ALIVE', 'CHUNKED', 'CONTENT_LENGTH', 'EXPECT_CONTINUE', 'UPGRADE', 'ABSOLUTE_FORM',
    'ASTERISK_FORM', 'NO_BODY', 'HEAD', 'CGI', 'STRIP_SCRIPT_NAME', 'AUTHORIZER', 'FILTER',
    'UPGRADABLE', 'WEBSOCKET', 'SERVED', 'LENGTH_KNOWN'],
  reply: ['GONE', 'OK', 'FULL', 'OVERFLOW'],
  replyFlags: ['END', 'CLOSE', 'NO_DATE', 'KEPT'],
  upgrades: ['TUNNEL', 'WEBSOCKET'],
  wsFlags: ['BINARY', 'COMPRESS'],
  protocols: ['http', 'uwsgi', 'scgi', 'fastcgi'],
} as const;

type Lists = typeof ABI_KEYS;
export type AbiTable<L extends keyof Lists> = { readonly [K in Lists[L][number]]: number };

function table<L extends keyof Lists>(list: L): AbiTable<L> {
  const got = (binding.abi as Partial<Record<string, Record<string, number>>>)[list];
  const out: Record<string, number> = {};
  for (const key of ABI_KEYS[list]) {
    const value = got?.[key];
    if (typeof value !== 'number') {
      throw new Error(`tsgi: the native addon does not export abi.${list}.${key}; it is older or newer than ` +
        'this JavaScript: rebuild it (npm rebuild tsgi) or reinstall tsgi');
    }
    out[key] = value;
  }
  return Object.freeze(out) as AbiTable<L>;
}

/** Event types: the TYPE number of each event. */
export const EVENTS = table('events');
/** Where an event's numbers sit in the shared Float64Array, and how many per event (SIZE). */
export const EVENT_SLOTS = table('eventSlots');
/** The request record's u32 word offsets; a slice is (offset, length) at WORD and WORD + 1. */
export const RECORD = table('record');
/** One name/value pair of the record: two slices, SIZE words. */
export const PAIR = table('pair');
/** Bits of the record's FLAGS word. */
export const RECORD_FLAGS = table('recordFlags');
/** What respond, write, end, readBody, readData, writeFile, writeStderr and abort return. */
export const REPLY = table('reply');
/** respond()'s flags. */
export const REPLY_FLAGS = table('replyFlags');
/** upgrade()'s kinds: what the connection becomes. */
export const UPGRADES = table('upgrades');
/** wsSend() and wsPublish()'s flags. */
export const WS_FLAGS = table('wsFlags');
/** listen()'s protocol ids, by the name a listen address uses. */
export const PROTOCOLS = table('protocols');
