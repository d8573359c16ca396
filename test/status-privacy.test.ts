// Regression (issue 13): without a token, /status on loopback showed clients' warnings with full file
// paths (a skipped FIFO's name) and failure reasons to any local user. Now, without status_token and
// without status_details = 1, /status, /history, /metrics, the dashboard and `cpsbackup-server status`
// show counts, states and sizes only; the token, or the opt-in, gives the paths and messages back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type SandboxServer } from './support/sandbox';
import type { StatusReport } from '../src/server/status/status-report';

const TOKEN = 'status-privacy-token-0123456789';
/** Names only the client's files and the failing dump carry: none may appear without details. */
const SECRET_FIFO = 'payroll-secret.fifo';
const SECRET_REASON = '/srv/private/customer-db.sqlite';

function statusUrlOf(server: SandboxServer): string {
  const match = /cpsbackup-server status on (http:\/\/\S+)/.exec(server.log());
  assert.ok(match, server.log());
  return match[1];
}

async function bodiesOf(url: string, headers: Record<string, string> = {}): Promise<{ status: StatusReport; all: string }> {
  const texts: string[] = [];
  for (const path of ['/status', '/history', '/metrics', '/']) {
    const response = await fetch(`${url}${path}`, { headers });
    assert.equal(response.status, 200, `${path}: HTTP ${response.status}`);
    texts.push(await response.text());
  }
  return { status: JSON.parse(texts[0]) as StatusReport, all: texts.join('\n') };
}

test('the status port without a token shows counts, states and sizes; the token or status_details = 1 shows paths and messages', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'kept\n');
  const storage = join(sandbox.root, 'failing-storage.conf'); // not storage.conf: node.conf would find that one beside it
  await writeFile(storage, ['source = main', 'kind = command', `dump = sh -c 'echo "cannot open ${SECRET_REASON}" >&2; exit 3'`, 'load = cat > /dev/null', ''].join('\n'));

  /** Starts the server with these server.conf lines, makes one good backup (with a FIFO warning) and one that fails. */
  const serverWith = async (lines: readonly string[]): Promise<string> => {
    await sandbox.runningServer?.stop();
    await sandbox.rewriteServerConfig(lines);
    const server = await sandbox.startServer();
    // An include that does not exist: the backup is kept (incomplete) and its warning names the path.
    const good = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `include = ${join(data, SECRET_FIFO)}`]);
    const ok = await sandbox.runClient(['-c', good, '-e']);
    assert.equal(ok.code, 3, ok.stderr);
    assert.match(ok.stderr, new RegExp(`${SECRET_FIFO}: the include does not exist`), 'the client itself is told');
    const failing = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`]);
    const failed = await sandbox.runClient(['-c', failing, '-e']);
    assert.notEqual(failed.code, 0, 'the dump fails the backup');
    return statusUrlOf(server);
  };

  await t.test('no token, no status_details: no path, no message, on every page and in `cpsbackup-server status`', async () => {
    const url = await serverWith([]);
    const { status, all } = await bodiesOf(url);
    for (const secret of [SECRET_FIFO, SECRET_REASON, data, sandbox.storeDirectory]) {
      assert.ok(!all.includes(secret), `"${secret}" is shown without the token:\n${all.slice(0, 3000)}`);
    }
    const node1 = status.clients.find((client) => client.name === 'node1')!;
    assert.equal(status.detailsHidden, true);
    assert.equal(node1.state, 'failed');
    assert.deepEqual(node1.lastSuccess!.warnings, []);
    assert.equal(node1.lastSuccess!.warningCount, 1, 'the count stays');
    assert.ok(node1.lastSuccess!.bytes > 0 && node1.lastSuccess!.files >= 1, 'sizes and counts stay');
    assert.equal(node1.lastFailure!.reason, null);
    assert.ok(node1.lastFailure!.at, 'when it failed stays');
    const text = await sandbox.runServerCommand(['status', '--url', url]);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(!text.stdout.includes(SECRET_REASON) && !text.stdout.includes(SECRET_FIFO), text.stdout);
    assert.match(text.stdout, /last failure .* ago: \(the reason needs status_token or status_details = 1\)/);
    assert.match(text.stdout, /1 warning\(s\) in #1$/m);
  });

  await t.test('status_details = 1: the local operator opted in to paths and messages', async () => {
    const url = await serverWith(['status_details = 1']);
    const { status } = await bodiesOf(url);
    const node1 = status.clients.find((client) => client.name === 'node1')!;
    assert.notEqual(status.detailsHidden, true);
    assert.ok(node1.lastSuccess!.warnings.some((warning) => warning.includes(SECRET_FIFO)), JSON.stringify(node1.lastSuccess));
    assert.ok(node1.lastFailure!.reason!.includes(SECRET_REASON), node1.lastFailure!.reason!);
  });

  await t.test('status_token: the bearer sees details, a request without it sees nothing', async () => {
    const url = await serverWith([`status_token = ${TOKEN}`]);
    assert.equal((await fetch(`${url}/status`)).status, 401);
    const { status } = await bodiesOf(url, { authorization: `Bearer ${TOKEN}` });
    const node1 = status.clients.find((client) => client.name === 'node1')!;
    assert.ok(node1.lastSuccess!.warnings.some((warning) => warning.includes(SECRET_FIFO)));
    assert.ok(node1.lastFailure!.reason!.includes(SECRET_REASON));
    const text = await sandbox.runServerCommand(['status', '--url', url]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /last failure .* ago: .*dump source main/, 'the CLI sends the configured token and shows the reason');
    assert.match(text.stdout, new RegExp(`1 warning\\(s\\) in #\\d+, the first: .*${SECRET_FIFO}`));
  });
});
