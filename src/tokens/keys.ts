// The signing keys, held in memory: the newest signs, and every published key verifies.
// Private keys are stored AES-256-GCM encrypted under a key derived from TESSERA_SECRET.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';
import { ConfigError } from '../config.js';
import type { SigningKeyRecord } from '../records.js';
import type { KeyStore } from '../store/keys.js';

export const SIGNING_ALG = 'ES256';
/** Retired keys stay published this long past the longest token lifetime (clock skew, slow instances). */
const PUBLISH_MARGIN_S = 60;

function encrypt(kek: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

function decrypt(kek: Buffer, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || !body) throw new Error('unreadable signing key');
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  const opened = decipher.update(Buffer.from(body, 'base64url'));
  try {
    return Buffer.concat([opened, decipher.final()]).toString('utf8');
  } catch {
    // GCM's tag check failed: the key was derived from another secret (OpenSSL's own message,
    // "unable to authenticate data", would name no cause).
    throw new ConfigError("TESSERA_SECRET does not match the secret this database's signing keys were encrypted with");
  }
}

interface LoadedKey {
  record: SigningKeyRecord;
  publicJwk: JWK;
  verifyKey: CryptoKey;
}

export class KeyRing {
  private keys = new Map<string, LoadedKey>();
  private signer: { kid: string; key: CryptoKey } | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly kek: Buffer,
  ) {}

  /** Loads the published keys; makes the first key when there is none. */
  async load(): Promise<void> {
    const records = await this.store.published(new Date());
    if (!records.some((r) => r.retiredAt === null)) {
      await this.rotate(0);
      return;
    }
    const keys = new Map<string, LoadedKey>();
    for (const record of records) {
      const publicJwk = JSON.parse(record.publicJwk) as JWK;
      keys.set(record.kid, { record, publicJwk, verifyKey: (await importJWK(publicJwk, record.alg)) as CryptoKey });
    }
    const current = records.find((r) => r.retiredAt === null)!;
    if (this.signer?.kid !== current.kid) {
      this.signer = { kid: current.kid, key: await importPKCS8(decrypt(this.kek, current.privateKeyEnc), current.alg) };
    }
    this.keys = keys;
  }

  /** Reloads after another process rotated; concurrent calls share one load. */
  reload(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /**
   * Makes a new signing key. The keys it replaces stay published for `longestTokenTtl` seconds
   * (plus a margin), so every token they signed still verifies until it expires.
   */
  async rotate(longestTokenTtl: number): Promise<string> {
    let pair: Awaited<ReturnType<typeof generateKeyPair>>;
    let publicJwk: JWK;
    let kid: string;
    // The kid (the key's RFC 7638 thumbprint) is typed as an argument of `tessera keys revoke`:
    // one in 64 would start with '-' and be read as an option, so such a key is drawn again.
    do {
      pair = await generateKeyPair(SIGNING_ALG, { extractable: true });
      publicJwk = await exportJWK(pair.publicKey);
      kid = await calculateJwkThumbprint(publicJwk);
    } while (kid.startsWith('-'));
    const { privateKey } = pair;
    const publishUntil = new Date(Date.now() + (longestTokenTtl + PUBLISH_MARGIN_S) * 1000);
    await this.store.rotateTo(
      {
        kid,
        alg: SIGNING_ALG,
        publicJwk: JSON.stringify({ ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' }),
        privateKeyEnc: encrypt(this.kek, await exportPKCS8(privateKey)),
      },
      publishUntil,
    );
    await this.load();
    return kid;
  }

  /**
   * Stops publishing `kid` at once, so that every token it signed stops verifying; the signing
   * key is replaced first (`rotateFirst` makes the new one). False when no published key has it.
   */
  async revoke(kid: string, rotateFirst: () => Promise<string>): Promise<boolean> {
    if (this.signer?.kid === kid) await rotateFirst();
    const revoked = await this.store.revoke(kid);
    await this.load();
    return revoked;
  }

  signingKey(): { kid: string; key: CryptoKey } {
    if (!this.signer) throw new Error('no signing key loaded');
    return this.signer;
  }

  verifyKey(kid: string, now = Date.now()): CryptoKey | undefined {
    const key = this.keys.get(kid);
    if (!key) return undefined;
    const until = key.record.publishUntil;
    return until && until.getTime() <= now ? undefined : key.verifyKey;
  }

  /** The JSON Web Key Set: public parts only, of every key still published. */
  jwks(now = Date.now()): { keys: JWK[] } {
    return {
      keys: [...this.keys.values()].filter((k) => !k.record.publishUntil || k.record.publishUntil.getTime() > now).map((k) => k.publicJwk),
    };
  }

  list(): SigningKeyRecord[] {
    return [...this.keys.values()].map((k) => k.record);
  }
}
