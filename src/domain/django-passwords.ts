// Password hashes imported from Django, verified exactly as Django's hashers do
// (django/contrib/auth/hashers.py): Django re-encodes the password with the stored parameters and
// compares the whole string, so only the canonical spelling of a hash can ever match; the parsers
// below accept that spelling alone and call everything else malformed. The parameters come from
// the dump, so each is bounded: one sign-in must not take minutes or gigabytes.
import { createHash, pbkdf2, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import argon2 from 'argon2';

// bcrypt, the native package rather than bcryptjs: it hashes on libuv's thread pool, not the main
// thread, and its npm tarball carries prebuilt binaries, so installing it downloads nothing else.
// It ships no types (they are a separate @types package): the one function used is typed here.
const bcrypt = createRequire(import.meta.url)('bcrypt') as { hash(data: Buffer, salt: string): Promise<string> };

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify<string | Buffer, string | Buffer, number, ScryptOptions, Buffer>(scrypt);

export type DjangoHashVerdict =
  | { kind: 'supported'; algorithm: string }
  | { kind: 'unusable' }
  | { kind: 'legacy'; algorithm: string }
  | { kind: 'malformed'; reason: string };

/** What Tessera accepts in a Django hash; beyond these a hash is malformed. */
export const DJANGO_HASH_LIMITS = {
  encodedLength: 512,
  saltLength: 128,
  pbkdf2Iterations: 5_000_000,
  bcryptCost: { min: 4, max: 16 },
  argon2: { memoryKiB: 262_144, time: 16, parallelism: 16, saltBytes: { min: 8, max: 64 }, hashBytes: { min: 16, max: 64 } },
  scrypt: { n: 2 ** 20, r: 32, p: 16, memoryBytes: 256 * 1024 * 1024 },
} as const;

type Check = (password: string) => Promise<boolean>;
type Parsed = Exclude<DjangoHashVerdict, { kind: 'supported' }> | { kind: 'supported'; algorithm: string; check: Check };

/** Thrown by the parsers below, caught once: what makes the hash malformed. */
class Malformed extends Error {}

const LEGACY_SHAPES: Record<string, RegExp> = {
  md5: /^md5\$[^$]+\$[0-9a-f]{32}$/,
  sha1: /^sha1\$[^$]+\$[0-9a-f]{40}$/,
  crypt: /^crypt\$[^$]*\$.+$/s,
  // Django names these by the hash's shape (below), but also takes the names themselves, which never match.
  unsalted_md5: /(?!)/,
  unsalted_sha1: /(?!)/,
};
// With the u flag a surrogate class matches only unpaired halves, which UTF-8 cannot encode:
// Django's str.encode() raises on them, so such a password or salt never matches.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function classifyDjangoHash(encoded: string): DjangoHashVerdict {
  const parsed = parseDjangoHash(encoded);
  return parsed.kind === 'supported' ? { kind: 'supported', algorithm: parsed.algorithm } : parsed;
}

/**
 * What decides how long checking this hash takes — the algorithm and its cost parameters, without
 * the salt and the hash — or null for a hash Tessera does not verify. Hashes with the same
 * signature cost the same to check.
 */
export function djangoCostSignature(encoded: string): string | null {
  if (parseDjangoHash(encoded).kind !== 'supported') return null;
  const fields = encoded.split('$');
  switch (fields[0]) {
    case 'bcrypt_sha256':
    case 'bcrypt':
      return encoded.slice(0, -53); // bcrypt's 22 characters of salt and 31 of hash
    case 'scrypt':
      return [fields[0], fields[1], fields[3], fields[4]].join('$'); // scrypt$N$salt$r$p$hash
    case 'argon2':
      return fields.slice(0, -2).join('$'); // …$salt$hash
    default:
      return fields.slice(0, 2).join('$'); // pbkdf2_*$iterations$salt$hash
  }
}

/** true when the password matches; false for wrong, unusable, legacy, malformed — never throws. Constant-time comparison. */
export async function verifyDjangoPassword(encoded: string, password: string): Promise<boolean> {
  try {
    const parsed = parseDjangoHash(encoded);
    if (parsed.kind !== 'supported' || typeof password !== 'string' || LONE_SURROGATE.test(password)) return false;
    return await parsed.check(password);
  } catch {
    return false;
  }
}

