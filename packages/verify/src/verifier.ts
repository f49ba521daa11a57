// The verifier: JWTs checked locally against the issuer's published keys, opaque tokens introspected,
// every answer remembered by the exact token string until the token expires, and the revocation
// stream dropping what the server revokes.
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTVerifyOptions, type RemoteJWKSet } from 'jose';
import { authFromClaims, type Auth } from './auth.js';
import { ResultCache, type Cached } from './cache.js';
import { clientAuthenticator, type ClientAuthenticator, type ClientCredentials } from './client-auth.js';
import { discover, type ServerMetadata } from './discovery.js';
import { TokenError } from './errors.js';
import { introspect } from './introspection.js';
import { RevocationSet, revokes, type TokenFacts } from './revocations.js';
import { hasScopes } from './scopes.js';
import { RevocationListener } from './stream.js';

export interface VerifierOptions {
  /** The server's issuer, exactly as its metadata states it (no trailing slash). */
  issuer: string;
  /** When given, a token is accepted only if its `aud` is, or contains, this value. */
  audience?: string | undefined;
  /** A confidential client allowed to introspect: needed for opaque tokens and the revocation stream. */
  introspection?: ClientCredentials | undefined;
  /** How many verified tokens are remembered at once (default 10 000). */
  cacheSize?: number | undefined;
  /** How long a JWT's verification waits for the revocation stream's replay at start (default 5000 ms). */
  syncTimeoutMs?: number | undefined;
  /** The `realm` of the WWW-Authenticate challenges. */
  realm?: string | undefined;
  /** Told of background failures: the revocation stream failing to connect or dropping (it retries by itself). */
  onError?: ((error: Error) => void) | undefined;
}

export interface VerifyOptions {
  /** Scopes the token must carry, or verify() throws insufficient_scope. */
  scopes?: readonly string[] | undefined;
}

export interface Verifier {
  /** The token's claims, or a TokenError (any other error: the server could not be asked). */
  verify(token: string | null | undefined, options?: VerifyOptions): Promise<Auth>;
  /** Ends the revocation stream and every timer; verify() throws afterwards. */
  close(): void;
}

/** RFC 9068 access tokens as Tessera signs them; `none`, HMAC and anything else are refused. */
const ALGORITHMS = ['ES256', 'RS256', 'EdDSA'];
const JWT_TYP = 'at+jwt';
const OPAQUE_ACCESS_PREFIX = 'tsa_';
/** A Django REST framework key that `tessera import django` brought over: opaque too. */
const DRF_KEY = /^[0-9a-fA-F]{40}$/;
/** No access token of Tessera comes near this; longer input is refused before any parsing. */
const MAX_TOKEN_LENGTH = 8192;
/** A token signed by a key not in the cached set refetches the set, but no more often than this. */
const JWKS_COOLDOWN_MS = 3_000;
/**
 * While the revocation stream is not in sync, an introspection answer is remembered this long at
 * most: nobody would tell the verifier of the token's revocation.
 */
const UNSYNCED_CACHE_MS = 5_000;

/** What jose says about a token (as opposed to about the server or the network), for the client. */
const TOKEN_FAULTS: Readonly<Record<string, string>> = {
  ERR_JWT_EXPIRED: 'The token has expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'The token signature is not valid',
  ERR_JWKS_NO_MATCHING_KEY: 'The token is not signed by a key of the issuer',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'The token does not name its signing key',
  ERR_JOSE_ALG_NOT_ALLOWED: 'The token is signed with an algorithm that is not accepted',
  ERR_JOSE_NOT_SUPPORTED: 'The token uses an unsupported algorithm or header',
  ERR_JWS_INVALID: 'The token is malformed',
  ERR_JWT_INVALID: 'The token is malformed',
};

interface Entry extends Cached {
  readonly auth: Auth;
  readonly facts: TokenFacts;
}

