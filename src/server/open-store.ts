// Opens the store a server.conf names, with the chunker and compression it asks for, on the local
// folder or on the S3 bucket (sealed with the key file's key). Maintenance commands (gc, check) pass
// no encoder threads: they never compress new chunks in bulk.
import type { ServerConfig } from '../common/config/server-config';
import type { S3StorageSettings } from '../common/config/storage-keys';
import { ChunkStore, loadKeyFile, loadS3Credentials, openS3Backend, type S3Backend, type StoreKey } from '../chunkstore/store';
import type { Logger } from '../common/logger';

export async function openConfiguredStore(config: ServerConfig,
  options: { encoderThreads?: number; logger?: Logger; sweepRecoveredOrphans?: boolean } = {}): Promise<ChunkStore> {
  const storage = config.storage;
  const encryptionKey = await loadConfiguredKey(config);
  const backend = storage.kind === 's3' ? await openBucket(storage, options.logger) : undefined;
  try {
    return await ChunkStore.open(config.directory, {
      chunker: { name: config.chunker, minSize: config.chunkMinSize, avgSize: config.chunkAvgSize, maxSize: config.chunkMaxSize },
      isChunkerChosen: config.isChunkerSet,
      compressionLevel: config.compressionLevel,
      configFile: config.file,
      encoderThreads: options.encoderThreads,
      logger: options.logger,
      backend,
      encryptionKey,
      snapshotIntervalSeconds: storage.kind === 's3' ? storage.snapshotIntervalSeconds : undefined,
      resumeHoldSeconds: config.resumeHoldSeconds,
      hideSharedChunks: config.hideSharedChunks,
      packSize: storage.packSizeBytes,
      stagingMaxBytes: storage.kind === 's3' ? storage.stagingMaxBytes : undefined,
      cacheBytes: storage.kind === 's3' ? storage.cacheBytes : undefined,
      sweepRecoveredOrphans: options.sweepRecoveredOrphans,
    });
  } catch (error) {
    await backend?.close();
    throw error;
  }
}

/** The key encryption_key_file names, or undefined for an unencrypted local store. */
export function loadConfiguredKey(config: ServerConfig): Promise<StoreKey | undefined> {
  const file = config.storage.encryptionKeyFile;
  return file === undefined ? Promise.resolve(undefined) : loadKeyFile(file);
}

/**
 * The bucket, proven reachable with these keys before anything relies on it. A missing bucket is made (unless
 * isCreateAllowed is false, as for recover):
 * a new store on a wrong bucket name is caught by the store identity check, not by a refusal here.
 */
export function openBucket(storage: S3StorageSettings, logger: Logger | undefined, isCreateAllowed = true): Promise<S3Backend> {
  return openS3Backend({
    endpoint: storage.endpoint,
    bucket: storage.bucket,
    prefix: storage.prefix,
    region: storage.region,
    credentials: loadS3Credentials(storage.credentialsFile),
    logger,
    createBucket: isCreateAllowed,
  });
}
