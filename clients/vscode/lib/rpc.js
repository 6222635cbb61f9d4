'use strict';
// JSON-RPC 2.0 with LSP framing over a socket or a child's stdio. No dependency on the vscode API, so the
// protocol logic is tested with node's test runner against a real daemon.
const net = require('net');
const { spawn } = require('child_process');
const { EventEmitter } = require('events');

function encode(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

/** Incremental decoder: push(chunk) returns the messages completed by it. Throws on a malformed header. */
class FrameDecoder {
  constructor(maxBody = 256 * 1024 * 1024) { this.buffer = Buffer.alloc(0); this.need = null; this.maxBody = maxBody; }
  push(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const messages = [];
    for (;;) {
      if (this.need === null) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buffer.length > 8192) throw new Error('header longer than 8192 bytes');
          return messages;
        }
        const header = this.buffer.subarray(0, end).toString('ascii');
        const match = /content-length:\s*(\d+)/i.exec(header);
        if (!match) throw new Error('frame without Content-Length');
        this.need = Number(match[1]);
        if (this.need > this.maxBody) throw new Error(`body of ${this.need} bytes exceeds the limit`);
        this.buffer = this.buffer.subarray(end + 4);
      }
      if (this.buffer.length < this.need) return messages;
      const body = this.buffer.subarray(0, this.need).toString('utf8');
      this.buffer = this.buffer.subarray(this.need);
      this.need = null;
      messages.push(JSON.parse(body));
    }
  }
}

class RpcError extends Error {
  constructor(code, message, data) { super(`${message} (code ${code})`); this.code = code; this.data = data; }
}

class Client extends EventEmitter {
  constructor(readable, writable, onClose) {
    super();
    this.writable = writable;
    this.onClose = onClose;
    this.nextId = 1;
    this.pending = new Map();
    this.progress = new Map();
    this.closed = false;
    const decoder = new FrameDecoder();
    readable.on('data', (chunk) => {
      let messages;
      try { messages = decoder.push(chunk); } catch (error) { this._close(`bad frame from the daemon: ${error.message}`); return; }
      for (const message of messages) this._dispatch(message);
    });
    readable.on('close', () => this._close('the daemon closed the connection'));
    readable.on('error', (error) => this._close(error.message));
  }

  /** address: unix:PATH or tcp://HOST:PORT */
  static connect(address) {
    return new Promise((resolve, reject) => {
      let socket;
      if (address.startsWith('unix:')) socket = net.createConnection(address.slice(5));
      else if (address.startsWith('tcp://')) {
        const at = address.lastIndexOf(':');
        socket = net.createConnection(Number(address.slice(at + 1)), address.slice(6, at).replace(/^\[|\]$/g, ''));
      } else return reject(new Error(`address must be unix:PATH or tcp://HOST:PORT, got ${address}`));
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new Client(socket, socket, () => socket.destroy()));
      });
    });
  }

  /** Starts `command[0] ...command.slice(1)` (e.g. torl serve --stdio) and talks over its stdio. */
  static spawn(command, options = {}) {
    const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', options.stderr || 'ignore'], env: options.env });
    const client = new Client(child.stdout, child.stdin, () => { child.stdin.end(); });
    client.process = child;
    child.on('error', (error) => client._close(`cannot start ${command[0]}: ${error.message}`));
    return client;
  }

  request(method, params = {}, onProgress) {
    if (this.closed) return Promise.reject(new Error(`connection closed: ${this.closeReason}`));
    const id = this.nextId++;
    const message = { jsonrpc: '2.0', id, method, params: { ...params } };
    let token = null;
    if (onProgress) {
      token = `vscode-${id}`;
      message.params.progress_token = token;
      this.progress.set(token, onProgress);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, token });
      this.writable.write(encode(message));
    });
  }

  notify(method, params) {
    if (!this.closed) this.writable.write(encode({ jsonrpc: '2.0', method, params }));
  }

  cancel(id) { this.notify('$/cancelRequest', { id }); }

  async close() {
    if (!this.closed) {
      try { await this.request('shutdown'); this.notify('exit'); } catch (_) { /* already gone */ }
    }
    this._close('closed by the client');
  }

  _dispatch(message) {
    if (message.id !== undefined && ('result' in message || 'error' in message)) {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (pending.token) this.progress.delete(pending.token);
      if (message.error) pending.reject(new RpcError(message.error.code, message.error.message, message.error.data));
      else pending.resolve(message.result);
    } else if (message.method === '$/progress' && message.params) {
      const callback = this.progress.get(message.params.token);
      if (callback) callback(message.params.value);
    } else {
      this.emit('notification', message);
    }
  }

  _close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    for (const pending of this.pending.values()) pending.reject(new Error(`connection closed: ${reason}`));
    this.pending.clear();
    if (this.onClose) this.onClose();
    this.emit('close', reason);
  }
}

/** Solves `problem`, calling onText(delta) as the solution is written; resolves with the solve result. */
async function solve(client, problem, options = {}, onText = () => {}) {
  return client.request('solve', { ...options, problem }, (value) => {
    if (value && value.kind === 'text') onText(value.delta);
  });
}

module.exports = { encode, FrameDecoder, Client, RpcError, solve };
