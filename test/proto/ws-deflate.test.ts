// permessage-deflate (native/proto/ws/extension.h, deflate.h) through its
// test hooks (native/napi/ws_deflate_binding.cc): negotiation, the inflater
// and the deflater. Titles name the RFC 7692 section, or the
// Autobahn|Testsuite section whose offers they replay.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as zlib from 'node:zlib';
import { ROOT } from '../helpers/index.js';
import { hooks, type WsInflateOpts } from '../helpers/testing-addon.js';

const RESULTS = hooks.wsDeflateResults();
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const HELLO = Buffer.from('Hello');

/** Node's raw DEFLATE of data, flushed and with the 00 00 ff ff tail removed (7.2.1). */
function nodeCompress(data: Buffer, windowBits = 15): Buffer {
  const out = zlib.deflateRawSync(data, { windowBits: Math.max(windowBits, 9), finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(out.subarray(-4), hex('0000ffff'));
  return out.subarray(0, out.length - 4);
}

/** Node's inflate of a payload we sent, tail appended (7.2.2). */
function nodeInflate(payload: Buffer, windowBits = 15): Buffer {
  return zlib.inflateRawSync(Buffer.concat([payload, hex('0000ffff')]), { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

function inflateOne(payload: Buffer, opts: WsInflateOpts = {}) {
  return hooks.wsInflateSplits(payload, opts);
}

/** Text a compressor finds repeats in, at distances up to ~2 KiB. */
function sampleText(n: number): Buffer {
  const words = ['tsgi', 'deflate', 'window', 'message', 'context', 'takeover', 'frame', 'héllo', 'wörld', '✓'];
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${words[(i * 7) % words.length]}-${i % 97} `;
  return Buffer.from(s).subarray(0, n);
}

describe("RFC 7692's examples (7.2.3)", () => {
  test('7.2.3.1: "Hello" in one compressed block, at every split', () => {
    const r = inflateOne(hex('f248cdc9c90700'), { text: true });
    assert.equal(r.result, 'kOk');
    assert.deepEqual(r.data, HELLO);
    assert.deepEqual(hooks.wsDeflate([HELLO])[0]!.data, hex('f248cdc9c90700'));
  });

  test('7.2.3.2: the second "Hello" refers to the first through the shared window', () => {
    const second = hex('f200110000');
    const both = hooks.wsInflate([hex('f248cdc9c90700'), second]);
    assert.deepEqual(both.map((m) => [m.result, m.data.toString()]), [['kOk', 'Hello'], ['kOk', 'Hello']]);
    // Our deflater writes exactly the RFC's bytes, message after message.
    assert.deepEqual(hooks.wsDeflate([HELLO, HELLO]).map((m) => m.data), [hex('f248cdc9c90700'), second]);
    // Without context takeover (7.1.1.2) the reference points before the message: refused.
    const none = hooks.wsInflate([hex('f248cdc9c90700'), second], { noContextTakeover: true });
    assert.deepEqual(none.map((m) => [m.result, m.code]), [['kOk', 0], ['kBadData', 1007]]);
  });

  test('7.2.3.3: a block with no compression', () => {
    const r = inflateOne(hex('000500faff48656c6c6f00'), { text: true });
    assert.equal(r.result, 'kOk');
    assert.deepEqual(r.data, HELLO);
  });

  test('7.2.3.4: a block with BFINAL set; the byte after it is not read; the window survives', () => {
    const r = inflateOne(hex('f348cdc9c9070000'), { text: true });
    assert.deepEqual([r.result, r.data.toString()], ['kOk', 'Hello']);
    // Without the extra byte too, and a next message still refers back to "Hello".
    const two = hooks.wsInflate([hex('f348cdc9c90700'), hex('f200110000')]);
    assert.deepEqual(two.map((m) => [m.result, m.data.toString()]), [['kOk', 'Hello'], ['kOk', 'Hello']]);
    const none = hooks.wsInflate([hex('f348cdc9c90700'), hex('f200110000')], { noContextTakeover: true });
    assert.deepEqual(none.map((m) => m.result), ['kOk', 'kBadData']);
  });

  test('7.2.3.5: two DEFLATE blocks in one message', () => {
    const r = inflateOne(hex('f248050000 00ffff cac9c90700'), { text: true });
    assert.deepEqual([r.result, r.data.toString()], ['kOk', 'Hello']);
  });

  test('7.2.3.6: an empty message is the one byte 00, both ways; an empty payload is refused', () => {
    const out = hooks.wsDeflate([Buffer.alloc(0), HELLO, Buffer.alloc(0)]);
    assert.deepEqual(out.map((m) => m.data), [hex('00'), hex('f248cdc9c90700'), hex('00')]);
    // The first empty message touches no zlib state.
    assert.equal(hooks.wsDeflate([Buffer.alloc(0)])[0]!.memory, 0);
    const back = hooks.wsInflate(out.map((m) => m.data), { text: true });
    assert.deepEqual(back.map((m) => [m.result, m.data.toString()]), [['kOk', ''], ['kOk', 'Hello'], ['kOk', '']]);
    // 7.2.1 always leaves at least the empty block's header byte.
    assert.deepEqual([inflateOne(Buffer.alloc(0)).result, inflateOne(Buffer.alloc(0)).code], ['kBadData', 1007]);
  });
});

describe('the inflater (7.2.2)', () => {
  test('round trips with Node\'s zlib at every window size, both directions', () => {
    const data = sampleText(20000);
    for (let w = 8; w <= 15; w++) {
      // Node's compression (a window of 9 stands for 8, as in zlib) read by ours.
      const theirs = nodeCompress(data, w);
      const r = hooks.wsInflate([theirs], { windowBits: w });
      assert.equal(r[0]!.result, 'kOk', `window ${w}`);
      assert.ok(r[0]!.data.equals(data), `window ${w}`);
      // Ours read by Node's.
      const ours = hooks.wsDeflate([data], { windowBits: w })[0]!;
      assert.equal(ours.result, 'kOk');
      assert.ok(nodeInflate(ours.data, w).equals(data), `window ${w}`);
      assert.ok(ours.data.length < data.length / 2, `window ${w}: ${ours.data.length} of ${data.length}`);
    }
  });

  test('a window of 8 (server_max_window_bits=8) is kept: zlib\'s 9 refers back at most 250 bytes', () => {
    // Repeats 300 bytes apart, which a 512-byte window would reach.
    const unit = randomBytes(300);
    const data = Buffer.concat([unit, unit, unit, sampleText(3000), unit]);
    const ours = hooks.wsDeflate([data, data], { windowBits: 8 });
    // Fed a byte at a time, zlib checks every distance against the 256-byte window alone.
    for (const m of ours) {
      const back = hooks.wsInflateSplits(m.data, { windowBits: 8 });
      assert.equal(back.result, 'kOk');
      assert.ok(back.data.equals(data));
    }
  });

  test('every split of a compressed message gives the same bytes (text, 3 KiB)', () => {
    const data = sampleText(3000);
    const r = inflateOne(nodeCompress(data), { text: true });
    assert.equal(r.result, 'kOk');
    assert.ok(r.data.equals(data));
  });

  test('context takeover: later messages shrink; with none each stands alone (7.1.1)', () => {
    const data = sampleText(4000);
    const taken = hooks.wsDeflate([data, data, data]);
    assert.ok(taken[1]!.data.length < taken[0]!.data.length / 10, `${taken[1]!.data.length} vs ${taken[0]!.data.length}`);
    const alone = hooks.wsDeflate([data, data, data], { noContextTakeover: true });
    assert.deepEqual(alone[1]!.data, alone[0]!.data);
    assert.deepEqual(alone[2]!.data, alone[0]!.data);
    for (const m of alone) assert.ok(nodeInflate(m.data).equals(data));
    // Each set read back by an inflater that agreed to the same.
    const back = hooks.wsInflate(taken.map((m) => m.data));
    assert.ok(back.every((m) => m.result === 'kOk' && m.data.equals(data)));
    const back2 = hooks.wsInflate(alone.map((m) => m.data), { noContextTakeover: true, release: true });
    assert.ok(back2.every((m) => m.result === 'kOk' && m.data.equals(data)));
    // A message that took over, read by an inflater that dropped its window: refused.
    const wrong = hooks.wsInflate(taken.map((m) => m.data), { noContextTakeover: true });
    assert.deepEqual(wrong.map((m) => m.result), ['kOk', 'kBadData']);
  });

  test('a message in pieces as the framer hands them, and in messages of many pieces', () => {
    const data = sampleText(50000);
    const packed = nodeCompress(data);
    const pieces: Buffer[] = [];
    for (let at = 0; at < packed.length; at += 777) pieces.push(packed.subarray(at, at + 777));
    const r = hooks.wsInflate([pieces, [nodeCompress(HELLO)]]);
    assert.deepEqual(r.map((m) => m.result), ['kOk', 'kOk']);
    assert.ok(r[0]!.data.equals(data));
  });

  test('a decompression bomb stops at the limit: 10 MiB of zeros under 1 MiB (1009)', () => {
    const bomb = nodeCompress(Buffer.alloc(10 << 20));
    assert.ok(bomb.length < 11000, `${bomb.length} bytes`);
    const r = hooks.wsInflate([bomb], { maxMessage: 1 << 20 });
    assert.equal(r.length, 1);
    assert.deepEqual([r[0]!.result, r[0]!.code], ['kTooBig', 1009]);
    assert.ok(r[0]!.data.length <= 1 << 20, `${r[0]!.data.length} bytes reached the sink`);
    assert.ok(r[0]!.memory <= hooks.wsDeflateBounds(15, 8).inflate);
  });

  test('the limit counts inflated bytes: exactly at it passes, one more is refused', () => {
    const data = sampleText(5000);
    const packed = nodeCompress(data);
    assert.equal(inflateOne(packed, { maxMessage: 5000 }).result, 'kOk');
    assert.deepEqual([inflateOne(packed, { maxMessage: 4999 }).result, inflateOne(packed, { maxMessage: 4999 }).code], ['kTooBig', 1009]);
    assert.equal(inflateOne(packed, { maxMessage: 0 }).result, 'kTooBig');
    assert.equal(inflateOne(hex('00'), { maxMessage: 0 }).result, 'kOk');
  });

  test('text is checked as UTF-8 once inflated (RFC 6455 8.1, 1007), split characters allowed', () => {
    assert.equal(inflateOne(nodeCompress(Buffer.from('✓é€\u{1f600}'.repeat(2000))), { text: true }).result, 'kOk');
    for (const bad of [hex('61c080'), hex('eda080'), hex('f4908080'), hex('ff'), hex('61e282')]) {
      const r = inflateOne(nodeCompress(bad), { text: true });
      assert.deepEqual([r.result, r.code], ['kBadUtf8', 1007], bad.toString('hex'));
      assert.equal(inflateOne(nodeCompress(bad)).result, 'kOk', 'binary is not checked');
    }
  });

  test('data that is not DEFLATE, or ends inside a block, is refused (1007)', () => {
    for (const bad of [hex('ff'), hex('07'), hex('f248cdc9'), hex('000500faff48656c6c6f'), hex('000500faff4865')]) {
      const r = inflateOne(bad);
      assert.deepEqual([r.result, r.code], ['kBadData', 1007], bad.toString('hex'));
    }
    // The failure is sticky: the connection closes.
    const r = hooks.wsInflate([hex('ff'), hex('f248cdc9c90700')]);
    assert.equal(r.length, 1);
  });
});

describe('memory per connection', () => {
  test('zlib state is allocated on the first compressed message, within the bounds, freed by release()', (t) => {
    const data = sampleText(20000);
    for (const [w, m] of [[8, 1], [9, 7], [13, 7], [15, 8], [15, 9]] as const) {
      const bound = hooks.wsDeflateBounds(w, m);
      const d = hooks.wsDeflate([data, data], { windowBits: w, memLevel: m });
      assert.ok(d[0]!.memory > 0 && d[0]!.memory <= bound.deflate, `deflate ${w}/${m}: ${d[0]!.memory} > ${bound.deflate}`);
      const i = hooks.wsInflate(d.map((x) => x.data), { windowBits: w });
      assert.ok(i[0]!.memory > 0 && i[0]!.memory <= bound.inflate, `inflate ${w}: ${i[0]!.memory} > ${bound.inflate}`);
      t.diagnostic(`window ${w}, memLevel ${m}: deflater ${d[0]!.memory} B (bound ${bound.deflate}), inflater ${i[0]!.memory} B (bound ${bound.inflate})`);
    }
    // release() between messages: the next message allocates again, same output.
    const kept = hooks.wsDeflate([data, data], { noContextTakeover: true });
    const freed = hooks.wsDeflate([data, data], { noContextTakeover: true, release: true });
    assert.deepEqual(freed.map((m) => m.data), kept.map((m) => m.data));
  });

  test('the defaults hold about 142 KiB to deflate (window 13, memLevel 7) and 41 KiB to inflate', (t) => {
    const agreed = hooks.wsNegotiate('permessage-deflate; client_max_window_bits').agreed!;
    assert.deepEqual([agreed.serverMaxWindowBits, agreed.memLevel, agreed.clientMaxWindowBits], [13, 7, 15]);
    const d = hooks.wsDeflate([sampleText(5000)], { windowBits: 13, memLevel: 7 })[0]!;
    const i = hooks.wsInflate([d.data], { windowBits: 15 })[0]!;
    t.diagnostic(`defaults: deflater ${d.memory} B, inflater ${i.memory} B`);
    assert.ok(d.memory <= 150 * 1024 && i.memory <= 44 * 1024);
  });
});

describe('negotiation (RFC 7692 5, 7.1)', () => {
  const accepted = (values: string | string[], config = {}) => {
    const r = hooks.wsNegotiate(values, config);
    assert.equal(r.outcome, 'accepted', JSON.stringify(values));
    return r;
  };

  test('no offer, other extensions, or the extension disabled: nothing to answer', () => {
    assert.equal(hooks.wsNegotiate('').outcome, 'noOffer');
    assert.equal(hooks.wsNegotiate('x-webkit-deflate-frame').outcome, 'noOffer');
    assert.equal(hooks.wsNegotiate([]).outcome, 'noOffer');
    assert.equal(hooks.wsNegotiate('permessage-deflate', { enabled: false }).outcome, 'noOffer');
    // Extension names are matched as registered, lower case.
    assert.equal(hooks.wsNegotiate('Permessage-Deflate').outcome, 'noOffer');
  });

  test('a browser\'s offer (client_max_window_bits without a value)', () => {
    const r = accepted('permessage-deflate; client_max_window_bits');
    assert.equal(r.response, 'permessage-deflate');
    assert.equal(r.agreed!.clientMaxWindowBits, 15);
    assert.equal(accepted('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }).response,
      'permessage-deflate; client_max_window_bits=10');
    assert.equal(accepted('permessage-deflate').response, 'permessage-deflate');
  });

  // Autobahn|Testsuite 12.x offers the default, 13.x these; the client
  // always accepts client_no_context_takeover and client_max_window_bits.
  const AB = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';
  const cases: [string, string, string][] = [
    ['12.x, 13.1', AB, 'permessage-deflate; client_no_context_takeover'],
    ['13.2', `${AB}; server_no_context_takeover`, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['13.3', `${AB}; server_max_window_bits=8`, 'permessage-deflate; client_no_context_takeover; server_max_window_bits=8'],
    ['13.4', `${AB}; server_max_window_bits=15`, 'permessage-deflate; client_no_context_takeover; server_max_window_bits=13'],
    ['13.5', `${AB}; server_no_context_takeover; server_max_window_bits=8`,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8'],
    ['13.6', `${AB}; server_no_context_takeover; server_max_window_bits=15`,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=13'],
  ];
  for (const [section, offer, response] of cases) {
    test(`Autobahn ${section}: ${offer.slice(AB.length) || '(default)'}`, () => {
      const r = accepted(offer);
      assert.equal(r.response, response);
      assert.equal(r.agreed!.clientNoContextTakeover, true);
    });
  }

  test('Autobahn 13.7: several offers in one header, the first acceptable one wins', () => {
    const offer = `${AB}; server_no_context_takeover; server_max_window_bits=8, ${AB}; server_no_context_takeover, ${AB}`;
    assert.equal(accepted(offer).response,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8');
    // With the first one malformed, the second.
    assert.equal(accepted(`${AB}; server_max_window_bits=7, ${AB}; server_no_context_takeover`).response,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  });

  test('the server\'s config: its own no_context_takeover and smaller windows (7.1.1, 7.1.2)', () => {
    const c = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 };
    const r = accepted('permessage-deflate; server_max_window_bits=12; client_max_window_bits=11', c);
    assert.equal(r.response, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
      'server_max_window_bits=10; client_max_window_bits=9');
    assert.deepEqual(r.agreed, { serverNoContextTakeover: true, clientNoContextTakeover: true,
      serverMaxWindowBits: 10, clientMaxWindowBits: 9, memLevel: 7 });
    assert.ok(r.response!.length <= 128);
    // A smaller offer than the config wins; a client value is echoed.
    assert.equal(accepted('permessage-deflate; client_max_window_bits=9').response, 'permessage-deflate; client_max_window_bits=9');
    // 7.1.2.2: a client that does not offer client_max_window_bits cannot be held below 15.
    assert.equal(hooks.wsNegotiate('permessage-deflate', { clientMaxWindowBits: 12 }).outcome, 'declined');
    assert.equal(hooks.wsNegotiate('permessage-deflate', { serverMaxWindowBits: 16 }).outcome, 'badConfig');
    assert.equal(hooks.wsNegotiate('permessage-deflate', { memLevel: 0 }).outcome, 'badConfig');
  });

  test('offers with parameters 7.1 forbids are declined, and the next offer considered', () => {
    const bad = [
      'permessage-deflate; foo',                                 // unknown parameter
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',  // repeated
      'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
      'permessage-deflate; server_no_context_takeover=1',        // 7.1.1.1: no value
      'permessage-deflate; client_no_context_takeover="x"',      // 7.1.1.2: no value
      'permessage-deflate; server_max_window_bits',              // 7.1.2.1: value required
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=08',           // no leading zeros
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; client_max_window_bits=abc',
      'permessage-deflate; client_max_window_bits=100000000000015',
    ];
    for (const offer of bad) {
      assert.equal(hooks.wsNegotiate(offer).outcome, 'declined', offer);
      assert.equal(accepted(`${offer}, permessage-deflate`).response, 'permessage-deflate', offer);
    }
    // A quoted value is its token once unescaped (RFC 6455 9.1).
    assert.equal(accepted('permessage-deflate; server_max_window_bits="10"').response,
      'permessage-deflate; server_max_window_bits=10');
    assert.equal(accepted('permessage-deflate; server_max_window_bits="1\\0"').response,
      'permessage-deflate; server_max_window_bits=10');
  });

  test('a header that breaks RFC 6455 9.1\'s grammar declines everything in it', () => {
    for (const v of ['permessage-deflate;', 'permessage-deflate; =1', '; permessage-deflate', 'permessage deflate',
      'permessage-deflate; a=""', 'permessage-deflate; a="b', 'permessage-deflate; a=b c', 'permessage-deflate, x;;',
      'permessage-deflate; a="\u00e9"', 'permessage-deflate; a=', 'permessage-deflate/1']) {
      assert.equal(hooks.wsNegotiate(v).outcome, 'malformed', v);
    }
  });

  test('several header lines are one list; empty elements and whitespace are allowed (RFC 7230 7)', () => {
    assert.equal(accepted(['x-webkit-deflate-frame', 'permessage-deflate; server_max_window_bits=9']).response,
      'permessage-deflate; server_max_window_bits=9');
    assert.equal(accepted(' , permessage-deflate \t;\tclient_no_context_takeover ,, ').response,
      'permessage-deflate; client_no_context_takeover');
    assert.equal(accepted('foo; bar="b\\az", permessage-deflate').response, 'permessage-deflate');
    // ... but a quoted value must still be a token (RFC 6455 9.1).
    assert.equal(hooks.wsNegotiate('foo; bar="b\\"az", permessage-deflate').outcome, 'malformed');
    assert.equal(hooks.wsNegotiate(['permessage-deflate', 'x;']).outcome, 'malformed');
  });
});

describe('the result list', () => {
  test('every failure names a close code of 1007, 1009 or 1011', () => {
    assert.deepEqual(Object.keys(RESULTS), ['kOk', 'kTooBig', 'kBadData', 'kBadUtf8', 'kNoMemory', 'kSinkFailed']);
    for (const [name, r] of Object.entries(RESULTS)) {
      assert.ok(name === 'kOk' ? r.code === 0 : [1007, 1009, 1011].includes(r.code), name);
    }
  });
});

// The seed corpus and any regressions of test/fuzz/ws_deflate_fuzz.cc,
// replayed without clang: the first byte picks the window, the rest is one
// message, inflated at every split under a 4 KiB limit, then read as an offer.
for (const folder of ['regressions', 'corpus'] as const) {
  const dir = join(ROOT, 'test', 'fuzz', folder, 'ws_deflate');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];
  describe(`permessage-deflate fuzz ${folder}`, () => {
    if (folder === 'corpus') test('the seed corpus is not empty', () => assert.ok(files.length >= 10));
    for (const f of files) {
      test(basename(f), () => {
        const buf = readFileSync(join(dir, f));
        if (buf.length === 0) return;
        const sel = buf[0]!;
        // Window 15: zlib's window check cannot then depend on the split.
        const r = hooks.wsInflateSplits(buf.subarray(1, 1 + 4096), { windowBits: 15, maxMessage: 4096, text: (sel & 0x10) !== 0 });
        assert.ok(Object.keys(RESULTS).includes(r.result));
        assert.ok(hooks.wsNegotiate(buf.toString('latin1')).outcome.length > 0);
      });
    }
  });
}