function parseDjangoHash(encoded: string): Parsed {
  try {
    if (typeof encoded !== 'string') throw new Malformed('not a string');
    // Django's set_unusable_password() writes '!' and 40 random characters; '' is a user created without one.
    if (encoded === '' || encoded.startsWith('!')) return { kind: 'unusable' };
    if (encoded.length > DJANGO_HASH_LIMITS.encodedLength)
      throw new Malformed(`longer than ${DJANGO_HASH_LIMITS.encodedLength} characters`);
    const legacy = legacyAlgorithm(encoded);
    if (legacy !== undefined) return { kind: 'legacy', algorithm: legacy };
    if (!encoded.includes('$')) throw new Malformed('not a Django password hash (no "algorithm$" prefix)');
    const algorithm = encoded.slice(0, encoded.indexOf('$'));
    switch (algorithm) {
      case 'pbkdf2_sha256':
        return parsePbkdf2(encoded, 'sha256', 32);
      case 'pbkdf2_sha1':
        return parsePbkdf2(encoded, 'sha1', 20);
      case 'bcrypt_sha256':
      case 'bcrypt':
        return parseBcrypt(encoded, algorithm);
      case 'argon2':
        return parseArgon2(encoded);
      case 'scrypt':
        return parseScrypt(encoded);
      default:
        throw new Malformed(`unknown algorithm "${algorithm.slice(0, 40)}"`);
    }
  } catch (error) {
    if (error instanceof Malformed) return { kind: 'malformed', reason: error.message };
    throw error;
  }
}

/** The algorithms Tessera will not verify, recognised the way Django's identify_hasher() does. */
function legacyAlgorithm(encoded: string): string | undefined {
  const wellFormed = (algorithm: string, shape: RegExp): string => {
    if (!shape.test(encoded)) throw new Malformed(`not a well-formed ${algorithm} hash`);
    return algorithm;
  };
  if (encoded.length === 32 && !encoded.includes('$')) return wellFormed('unsalted_md5', /^[0-9a-f]{32}$/);
  if (encoded.length === 37 && encoded.startsWith('md5$$')) return wellFormed('unsalted_md5', /^md5\$\$[0-9a-f]{32}$/);
  if (encoded.length === 46 && encoded.startsWith('sha1$$')) return wellFormed('unsalted_sha1', /^sha1\$\$[0-9a-f]{40}$/);
  const algorithm = encoded.split('$', 1)[0] ?? '';
  const shape = Object.hasOwn(LEGACY_SHAPES, algorithm) ? LEGACY_SHAPES[algorithm] : undefined;
  return shape && wellFormed(algorithm, shape);
}

/** A decimal as Django's "%d" writes it, within min…max. */
function boundedInteger(text: string, name: string, min: number, max: number): number {
  if (!DECIMAL.test(text)) throw new Malformed(`${name} is not a decimal number`);
  const value = Number(text);
  if (value < min || value > max)
    throw new Malformed(`${name} ${text.length > 12 ? text.slice(0, 12) + '…' : text} is outside ${min}–${max}`);
  return value;
}

function checkSalt(salt: string): void {
  if (salt === '') throw new Malformed('the salt is empty');
  if (salt.length > DJANGO_HASH_LIMITS.saltLength)
    throw new Malformed(`the salt is longer than ${DJANGO_HASH_LIMITS.saltLength} characters`);
  if (LONE_SURROGATE.test(salt)) throw new Malformed('the salt is not valid Unicode');
}

/** Standard base64 as Python writes it (padded, or unpadded as in a PHC string): only the canonical spelling of the bytes. */
function canonicalBase64(text: string, padded: boolean, what: string, minBytes: number, maxBytes = minBytes): Buffer {
  const bytes = Buffer.from(text, 'base64');
  const again = padded ? bytes.toString('base64') : bytes.toString('base64').replace(/=+$/, '');
  if (!STANDARD_BASE64.test(text) || again !== text || bytes.length < minBytes || bytes.length > maxBytes) {
    const size = minBytes === maxBytes ? `${minBytes}` : `${minBytes}–${maxBytes}`;
    throw new Malformed(`${what} is not the ${padded ? '' : 'unpadded '}base64 of ${size} bytes`);
  }
  return bytes;
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// pbkdf2_sha256$<iterations>$<salt>$<base64 of the derived key>: PBKDF2-HMAC of the UTF-8 password and salt.
function parsePbkdf2(encoded: string, digest: 'sha256' | 'sha1', keyLength: number): Parsed {
  const parts = encoded.split('$');
  if (parts.length !== 4) throw new Malformed(`a pbkdf2_${digest} hash has 4 fields separated by "$", this one ${parts.length}`);
  const [algorithm = '', iterationsText = '', salt = '', hashText = ''] = parts;
  const iterations = boundedInteger(iterationsText, 'pbkdf2 iterations', 1, DJANGO_HASH_LIMITS.pbkdf2Iterations);
  checkSalt(salt);
  const expected = canonicalBase64(hashText, true, 'the hash', keyLength);
  return {
    kind: 'supported',
    algorithm,
    check: async (password) =>
      constantTimeEqual(
        await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, keyLength, digest),
        expected,
      ),
  };
}

