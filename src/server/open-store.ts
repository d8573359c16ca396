// Opens the store a server.conf names, with the chunker and compression it asks for, on the local
// folder or on the S3 bucket (sealed with the key file's key). Maintenance commands (gc, check) pass
// no encoder threads: they never compress new chunks in bulk, and pass mustExist: only the server's first
// start makes a store (`recover` installs one without opening it).
import type { ServerConfig } from '../common/config/server-config';
import type { S3StorageSettings } from '../common/config/storage-keys';
import { assertStoreExists, ChunkStore, isStoreMissing, loadKeyFile, loadS3Credentials, openS3Backend, type S3Backend, type StoreKey } from '../chunkstore/store';
import type { Logger } from '../common/logger';

export interface OpenStoreOptions {
  readonly encoderThreads?: number;
  readonly logger?: Logger;
  /** `gc --delete-unknown-packs` only (StoreOptions.deleteUnknownPacks). */
  readonly deleteUnknownPacks?: boolean;
  /** `accept-catalog`: this catalog over newer catalog snapshots in the bucket (StoreOptions.acceptOlderCatalog). */
  readonly acceptOlderCatalog?: boolean;
  /**
   * An offline command (check, gc, retention, protect): a folder without a store is refused ("no store in DIR")
   * and nothing is made, nor a missing bucket. Without it (the server) a new store is made there, and logged.
   */
  readonly mustExist?: boolean;
}

export async function openConfiguredStore(config: ServerConfig, options: OpenStoreOptions = {}): Promise<ChunkStore> {
  const storage = config.storage;
  // Before anything is made: a check of a disk that did not mount would otherwise "verify" a new empty store on the root disk.
  if (options.mustExist === true) assertStoreExists(config.directory, storage.kind);
  const isNew = options.mustExist !== true && isStoreMissing(config.directory);
  const encryptionKey = await loadConfiguredKey(config);
  const backend = storage.kind === 's3' ? await openBucket(storage, options.logger, options.mustExist !== true) : undefined;
  try {
    const store = await ChunkStore.open(config.directory, {
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
      deleteUnknownPacks: options.deleteUnknownPacks,
      acceptOlderCatalog: options.acceptOlderCatalog,
    });
    // Loud, with the folder: an operator whose backup disk did not mount sees the server writing to the disk below.
    if (isNew) {
      options.logger?.warn(`created a NEW, empty store in ${config.directory} (no catalog.db was there)`
        + `${storage.kind === 's3' ? ` on ${backend!.location}` : ''}: if a store should be there, stop the server and check that its disk is mounted and server.conf's directory`);
    }
    return store;
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
