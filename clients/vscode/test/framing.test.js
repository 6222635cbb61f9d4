'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { encode, FrameDecoder } = require('../lib/rpc');

test('frames decode when fed one byte at a time', () => {
  const messages = Array.from({ length: 10 }, (_, i) => ({ jsonrpc: '2.0', id: i, params: { text: 'é😀'.repeat(i) } }));
  const stream = Buffer.concat(messages.map(encode));
  const decoder = new FrameDecoder();
  const decoded = [];
  for (let i = 0; i < stream.length; i++) decoded.push(...decoder.push(stream.subarray(i, i + 1)));
  assert.deepStrictEqual(decoded, messages);
});

test('Content-Length counts bytes', () => {
  const frame = encode({ t: '😀' }).toString('utf8');
  const [header, body] = frame.split('\r\n\r\n');
  assert.strictEqual(Number(header.split(':')[1]), Buffer.byteLength(body));
});

test('malformed headers are errors', () => {
  assert.throws(() => new FrameDecoder().push(Buffer.from('Content-Type: x\r\n\r\n')), /Content-Length/);
  assert.throws(() => new FrameDecoder(10).push(Buffer.from('Content-Length: 11\r\n\r\n')), /exceeds/);
  assert.throws(() => new FrameDecoder().push(Buffer.alloc(9000, 120)), /header longer/);
});