interface Discovered {
  metadata: ServerMetadata;
  jwks: RemoteJWKSet;
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
const audienceMatches = (aud: Auth['aud'], audience: string) => (typeof aud === 'string' ? aud === audience : aud.includes(audience));

class TesseraVerifier implements Verifier {
  private readonly issuer: string;
  private readonly audience: string | undefined;
  private readonly realm: string | undefined;
  private readonly syncTimeoutMs: number;
  private readonly jwtOptions: JWTVerifyOptions;
  private readonly cache: ResultCache<Entry>;
  private readonly revocations = new RevocationSet();
  private readonly client: ClientAuthenticator | undefined;
  private readonly stream: RevocationListener | undefined;
  /** Aborts every request in flight when the verifier closes. */
  private readonly closer = new AbortController();
  private readonly introspecting = new Map<string, Promise<Auth>>();
  private discovery: Promise<Discovered> | undefined;
  /** Open while JWTs wait for the stream's replay (at start and after a reset), bounded in time. */
  private gate: { opened: Promise<void>; open: () => void } | undefined;
  /** The stream is connected and has replayed what this verifier missed. */
  private live = false;
  private closed = false;

  constructor(options: VerifierOptions) {
    const { issuer, audience, introspection, cacheSize = 10_000, syncTimeoutMs = 5_000, realm, onError } = options;
    if (typeof issuer !== 'string' || !URL.canParse(issuer)) throw new TypeError(`issuer must be a URL, not ${JSON.stringify(issuer)}`);
    if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new TypeError('cacheSize must be a positive integer');
    if (!(syncTimeoutMs >= 0)) throw new TypeError('syncTimeoutMs must be a number of milliseconds');
    this.issuer = issuer;
    this.audience = audience;
    this.realm = realm;
    this.syncTimeoutMs = syncTimeoutMs;
    this.cache = new ResultCache(cacheSize);
    this.jwtOptions = {
      issuer,
      ...(audience === undefined ? {} : { audience }),
      typ: JWT_TYP,
      algorithms: ALGORITHMS,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
    };
    this.client = introspection === undefined ? undefined : clientAuthenticator(introspection, issuer);
    if (this.client !== undefined) {
      this.stream = new RevocationListener(`${issuer.replace(/\/+$/, '')}/revocations`, this.client, {
        revoked: (event) => {
          if (this.revocations.add(event)) this.cache.deleteWhere((entry) => revokes(event, entry.facts));
        },
        reset: () => {
          this.cache.clear();
          this.revocations.clear();
          this.live = false;
          this.holdJwtsUntilSynced();
        },
        synced: () => {
          this.live = true;
          this.gate?.open();
        },
        // Introspection answers are trusted for their whole life only while the stream would
        // announce their revocation: without it, opaque tokens are asked about again.
        disconnected: () => {
          this.live = false;
          this.cache.deleteWhere((entry) => entry.facts.kid === undefined);
        },
        error: (error) => onError?.(error),
      });
      this.holdJwtsUntilSynced();
      this.stream.start();
    }
    // Fetched ahead of the first token; a failure here is tried again by that token's verification.
    this.discovered().catch(() => undefined);
  }

  async verify(token: string | null | undefined, options?: VerifyOptions): Promise<Auth> {
    if (this.closed) throw new Error('@tessera/verify: the verifier is closed');
    if (token === undefined || token === null) throw new TokenError('invalid_request', 'No access token', { realm: this.realm });
    const entry = this.cache.get(token, Date.now());
    const auth = entry !== undefined ? entry.auth : await this.verifyFresh(token);
    const scopes = options?.scopes;
    if (scopes !== undefined && !hasScopes(auth, scopes)) {
      throw new TokenError('insufficient_scope', 'The token lacks a scope this resource needs', { scope: scopes, realm: this.realm });
    }
    return auth;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closer.abort();
    this.stream?.close();
    this.gate?.open();
    this.cache.clear();
    this.revocations.clear();
  }

  private verifyFresh(token: string): Promise<Auth> {
    if (token.length > MAX_TOKEN_LENGTH) return Promise.reject(this.invalid('The token is malformed'));
    if (!token.startsWith(OPAQUE_ACCESS_PREFIX) && !DRF_KEY.test(token)) return this.verifyJwt(token);
    // Concurrent requests with one new opaque token share one introspection.
    let pending = this.introspecting.get(token);
    if (pending === undefined) {
      pending = this.introspect(token).finally(() => this.introspecting.delete(token));
      this.introspecting.set(token, pending);
    }
    return pending;
  }

