// The PackBackend contract (test/support/pack-backend-suite.ts) kept by the local folder backend,
// the same suite the S3 backend runs against a real Ceph gateway.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { packBackendSuite } from './support/pack-backend-suite';

packBackendSuite('LocalBackend', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-local-backend-'));
  const backend = new LocalBackend(directory);
  return {
    backend,
    stagingFolder: directory,
    dispose: async () => {
      await backend.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
