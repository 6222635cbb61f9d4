'use strict';
// "torl: Solve selection": streams the worked solution into the "torl" output panel.
const vscode = require('vscode');
const { Client, solve } = require('./lib/rpc');

let client = null;

async function connection() {
  if (client && !client.closed) return client;
  const config = vscode.workspace.getConfiguration('torl');
  const address = config.get('address');
  const next = address ? await Client.connect(address) : Client.spawn(config.get('command'));
  const params = { client_name: 'torl.vscode' };
  if (config.get('token')) params.token = config.get('token');
  await next.request('initialize', params);
  client = next;
  return client;
}

function activate(context) {
  const output = vscode.window.createOutputChannel('torl');
  context.subscriptions.push(output, vscode.commands.registerCommand('torl.solveSelection', async () => {
    const editor = vscode.window.activeTextEditor;
    const problem = editor ? editor.document.getText(editor.selection).trim() : '';
    if (!problem) {
      vscode.window.showWarningMessage('torl: select the problem text first');
      return;
    }
    const config = vscode.workspace.getConfiguration('torl');
    output.show(true);
    output.appendLine(`# ${problem.replace(/\s+/g, ' ')}\n`);
    try {
      const result = await solve(await connection(), problem,
        { template: config.get('template'), max_tool_calls: config.get('maxToolCalls') },
        (delta) => output.append(delta));
      output.appendLine(`\n\n---\nanswer: ${result.answer ?? 'none'}   (${result.finish_reason})\n`);
    } catch (error) {
      output.appendLine(`\n[torl] ${error.message}`);
      vscode.window.showErrorMessage(`torl: ${error.message}`);
    }
  }));
}

function deactivate() {
  if (client) return client.close();
  return undefined;
}

module.exports = { activate, deactivate };