// bcrypt_sha256$$2b$12$<22 salt><31 hash>: bcrypt of the lowercase hex SHA-256 of the password;
// bcrypt$$2b$…: bcrypt of the password itself.
function parseBcrypt(encoded: string, algorithm: 'bcrypt_sha256' | 'bcrypt'): Parsed {
  const stored = encoded.slice(algorithm.length + 1);
  const match = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/.exec(stored);
  if (!match) throw new Malformed(`not a ${algorithm} hash ("${algorithm}$$2b$<cost>$" and 53 characters of bcrypt's base64)`);
  const { min, max } = DJANGO_HASH_LIMITS.bcryptCost;
  const cost = Number(match[1]);
  if (cost < min || cost > max) throw new Malformed(`bcrypt cost ${match[1]} is outside ${min}–${max}`);
  return {
    kind: 'supported',
    algorithm,
    check: async (password) => {
      const secret =
        algorithm === 'bcrypt_sha256'
          ? Buffer.from(createHash('sha256').update(password, 'utf8').digest('hex'))
          : Buffer.from(password, 'utf8');
      // pyca/bcrypt, which Django calls, refuses a NUL byte (the native code here would hash past it).
      if (secret.includes(0)) return false;
      // pyca/bcrypt cuts every input at 72 bytes, $2a$ too (the native code would not); $2y$ is the
      // same algorithm as $2b$, computed as such and given back under its own prefix.
      const computed = await bcrypt.hash(secret.subarray(0, 72), stored.replace(/^\$2y\$/, '$2b$'));
      return constantTimeEqual(Buffer.from(stored.slice(0, 4) + computed.slice(4)), Buffer.from(stored));
    },
  };
}

// argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>: the PHC string after "argon2", verified by
// libargon2 in Django, whose decoder takes only canonical decimals and canonical unpadded base64;
// without "v=" it is version 16 (hashes from before argon2-cffi 16).
function parseArgon2(encoded: string): Parsed {
  const phc = encoded.slice('argon2'.length);
  const match = /^\$argon2(?:id|i|d)(?:\$v=([0-9]+))?\$m=([0-9]+),t=([0-9]+),p=([0-9]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!match) throw new Malformed('not an argon2 hash ("argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>")');
  const [, version = '16', m = '', t = '', p = '', saltText = '', hashText = ''] = match;
  if (version !== '16' && version !== '19') throw new Malformed(`argon2 version ${version.slice(0, 12)} is neither 16 nor 19`);
  const limits = DJANGO_HASH_LIMITS.argon2;
  const parallelism = boundedInteger(p, 'argon2 p', 1, limits.parallelism);
  boundedInteger(m, 'argon2 m (KiB)', 8 * parallelism, limits.memoryKiB);
  boundedInteger(t, 'argon2 t', 1, limits.time);
  canonicalBase64(saltText, false, 'the argon2 salt', limits.saltBytes.min, limits.saltBytes.max);
  canonicalBase64(hashText, false, 'the argon2 hash', limits.hashBytes.min, limits.hashBytes.max);
  return { kind: 'supported', algorithm: 'argon2', check: (password) => argon2.verify(phc, password) };
}

// scrypt$<N>$<salt>$<r>$<p>$<base64 of 64 bytes> (Django ≥ 4.0).
function parseScrypt(encoded: string): Parsed {
  const parts = encoded.split('$');
  if (parts.length !== 6) throw new Malformed(`a scrypt hash has 6 fields separated by "$", this one ${parts.length}`);
  const [, nText = '', salt = '', rText = '', pText = '', hashText = ''] = parts;
  const limits = DJANGO_HASH_LIMITS.scrypt;
  const n = boundedInteger(nText, 'scrypt N', 2, limits.n);
  if ((n & (n - 1)) !== 0) throw new Malformed(`scrypt N ${n} is not a power of two`);
  const r = boundedInteger(rText, 'scrypt r', 1, limits.r);
  const p = boundedInteger(pText, 'scrypt p', 1, limits.p);
  const memory = 128 * n * r;
  if (memory > limits.memoryBytes)
    throw new Malformed(`scrypt needs 128·N·r = ${memory / 2 ** 20} MiB, over ${limits.memoryBytes / 2 ** 20} MiB`);
  checkSalt(salt);
  const expected = canonicalBase64(hashText, true, 'the hash', 64);
  // What OpenSSL counts against maxmem: 128·r·(N + 2) bytes for V and 128·r·p for B.
  const maxmem = 128 * r * (n + 2 + p);
  return {
    kind: 'supported',
    algorithm: 'scrypt',
    check: async (password) =>
      constantTimeEqual(await scryptAsync(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), 64, { N: n, r, p, maxmem }), expected),
  };
}
