// Proves the layer boundaries hold in the TypeScript sources (issue 14): the server reaches the chunk store
// only through its public modules, common depends on no side, and the client never on the server or the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeSite, importSitesOf, scanImports, type ImportSite } from './support/import-scan';

const SOURCE_ROOT = resolve(__dirname, '..', '..', 'src');

/** What src/server may import from src/chunkstore: the store, its write session and read API, and check. */
const STORE_PUBLIC_MODULES = new Set([
  'chunkstore/store', 'chunkstore/session', 'chunkstore/session/index', 'chunkstore/read', 'chunkstore/read/index', 'chunkstore/check',
]);

interface ImportRule {
  readonly name: string;
  isViolation(site: ImportSite): boolean;
}

const isUnder = (path: string, folder: string): boolean => path.startsWith(`${folder}/`);

/** One chunker and one codec serve both sides (a client that chunks its own data cuts and compresses as the store does). */
const isSharedStoreModule = (target: string): boolean =>
  isUnder(target, 'chunkstore/chunker') || target === 'chunkstore/codec' || target === 'chunkstore/encoder-pool';

const RULES = {
  serverThroughStorePublicModules: {
    name: 'src/server imports src/chunkstore only through store, session, read and check',
    isViolation: (site) => isUnder(site.file, 'server') && site.isRelative && isUnder(site.target, 'chunkstore')
      && !STORE_PUBLIC_MODULES.has(site.target),
  },
  commonDependsOnNoSide: {
    name: 'src/common imports nothing from src/chunkstore, src/server or src/client',
    isViolation: (site) => isUnder(site.file, 'common') && site.isRelative
      && ['chunkstore', 'server', 'client'].some((folder) => isUnder(site.target, folder)),
  },
  clientKeepsToItsSide: {
    name: 'src/client imports nothing from src/server, and from src/chunkstore only what both sides share (chunker, codec, encoder pool)',
    isViolation: (site) => isUnder(site.file, 'client') && site.isRelative
      && (isUnder(site.target, 'server') || (isUnder(site.target, 'chunkstore') && !isSharedStoreModule(site.target))),
  },
} satisfies Record<string, ImportRule>;

function violationsOf(rule: ImportRule, sites: readonly ImportSite[]): string[] {
  return sites.filter((site) => rule.isViolation(site)).map(describeSite);
}

/** Scanned afresh by each test: about 200 files, a few milliseconds. */
function sourceSites(): Promise<ImportSite[]> {
  return scanImports(SOURCE_ROOT);
}

test('the scanner sees every form of import, with its line, and ignores commented-out ones', () => {
  const text = [
    "import type { ChunkStore } from '../chunkstore/store';",
    "// import { PackWriter } from '../chunkstore/pack/pack-writer';",
    "export { sha256 } from '../chunkstore/codec';",
    "const catalog = require('../chunkstore/catalog/catalog');",
    "const lazy = import('../chunkstore/gc/compaction.js');",
    "import * as grpc from '@grpc/grpc-js';",
  ].join('\n');
  const sites = importSitesOf('server/example.ts', text);
  assert.deepEqual(sites.map((site) => `${site.line} ${site.target}`), [
    '1 chunkstore/store', '3 chunkstore/codec', '4 chunkstore/catalog/catalog', '5 chunkstore/gc/compaction', '6 @grpc/grpc-js',
  ]);
});

test('each rule flags a crossing import and accepts an allowed one', () => {
  const server = importSitesOf('server/notify/example.ts',
    "import { ChunkStore } from '../../chunkstore/store';\nimport { Catalog } from '../../chunkstore/catalog/catalog';\nimport type { ContentRef } from '../../chunkstore/session';");
  assert.deepEqual(violationsOf(RULES.serverThroughStorePublicModules, server), ["src/server/notify/example.ts:2 imports '../../chunkstore/catalog/catalog'"]);
  const common = importSitesOf('common/config/example.ts', "import { a } from '../errors';\nimport { b } from '../../server/retention';");
  assert.deepEqual(violationsOf(RULES.commonDependsOnNoSide, common), ["src/common/config/example.ts:2 imports '../../server/retention'"]);
  const client = importSitesOf('client/example.ts',
    "import { c } from '../common/errors';\nimport { d } from '../chunkstore/codec';\nimport { e } from '../chunkstore/catalog/catalog';\nimport { f } from '../server/auth';");
  assert.deepEqual(violationsOf(RULES.clientKeepsToItsSide, client),
    ["src/client/example.ts:3 imports '../chunkstore/catalog/catalog'", "src/client/example.ts:4 imports '../server/auth'"]);
});

test('the source tree is where this test looks, and the scan finds the server importing the store', async () => {
  assert.ok(existsSync(`${SOURCE_ROOT}/server`), `no sources at ${SOURCE_ROOT}`);
  const sites = await sourceSites();
  assert.ok(sites.some((site) => isUnder(site.file, 'server') && site.target === 'chunkstore/store'),
    'a scan that sees no server → store import is looking in the wrong place');
});

test(RULES.serverThroughStorePublicModules.name, async (t) => {
  const violations = violationsOf(RULES.serverThroughStorePublicModules, await sourceSites());
  for (const violation of violations) t.diagnostic(violation);
  assert.deepEqual(violations, []);
});

test(RULES.commonDependsOnNoSide.name, async (t) => {
  const violations = violationsOf(RULES.commonDependsOnNoSide, await sourceSites());
  for (const violation of violations) t.diagnostic(violation);
  assert.deepEqual(violations, []);
});

test(RULES.clientKeepsToItsSide.name, async (t) => {
  const violations = violationsOf(RULES.clientKeepsToItsSide, await sourceSites());
  for (const violation of violations) t.diagnostic(violation);
  assert.deepEqual(violations, []);
});
