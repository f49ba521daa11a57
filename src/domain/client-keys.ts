// The public keys a client signs its assertions with (RFC 7523 private_key_jwt): the rules a JWK
// Set must meet, registered inline (`--jwks`) or served at the client's `jwks_uri`, and the keys
// of each client ready to verify with. A jwks_uri is fetched with hard limits (time, size, no
// redirects) and its keys are held for a while, so that a slow or hostile URL costs one bounded
// fetch now and then, never one per request.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { isLoopbackHost } from '../config.js';
import type { ClientRecord } from '../records.js';

/** What an assertion may be signed with: one algorithm per accepted key type, none symmetric. */
export const ASSERTION_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;
type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

const MAX_KEYS = 20;
/** Of the JWK Set's JSON text, registered or fetched. */
const MAX_JWKS_BYTES = 64 * 1024;
const MIN_RSA_BITS = 2048;
const MAX_KID_LENGTH = 256;
const MAX_JWKS_URI_LENGTH = 2000;
/** Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;

const FETCH_TIMEOUT_MS = 3000;
/** How long keys fetched from a jwks_uri are used before they are fetched again. */
const FETCHED_KEYS_TTL_MS = 5 * 60_000;
/**
 * At most this often per client, an assertion naming a kid we do not know makes us fetch again (the
 * client may have rotated its keys), and a failed fetch is tried again: anyone can send assertions
 * in a client's name, and must not be able to make us hammer its jwks_uri.
 */
const REFETCH_INTERVAL_MS = 10_000;
/** Clients whose fetched keys are held; at most 64 KiB of JSON each. */
const MAX_FETCHED_CLIENTS = 500;

/** A JWK Set, or a jwks_uri, that cannot be used; the message says why, in one line. */
export class ClientKeysError extends Error {}

/** The algorithm a key of this type signs with, or why the type is not accepted. */
function algorithmOf(jwk: JWK): AssertionAlgorithm {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'oct') throw new ClientKeysError('a symmetric key (kty "oct") cannot authenticate a client: register public keys');
  throw new ClientKeysError(
    `kty "${String(jwk.kty)}"${jwk.crv === undefined ? '' : ` crv "${String(jwk.crv)}"`} is not accepted (EC P-256, RSA or OKP Ed25519)`,
  );
}

function checkKey(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ClientKeysError('it is not a JSON object');
  const jwk = value as JWK;
  const alg = algorithmOf(jwk);
  const secret = PRIVATE_MEMBERS.find((member) => member in jwk);
  if (secret !== undefined) throw new ClientKeysError(`it holds private key material ("${secret}"): register the public key only`);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new ClientKeysError(`its alg "${String(jwk.alg)}" does not fit the key (${alg})`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new ClientKeysError(`its use is "${String(jwk.use)}", not "sig"`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    throw new ClientKeysError('its key_ops do not include "verify"');
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid.length === 0 || jwk.kid.length > MAX_KID_LENGTH))
    throw new ClientKeysError(`its kid must be a string of 1 to ${MAX_KID_LENGTH} characters`);
  let modulusLength: number | undefined;
  try {
    // Importing proves the key material: a point on the curve, a well-formed modulus.
    modulusLength = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails?.modulusLength;
  } catch {
    throw new ClientKeysError(`it is not a valid ${String(jwk.kty)} public key`);
  }
  if (alg === 'RS256' && (modulusLength ?? 0) < MIN_RSA_BITS)
    throw new ClientKeysError(`its RSA modulus has ${modulusLength} bits; at least ${MIN_RSA_BITS} are needed`);
}

/**
 * The JWK Set in `text`, checked: JSON `{"keys": [...]}` of 1 to 20 public signing keys of the
 * accepted types, in at most 64 KiB.
 */
export function parseJwkSet(text: string): JSONWebKeySet {
  if (Buffer.byteLength(text) > MAX_JWKS_BYTES) throw new ClientKeysError(`the JWK Set is larger than ${MAX_JWKS_BYTES / 1024} KiB`);
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch {
    throw new ClientKeysError('the JWK Set is not JSON');
  }
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (typeof set !== 'object' || Array.isArray(set) || !Array.isArray(keys))
    throw new ClientKeysError('the JWK Set must be a JSON object {"keys": [...]} (RFC 7517 §5)');
  if (keys.length === 0 || keys.length > MAX_KEYS) throw new ClientKeysError(`the JWK Set must hold 1 to ${MAX_KEYS} keys`);
  keys.forEach((key, index) => {
    try {
      checkKey(key);
    } catch (error) {
      throw error instanceof ClientKeysError ? new ClientKeysError(`key ${index + 1} of the JWK Set: ${error.message}`) : error;
    }
  });
  return { keys: keys as JWK[] };
}

/** A jwks_uri as registration accepts it: https, or http on a loopback host (as for redirect URIs). */
export function checkJwksUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ClientKeysError(`jwks_uri is not an absolute URL: "${uri}"`);
  }
  if (uri.length > MAX_JWKS_URI_LENGTH || /\s/.test(uri)) throw new ClientKeysError('jwks_uri is too long or holds spaces');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    throw new ClientKeysError(`jwks_uri must use https (or http on loopback): "${uri}"`);
  if (url.username || url.password || url.hash) throw new ClientKeysError('jwks_uri must not carry credentials or a fragment');
}

