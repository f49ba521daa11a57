// The server secret (TESSERA_SECRET) and the keys derived from it. When it is not set, the
// embedded default generates one into the data folder so that `npm start` works on a bare
// machine; several instances sharing PostgreSQL must all be given the same TESSERA_SECRET.
import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, MIN_SECRET_LENGTH, type Config } from './config.js';

export interface SecretKeys {
  /** HMAC key for client secret digests. */
  clientSecretKey: Buffer;
  /** AES-256-GCM key for signing keys at rest. */
  keyEncryptionKey: Buffer;
  /** HMAC key binding a browser client's CSRF value to its refresh family. */
  csrfKey: Buffer;
}

export function resolveSecret(config: Config, warn: (message: string) => void): string {
  if (config.secret) return config.secret;
  const path = join(config.dataDir, 'secret');
  if (existsSync(path)) {
    const stored = readFileSync(path, 'utf8').trim();
    // A truncated file would make every derived key a public constant.
    if (stored.length < MIN_SECRET_LENGTH)
      throw new ConfigError(`${path} holds fewer than ${MIN_SECRET_LENGTH} characters: restore it, or set TESSERA_SECRET`);
    return stored;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  warn(
    `TESSERA_SECRET is not set: generated one into ${path}. Keep that file safe and private; ` +
      'every instance sharing this database needs the same secret.',
  );
  return secret;
}

export function deriveKeys(secret: string): SecretKeys {
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', secret, 'tessera', purpose, 32));
  return {
    clientSecretKey: derive('client-secret-digest'),
    keyEncryptionKey: derive('signing-key-encryption'),
    csrfKey: derive('browser-csrf'),
  };
}
