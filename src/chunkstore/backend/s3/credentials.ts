// The object store's access key and secret: from s3_credentials_file (mode 0600 enforced, burp-style
// `access_key_id = ...` / `secret_access_key = ...`) or from the usual AWS environment variables.
// The secret sits in a private field, so logging or JSON-encoding the credentials never shows it.
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../../../common/errors';
import { parseConfigText, type ConfigText } from '../../../common/config/parse';
import { checkKeys, lastLine } from '../../../common/config/values';

export class S3Credentials {
  readonly #secretAccessKey: string;
  readonly #sessionToken: string | undefined;

  /** source names where the keys came from, for messages ("s3_credentials_file /etc/..."). */
  constructor(readonly accessKeyId: string, secretAccessKey: string, readonly source: string, sessionToken?: string) {
    this.#secretAccessKey = secretAccessKey;
    this.#sessionToken = sessionToken;
  }

  /** What the SDK's signer needs; call only to hand it over. */
  forSigning(): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
    return { accessKeyId: this.accessKeyId, secretAccessKey: this.#secretAccessKey, ...(this.#sessionToken ? { sessionToken: this.#sessionToken } : {}) };
  }

  toJSON(): { accessKeyId: string; source: string } {
    return { accessKeyId: this.accessKeyId, source: this.source };
  }
}

const fileKeys = new Set(['access_key_id', 'secret_access_key', 'session_token']);

/**
 * From the file when one is named (a missing or loose file is an error, never a silent fallback),
 * else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
 */
export function loadS3Credentials(file: string | undefined, environment: NodeJS.ProcessEnv = process.env): S3Credentials {
  if (file !== undefined) return readCredentialsFile(file);
  const accessKeyId = environment.AWS_ACCESS_KEY_ID;
  const secret = environment.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secret) {
    throw new ConfigError('s3 credentials', undefined,
      'storage = s3 needs s3_credentials_file in server.conf, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  }
  return new S3Credentials(accessKeyId, secret, 'AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', environment.AWS_SESSION_TOKEN || undefined);
}

function readCredentialsFile(file: string): S3Credentials {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(file, undefined, code === 'ENOENT' ? 'credentials file not found' : `cannot read credentials file (${code ?? String(error)})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(file, undefined,
      `credentials file is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${file}`);
  }
  let config: ConfigText;
  try {
    config = parseConfigText(file, text);
  } catch (error) {
    // The parser quotes the bad line, which may hold the secret: name the line only.
    const line = error instanceof ConfigError ? error.line : undefined;
    throw new ConfigError(file, line, 'expected "key = value" (access_key_id, secret_access_key, session_token)');
  }
  checkKeys(config, fileKeys, new Set());
  const accessKeyId = lastLine(config, 'access_key_id');
  const secret = lastLine(config, 'secret_access_key');
  if (accessKeyId === undefined || accessKeyId.value === '') throw new ConfigError(file, accessKeyId?.line, 'access_key_id = ... is required');
  if (secret === undefined || secret.value === '') throw new ConfigError(file, secret?.line, 'secret_access_key = ... is required');
  return new S3Credentials(accessKeyId.value, secret.value, `s3_credentials_file ${file}`, lastLine(config, 'session_token')?.value);
}
