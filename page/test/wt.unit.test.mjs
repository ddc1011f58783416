// wt.js datagram formats against the relay's (portal/src/webtransport/wire.rs): time request
// bytes, time reply and state push parsing, and the WebTransport options from /wt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeRequest, parseDatagram, transportOptions, hexBytes } from '../www/wt.js';

test('time request: t, u32 id, f64 ms, big-endian, 13 bytes', () => {
  const b = timeRequest(0x01020304, 1.5);
  assert.equal(b.length, 13);
  assert.deepEqual([...b.slice(0, 5)], [0x74, 1, 2, 3, 4]);
  assert.equal(new DataView(b.buffer).getFloat64(5), 1.5);
});

test('time reply and state push are told apart; garbage is ignored', () => {
  const reply = new Uint8Array(21);
  reply.set(timeRequest(7, 0));
  new DataView(reply.buffer).setBigUint64(13, 1795629607963684n);
  assert.deepEqual(parseDatagram(reply), { id: 7, us: 1795629607963684 });
  const body = '{"state":"running","cue":"chase","at":5,"held":null,"next":null,"poll":1000,"show":null}';
  assert.equal(parseDatagram(new TextEncoder().encode(body)).state.cue, 'chase');
  for (const bad of [new Uint8Array(0), new Uint8Array([0x74, 1]), new TextEncoder().encode('{nope'), new Uint8Array([1, 2, 3])]) {
    assert.equal(parseDatagram(bad), null);
  }
});

test('serverCertificateHashes only for well-formed sha-256 hex', () => {
  const h = 'ab'.repeat(32);
  const o = transportOptions({ url: 'https://x/wt', hashes: [h, 'zz'] });
  assert.equal(o.serverCertificateHashes.length, 1);
  assert.equal(o.serverCertificateHashes[0].algorithm, 'sha-256');
  assert.deepEqual([...o.serverCertificateHashes[0].value], [...hexBytes(h)]);
  assert.deepEqual(transportOptions({ url: 'https://x/wt', hashes: [] }), {});
  assert.deepEqual(transportOptions({ url: 'https://x/wt' }), {});
});