/** A client's keys, ready to verify with. */
export interface ClientKeySet {
  /** Picks the key(s) for an assertion's header (jose): by kid when it has one, else by alg. */
  resolve: ReturnType<typeof createLocalJWKSet>;
  kids: ReadonlySet<string>;
}

function keySet(jwks: JSONWebKeySet): ClientKeySet {
  return { resolve: createLocalJWKSet(jwks), kids: new Set(jwks.keys.flatMap((key) => (key.kid === undefined ? [] : [key.kid]))) };
}

/** The body of `response` as text, read piece by piece and given up past `limit` bytes. */
async function readLimited(response: Response, limit: number): Promise<string> {
  const tooLarge = () => new ClientKeysError(`jwks_uri answered more than ${limit / 1024} KiB`);
  if (Number(response.headers.get('content-length')) > limit) throw tooLarge();
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    size += value.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(value);
  }
}

async function fetchKeySet(uri: string): Promise<ClientKeySet> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  let text: string;
  try {
    const response = await fetch(uri, { redirect: 'error', signal: controller.signal, headers: { accept: 'application/json' } });
    if (!response.ok) throw new ClientKeysError(`jwks_uri answered HTTP ${response.status}`);
    text = await readLimited(response, MAX_JWKS_BYTES);
  } catch (error) {
    if (error instanceof ClientKeysError) throw error;
    if (controller.signal.aborted) throw new ClientKeysError(`jwks_uri did not answer within ${FETCH_TIMEOUT_MS / 1000} s`);
    // fetch's own error says only "fetch failed"; its cause says why (ECONNREFUSED, a redirect).
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    throw new ClientKeysError(`jwks_uri cannot be fetched (${String(cause?.code ?? cause?.message ?? 'network error')})`);
  } finally {
    clearTimeout(timer);
    // Whatever is left unread (an error answer's body, the rest of an oversized one) is dropped, with its connection.
    controller.abort();
  }
  try {
    return keySet(parseJwkSet(text));
  } catch (error) {
    throw error instanceof ClientKeysError ? new ClientKeysError(`jwks_uri: ${error.message}`) : error;
  }
}

/** One client's keys from its jwks_uri: the latest fetch (perhaps under way, perhaps failed). */
class FetchedKeys {
  keys!: Promise<ClientKeySet>;
  /** The last set fetched: a refetch that fails (anyone can prompt one) does not take it away. */
  private good: ClientKeySet | undefined;
  private fetchedAt = 0;
  private failed = false;
  private kidRefetchedAt = 0;

  constructor(readonly uri: string) {
    this.fetch(Date.now());
  }

  /** The keys; an unknown `kid` may prompt a new fetch (the client may have rotated its keys). */
  async current(kid: string | undefined): Promise<ClientKeySet> {
    // Known keys answer at once, whatever refetch an unknown kid has started meanwhile.
    if (this.good !== undefined && (kid === undefined || this.good.kids.has(kid))) return this.good;
    const now = Date.now();
    if (this.failed && now - this.fetchedAt >= REFETCH_INTERVAL_MS) this.fetch(now);
    const keys = await this.keys;
    if (kid === undefined || keys.kids.has(kid)) return keys;
    if (now - this.kidRefetchedAt >= REFETCH_INTERVAL_MS) {
      this.kidRefetchedAt = now;
      this.fetch(now);
    }
    // This request's fetch, or one another request started meanwhile (or the same keys).
    return this.keys;
  }

  private fetch(now: number): void {
    const previous = this.good;
    const keys = fetchKeySet(this.uri).then(
      (fetched) => (this.good = fetched),
      (error: unknown) => {
        if (previous === undefined) throw error;
        return previous;
      },
    );
    this.keys = keys;
    this.fetchedAt = now;
    this.failed = false;
    // A failure is kept, and answered, until the next attempt is due.
    keys.catch(() => {
      if (this.keys === keys) this.failed = true;
    });
  }
}

/**
 * Each client's keys: inline ones prepared once per client record, fetched ones held per client
 * in a bounded LRU for 5 minutes, one fetch per client at a time however many requests wait on it.
 */
export class ClientKeys {
  private readonly inline = new WeakMap<JSONWebKeySet, ClientKeySet>();
  private readonly fetched = new LRUCache<string, FetchedKeys>({ max: MAX_FETCHED_CLIENTS, ttl: FETCHED_KEYS_TTL_MS });

  /** The client's keys, for an assertion with this `kid` (if any). Throws ClientKeysError. */
  async forClient(client: ClientRecord, kid: string | undefined): Promise<ClientKeySet> {
    if (client.jwks !== null) {
      let prepared = this.inline.get(client.jwks);
      if (!prepared) this.inline.set(client.jwks, (prepared = keySet(client.jwks)));
      return prepared;
    }
    if (client.jwksUri === null) throw new ClientKeysError('the client has no registered keys');
    let fetched = this.fetched.get(client.id);
    if (fetched?.uri !== client.jwksUri) {
      fetched = new FetchedKeys(client.jwksUri);
      this.fetched.set(client.id, fetched);
    }
    return fetched.current(kid);
  }

  /** The client changed or was deleted: its fetched keys are not used again. */
  forget(clientId: string): void {
    this.fetched.delete(clientId);
  }

  /** Changes may have been missed (the change feed reconnected). */
  clear(): void {
    this.fetched.clear();
  }
}
