'use strict';
// The extension manifest is what `vsce package` and VS Code read: the fields they require, settings with the
// types the extension code relies on, and the files a package ships.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('the fields vsce requires are present', () => {
  for (const field of ['name', 'displayName', 'description', 'version', 'publisher', 'license']) {
    assert.ok(typeof manifest[field] === 'string' && manifest[field].length > 0, field);
  }
  assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
  assert.match(manifest.engines.vscode, /^\^\d+\.\d+\.\d+$/);
  assert.ok(fs.existsSync(path.join(root, manifest.main)), `main ${manifest.main} exists`);
  assert.ok(fs.existsSync(path.join(root, 'README.md')), 'README.md exists');
});

test('every contributed command is activated and implemented', () => {
  const source = fs.readFileSync(path.join(root, manifest.main), 'utf8');
  for (const { command } of manifest.contributes.commands) {
    assert.ok(manifest.activationEvents.includes(`onCommand:${command}`), command);
    assert.ok(source.includes(`'${command}'`), `${command} is registered in ${manifest.main}`);
  }
});

test('settings have the types the extension reads', () => {
  const settings = manifest.contributes.configuration.properties;
  const tools = settings['torl.maxToolCalls'];
  assert.strictEqual(tools.type, 'integer');
  assert.strictEqual(tools.minimum, 0);
  assert.ok(Number.isInteger(tools.default) && tools.default >= tools.minimum && tools.default <= tools.maximum);
  assert.deepStrictEqual(settings['torl.template'].enum.sort(), ['chat', 'torl']);
  assert.strictEqual(settings['torl.command'].type, 'array');
  assert.strictEqual(settings['torl.command'].items.type, 'string');
  const source = fs.readFileSync(path.join(root, manifest.main), 'utf8');
  for (const name of Object.keys(settings)) {
    assert.ok(source.includes(`'${name.replace('torl.', '')}'`), `${name} is read by the extension`);
  }
});

test('the package leaves the tests out', () => {
  const ignored = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n').map((line) => line.trim());
  assert.ok(ignored.includes('test/**'));
});
