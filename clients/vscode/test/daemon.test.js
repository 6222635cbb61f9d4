'use strict';
// The extension's protocol logic against a real torl daemon (TORL_BIN, built by `make`).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { Client, solve } = require('../lib/rpc');

const torl = process.env.TORL_BIN;

function startDaemon(extraArgs = []) {
  assert.ok(torl && fs.existsSync(torl), 'TORL_BIN must name the built torl binary (run through `make test`)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torl-vscode-'));
  const socket = path.join(dir, 'torl.sock');
  const child = spawn(torl, ['serve', '--listen', `unix:${socket}`, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 120000;
    const poll = () => {
      if (fs.existsSync(socket)) return resolve({ child, address: `unix:${socket}` });
      if (child.exitCode !== null) return reject(new Error(`daemon exited: ${stderr}`));
      if (Date.now() > deadline) { child.kill(); return reject(new Error('daemon did not listen in time')); }
      setTimeout(poll, 100);
    };
    poll();
  });
}

test('a real daemon over a Unix socket', async (t) => {
  const { child, address } = await startDaemon();
  t.after(() => child.kill('SIGTERM'));
  const client = await Client.connect(address);
  const info = await client.request('initialize', { client_name: 'vscode-test' });
  assert.strictEqual(info.server.name, 'torl');
  assert.ok(info.capabilities.methods.includes('sandbox/execute'));

  const result = await client.request('sandbox/execute', { code: 'print(sum(range(101)))' });
  assert.strictEqual(result.status, 'ok');
  assert.strictEqual(result.stdout, '5050\n');

  await assert.rejects(client.request('sandbox/execute', { code: 42 }), (error) => {
    assert.strictEqual(error.code, -32602);
    assert.strictEqual(error.data.field, 'code');
    return true;
  });
  await assert.rejects(client.request('no/such'), (error) => error.code === -32601);

  // Concurrent requests on one connection come back to their own callers.
  const outputs = await Promise.all([1, 2, 3, 4].map((n) => client.request('sandbox/execute', { code: `print(${n} ** 3)` })));
  assert.deepStrictEqual(outputs.map((r) => r.stdout), ['1\n', '8\n', '27\n', '64\n']);
  await client.close();
  assert.ok(client.closed);
});

test('a daemon spawned over stdio', async () => {
  assert.ok(torl && fs.existsSync(torl), 'TORL_BIN must name the built torl binary');
  const env = { ...process.env };
  delete env.TORL_MODEL;
  const client = Client.spawn([torl, 'serve', '--stdio'], { env });
  const info = await client.request('initialize', {});
  assert.strictEqual(info.model, null);
  const status = await client.request('status');
  assert.strictEqual(status.sandbox.workers_alive, status.sandbox.pool_size);
  await client.close();
  await new Promise((resolve) => (client.process.exitCode !== null ? resolve() : client.process.on('exit', resolve)));
  assert.strictEqual(client.process.exitCode, 0);
});

test('Solve selection streams the solution as it is written', async (t) => {
  assert.ok(process.env.TORL_MODEL, 'TORL_MODEL must name the default model (run through `make test`)');
  const { child, address } = await startDaemon(['--model', process.env.TORL_MODEL]);
  t.after(() => child.kill('SIGTERM'));
  const client = await Client.connect(address);
  await client.request('initialize', { client_name: 'vscode-test' });
  let panel = '';
  const result = await solve(client, 'What is 6 * 7?', { max_tokens: 24 }, (delta) => { panel += delta; });
  assert.ok(panel.length > 0, 'nothing was streamed');
  assert.strictEqual(panel, result.text);
  assert.ok(['eos', 'max_tokens', 'stop_string'].includes(result.finish_reason), result.finish_reason);
  await client.close();
});
