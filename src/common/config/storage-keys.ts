// server.conf's storage keys: where packs live (`storage = local`, the default, or `s3` with its bucket
// settings), the encryption key file, and the local staging and cache bounds an object store needs.
import { ConfigError } from '../errors';
import type { ConfigLine, ConfigText } from './parse';
import { resolvePath } from './paths';
import { lastLine, toInteger } from './values';

export const STORAGE_KEYS: readonly string[] = Object.freeze([
  'storage', 's3_endpoint', 's3_bucket', 's3_prefix', 's3_region', 's3_credentials_file', 'encryption_key_file',
  's3_staging_max', 's3_cache_size', 'catalog_snapshot_interval', 'pack_size',
]);

export interface LocalStorageSettings {
  readonly kind: 'local';
  /** A pack is sealed once it reaches this size (pack_size; default 64 MiB). */
  readonly packSizeBytes: number;
  /** Packs sealed on disk too when set; a local store may stay unencrypted. */
  readonly encryptionKeyFile: string | undefined;
}

export interface S3StorageSettings {
  readonly kind: 's3';
  /** A pack is sealed (and uploaded) once it reaches this size (pack_size; default 64 MiB). */
  readonly packSizeBytes: number;
  /** http(s)://host[:port]; undefined means AWS S3 itself. */
  readonly endpoint: string | undefined;
  readonly bucket: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  readonly region: string;
  /** undefined: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment. */
  readonly credentialsFile: string | undefined;
  /** Required: nothing leaves the server unencrypted. Need not exist yet (init-key makes it). */
  readonly encryptionKeyFile: string;
  /** Sealed packs waiting for upload may take at most this much local disk. */
  readonly stagingMaxBytes: number;
  /** Recently read packs kept locally (LRU); 0 turns the cache off. */
  readonly cacheBytes: number;
  /** Least seconds between two catalog snapshots to the bucket (0: after every commit). */
  readonly snapshotIntervalSeconds: number;
}

export type StorageSettings = LocalStorageSettings | S3StorageSettings;

const mebibyte = 1024 * 1024;
export const DEFAULT_PACK_SIZE = 64 * mebibyte;
/** Bigger packs would cross the S3 backend's 100 MiB multipart threshold and lose the atomic conditional PUT. */
const MAX_PACK_SIZE = 64 * mebibyte;
/** A pack overshoots its size by at most one record: a chunk, its header and framing, and zstd's worst-case growth. */
const RECORD_SLACK = 64 * 1024;
const sizeUnits: Readonly<Record<string, number>> = { '': 1, k: 1024, m: mebibyte, g: 1024 * mebibyte, t: 1024 * 1024 * mebibyte };

/** "512M", "2G", "1.5GiB", "1048576": binary units, as du and the README speak them. */
export function toByteSize(file: string, entry: ConfigLine, min: number): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(entry.value);
  const bytes = match === null ? NaN : Math.floor(Number(match[1]) * sizeUnits[match[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes) || bytes < min) {
    throw new ConfigError(file, entry.line, `${entry.key} must be a size such as 512M or 2G (at least ${formatSize(min)}), got "${entry.value}"`);
  }
  return bytes;
}

function formatSize(bytes: number): string {
  return bytes >= mebibyte ? `${Number((bytes / mebibyte).toFixed(2))} MiB` : `${bytes} bytes`;
}

/**
 * chunkMaxSize: the chunker's largest chunk, which a pack may overshoot its size by. The staging folder must
 * hold one whole pack (pack_size + chunk_max_size), or a backup could never seal one: a smaller
 * s3_staging_max is refused here rather than clamped, since a silent clamp hides a wrong disk plan.
 */
