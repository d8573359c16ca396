// Proves the CLIs load only what the command being run needs: `--help` no grpc, a backup no restore
// code and no database dialects, a server on a local folder no S3 SDK. A static import in the wrong
// place brings any of them back silently (each is tens of milliseconds at every start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const SOURCE_ROOT = resolve(__dirname, '..', 'src');

/** Requires the given dist modules (paths under dist/src) in a fresh node; returns every file it loaded. */
function modulesLoadedBy(modules: readonly string[]): string[] {
  const requires = modules.map((module) => `require(${JSON.stringify(resolve(SOURCE_ROOT, module))});`).join('\n');
  const script = `${requires}\nprocess.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as string[];
}

function assertNoneLoaded(loaded: readonly string[], forbidden: Record<string, RegExp>): void {
  for (const [what, pattern] of Object.entries(forbidden)) {
    assert.deepEqual(loaded.filter((file) => pattern.test(file)), [], `${what} is loaded`);
  }
}

const GRPC = /node_modules\/@grpc\//;
const S3_SDK = /node_modules\/@aws-sdk\//;
const RESTORE = /dist\/src\/client\/(restorer|partial-chain|restore-tree\/)/;
const DATABASE_CODE = /dist\/src\/client\/sources\/(loaders|database-dialects|database-dump-plan|postgresql\/|mariadb\/)/;
const DAEMON_AND_RECEIVER = /dist\/src\/client\/(daemon|receiver)\//;

test('cpsbackup itself (what --help and a usage error run) loads no grpc, no config parser, no client code', () => {
  const loaded = modulesLoadedBy(['cli/cpsbackup.js']);
  assertNoneLoaded(loaded, {
    grpc: GRPC, 'the wire contract': /dist\/src\/proto\//, 'node.conf parsing': /config\/node-config\.js$/,
    'the uploader': /client\/uploader\.js$/, 'restore code': RESTORE, 'daemon or receiver': DAEMON_AND_RECEIVER,
  });
});

test('a backup (cpsbackup -e) loads no restore code, no database dialects or loaders, no daemon or receiver', () => {
  const loaded = modulesLoadedBy(['cli/cpsbackup.js', 'common/config/node-config.js', 'client/hooks/with-scripts.js',
    'client/uploader.js', 'cli/progress-line.js', 'cli/format.js']);
  assert.ok(loaded.some((file) => GRPC.test(file)), 'the backup path talks to the server');
  assertNoneLoaded(loaded, { 'restore code': RESTORE, 'database code': DATABASE_CODE, 'daemon or receiver': DAEMON_AND_RECEIVER });
});

test('cpsbackup-server itself loads no grpc and no store; its server on a local folder loads no S3 SDK', () => {
  assertNoneLoaded(modulesLoadedBy(['cli/cpsbackup-server.js']), { grpc: GRPC, 'the store': /dist\/src\/chunkstore\// });
  const server = modulesLoadedBy(['cli/cpsbackup-server.js', 'common/config/server-config.js', 'server/backup-server.js']);
  assert.ok(server.some((file) => /chunkstore\/store\.js$/.test(file)), 'the server opens its store');
  assertNoneLoaded(server, { 'the S3 SDK': S3_SDK, 'the S3 backend': /chunkstore\/backend\/s3\/s3-backend\.js$/ });
});