  private async verifyJwt(token: string): Promise<Auth> {
    if (this.gate !== undefined) await this.gate.opened;
    const { jwks } = await this.discovered();
    let verified;
    try {
      verified = await jwtVerify(token, jwks, this.jwtOptions);
    } catch (error) {
      throw this.tokenErrorOf(error);
    }
    const { payload, protectedHeader } = verified;
    // Tessera names the key of every token it signs; a revoked key is announced by its kid.
    if (protectedHeader.kid === undefined) throw this.invalid('The token does not name its signing key');
    const auth = authFromClaims(payload, this.realm);
    const facts = {
      jti: text(payload.jti),
      sid: text(payload.sid),
      sub: auth.sub,
      client_id: auth.client_id,
      kid: protectedHeader.kid,
      iat: payload.iat!,
    };
    return this.remember(token, auth, facts, auth.exp * 1000);
  }

  private async introspect(token: string): Promise<Auth> {
    if (this.client === undefined) throw this.invalid('Opaque tokens need introspection credentials, which this verifier was not given');
    const { metadata } = await this.discovered();
    const endpoint = metadata.introspection_endpoint ?? `${this.issuer.replace(/\/+$/, '')}/introspect`;
    const answer = await introspect(endpoint, token, this.client, this.closer.signal);
    if (answer.active !== true) throw this.invalid('The token is not active');
    // A refresh token introspects as active too: only access tokens are accepted here.
    if (answer.token_type !== undefined && String(answer.token_type).toLowerCase() !== 'bearer')
      throw this.invalid('The token is not an access token');
    if (answer.iss !== undefined && answer.iss !== this.issuer) throw this.invalid('The token is not from this issuer');
    const auth = authFromClaims(answer, this.realm);
    const nowMs = Date.now();
    if (auth.exp * 1000 <= nowMs) throw this.invalid('The token has expired');
    if (this.audience !== undefined && !audienceMatches(auth.aud, this.audience))
      throw this.invalid('The token is not meant for this audience');
    const facts = {
      jti: text(answer.jti),
      sid: text(answer.sid),
      sub: auth.sub,
      client_id: auth.client_id,
      // Without an issue time, any revocation that names the token covers it.
      iat: typeof answer.iat === 'number' ? answer.iat : 0,
    };
    const expiresAtMs = this.live ? auth.exp * 1000 : Math.min(auth.exp * 1000, nowMs + UNSYNCED_CACHE_MS);
    return this.remember(token, auth, facts, expiresAtMs);
  }

  /**
   * Remembers a fresh answer, unless a known revocation covers it: one that arrived while the
   * answer was on its way would otherwise be missed for good (the stream announces each once).
   */
  private remember(token: string, auth: Auth, facts: TokenFacts, expiresAtMs: number): Auth {
    if (this.revocations.covers(facts)) throw this.invalid('The token has been revoked');
    if (!this.closed) this.cache.set({ token, auth, facts, expiresAtMs });
    return auth;
  }

  private discovered(): Promise<Discovered> {
    this.discovery ??= discover(this.issuer, this.closer.signal).then(
      (metadata) => ({
        metadata,
        jwks: createRemoteJWKSet(new URL(metadata.jwks_uri), {
          cooldownDuration: JWKS_COOLDOWN_MS,
          [customFetch]: (url, init) => fetch(url, { ...init, signal: AbortSignal.any([init.signal, this.closer.signal]) }),
        }),
      }),
      (error: unknown) => {
        this.discovery = undefined;
        throw error;
      },
    );
    return this.discovery;
  }

  private holdJwtsUntilSynced(): void {
    if (this.gate !== undefined) return;
    let resolve!: () => void;
    const opened = new Promise<void>((r) => (resolve = r));
    // Bounded: an unreachable stream must not hold every JWT forever (see the README).
    const timer = setTimeout(() => gate.open(), this.syncTimeoutMs).unref();
    const gate = {
      opened,
      open: () => {
        clearTimeout(timer);
        if (this.gate === gate) this.gate = undefined;
        resolve();
      },
    };
    this.gate = gate;
  }

  private invalid(description: string): TokenError {
    return new TokenError('invalid_token', description, { realm: this.realm });
  }

  /** A TokenError for what is wrong with the token; anything else (network, server) as it is. */
  private tokenErrorOf(error: unknown): unknown {
    if (!(error instanceof errors.JOSEError)) return error;
    const fault = TOKEN_FAULTS[error.code];
    if (fault !== undefined) return this.invalid(fault);
    if (error instanceof errors.JWTClaimValidationFailed) return this.invalid(`The token's ${error.claim} claim is not accepted`);
    return error;
  }
}

export function createVerifier(options: VerifierOptions): Verifier {
  return new TesseraVerifier(options);
}