export function readStorageKeys(config: ConfigText, chunkMaxSize: number): StorageSettings {
  const { file } = config;
  const packSizeLine = lastLine(config, 'pack_size');
  const packSizeBytes = packSizeLine === undefined ? DEFAULT_PACK_SIZE : toByteSize(file, packSizeLine, mebibyte);
  if (packSizeLine !== undefined && packSizeBytes > MAX_PACK_SIZE) {
    throw new ConfigError(file, packSizeLine.line, `pack_size must be at most ${formatSize(MAX_PACK_SIZE)}, got "${packSizeLine.value}"`);
  }
  const kindLine = lastLine(config, 'storage');
  const kind = kindLine?.value ?? 'local';
  if (kind !== 'local' && kind !== 's3') throw new ConfigError(file, kindLine?.line, `storage must be local or s3, got "${kind}"`);
  const keyLine = lastLine(config, 'encryption_key_file');
  const encryptionKeyFile = keyLine === undefined ? undefined : resolvePath(file, keyLine);
  if (kind === 'local') {
    // A bucket setting under local storage is a half-made switch; say so rather than ignore it.
    const stray = STORAGE_KEYS.filter((key) => key.startsWith('s3_')).map((key) => lastLine(config, key)).find((entry) => entry !== undefined);
    const snapshotLine = lastLine(config, 'catalog_snapshot_interval');
    if (stray !== undefined || snapshotLine !== undefined) {
      const line = stray ?? snapshotLine!;
      throw new ConfigError(file, line.line, `${line.key} is set but storage is local; add storage = s3 to use a bucket`);
    }
    return Object.freeze({ kind, packSizeBytes, encryptionKeyFile });
  }
  const bucketLine = lastLine(config, 's3_bucket');
  if (bucketLine === undefined) throw new ConfigError(file, kindLine?.line, 'storage = s3 needs s3_bucket');
  if (encryptionKeyFile === undefined) {
    throw new ConfigError(file, kindLine?.line, 'storage = s3 needs encryption_key_file: nothing leaves the server unencrypted '
      + '(make the key with `cpsbackup-server init-key`)');
  }
  const credentialsLine = lastLine(config, 's3_credentials_file');
  const stagingLine = lastLine(config, 's3_staging_max');
  const cacheLine = lastLine(config, 's3_cache_size');
  const snapshotIntervalLine = lastLine(config, 'catalog_snapshot_interval');
  const onePack = packSizeBytes + chunkMaxSize + RECORD_SLACK;
  const stagingMaxBytes = stagingLine === undefined ? 2048 * mebibyte : toByteSize(file, stagingLine, 0);
  if (stagingMaxBytes < onePack) {
    const where = stagingLine === undefined ? 'the default s3_staging_max (2 GiB)' : `s3_staging_max = ${stagingLine.value}`;
    throw new ConfigError(file, stagingLine?.line ?? packSizeLine?.line,
      `${where} is smaller than one pack: the staging folder must hold at least pack_size + chunk_max_size + 64 KiB `
      + `= ${formatSize(onePack)}; raise s3_staging_max or lower pack_size`);
  }
  return Object.freeze({
    kind,
    packSizeBytes,
    endpoint: readEndpoint(file, lastLine(config, 's3_endpoint')),
    bucket: readBucket(file, bucketLine),
    prefix: readPrefix(file, lastLine(config, 's3_prefix')),
    region: readRegion(file, lastLine(config, 's3_region')),
    credentialsFile: credentialsLine === undefined ? undefined : resolvePath(file, credentialsLine),
    encryptionKeyFile,
    stagingMaxBytes,
    cacheBytes: cacheLine === undefined ? 1024 * mebibyte : toByteSize(file, cacheLine, 0),
    snapshotIntervalSeconds: snapshotIntervalLine === undefined ? 120 : toInteger(file, snapshotIntervalLine, 0, 86_400),
  });
}

function readEndpoint(file: string, entry: ConfigLine | undefined): string | undefined {
  if (entry === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(entry.value);
  } catch {
    throw new ConfigError(file, entry.line, `s3_endpoint must be an http or https URL such as https://s3.example.net:7480, got "${entry.value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(file, entry.line, `s3_endpoint must be an http or https URL, got "${url.protocol}"`);
  }
  // Never echo the value here: it may hold the very secret it should not.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(file, entry.line, 's3_endpoint must not carry credentials; put them in s3_credentials_file');
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new ConfigError(file, entry.line, 's3_endpoint is the service root (scheme, host, port); the bucket goes in s3_bucket and folders in s3_prefix');
  }
  return `${url.protocol}//${url.host}`;
}

function readBucket(file: string, entry: ConfigLine): string {
  const isValid = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(entry.value) && !entry.value.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(entry.value);
  if (!isValid) throw new ConfigError(file, entry.line, `s3_bucket must be 3 to 63 lowercase letters, digits, '.' or '-', got "${entry.value}"`);
  return entry.value;
}

function readPrefix(file: string, entry: ConfigLine | undefined): string {
  if (entry === undefined) return '';
  const trimmed = entry.value.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  const isValid = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(trimmed) && !trimmed.split('/').some((part) => part === '.' || part === '..');
  if (!isValid) {
    throw new ConfigError(file, entry.line, `s3_prefix must be folder names of letters, digits, '.', '_' or '-' separated by '/', got "${entry.value}"`);
  }
  return `${trimmed}/`;
}

function readRegion(file: string, entry: ConfigLine | undefined): string {
  if (entry === undefined) return 'us-east-1';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(entry.value)) throw new ConfigError(file, entry.line, `s3_region must look like us-east-1, got "${entry.value}"`);
  return entry.value;
}
