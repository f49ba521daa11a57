// Client authentication by a signed JWT (RFC 7523 §2.2, §3: private_key_jwt). The client signs a
// short-lived assertion about itself (iss = sub = its client_id, aud = this server) with one of
// its registered keys; each assertion is accepted once, on any instance.
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { ClientRecord } from '../records.js';
import { ASSERTION_ALGORITHMS, ClientKeysError, type ClientKeys, type ClientKeySet } from './client-keys.js';

/** Far above any honest assertion (a few hundred bytes, an RSA signature included). */
const MAX_ASSERTION_LENGTH = 8 * 1024;
/** How far ahead an assertion may expire: it proves the client now, not for the day. */
const MAX_LIFETIME_S = 300;
/** For exp, nbf and iat: the client's clock may be a little off. */
const CLOCK_LEEWAY_S = 5;
const MAX_JTI_LENGTH = 256;
/**
 * What a client_id is made of (RFC 6749 Appendix A, VSCHAR), and what a jti may be: printable
 * ASCII. Checked before either reaches the database, which would refuse a NUL with an error, and
 * would store a lone surrogate as another character.
 */
const PRINTABLE = /^[\x20-\x7e]+$/;

/** Why an assertion does not authenticate its client, in one line (the edge answers 401 invalid_client). */
export class ClientAssertionError extends Error {}

function refuse(why: string): never {
  throw new ClientAssertionError(why);
}

export interface AssertionCheck {
  /** The client_id the request names besides the assertion, if it does. */
  clientId?: string;
  /** The path of the endpoint asked (`/token`): the issuer plus it is an accepted audience. */
  endpoint?: string;
}

/** jose's refusal, said for the client. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the assertion has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return "the assertion's aud must be the issuer or this endpoint's URL";
    if (error.claim === 'iss' || error.claim === 'sub') return "the assertion's iss and sub must both be the client_id";
    if (error.claim === 'nbf') return 'the assertion is not valid yet (nbf)';
    return `the assertion's ${error.claim} claim is ${error.reason === 'missing' ? 'missing' : 'not accepted'}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the assertion's signature does not verify with the client's keys";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of the client matches the assertion's kid and alg";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the assertion is not a well-formed signed JWT';
  return "the assertion cannot be verified with the client's keys";
}

/** Verifies with the key the header names, or, when several fit (no kid), with each in turn. */
async function verifiedClaims(assertion: string, keys: ClientKeySet, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(assertion, keys.resolve, options)).payload;
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return (await jwtVerify(assertion, key, options)).payload;
      } catch (tried) {
        if (!(tried instanceof errors.JWSSignatureVerificationFailed)) throw tried;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

export class ClientAssertions {
  constructor(
    /** The registered client by id, or null (read through the cache). */
    private readonly findClient: (id: string) => Promise<ClientRecord | null>,
    private readonly keys: Pick<ClientKeys, 'forClient'>,
    private readonly used: { recordOnce(key: string, expiresAt: Date): Promise<boolean> },
    private readonly issuer: string,
  ) {}

  /** The client `assertion` authenticates, or a ClientAssertionError saying why it does not. */
  async authenticate(assertion: string, check: AssertionCheck): Promise<ClientRecord> {
    if (assertion.length > MAX_ASSERTION_LENGTH) refuse(`the assertion is longer than ${MAX_ASSERTION_LENGTH / 1024} KiB`);
    // Compact JWS only: three parts (an encrypted JWT has five, a JSON serialisation none).
    if (assertion.split('.').length !== 3) refuse('the assertion must be a signed JWT (compact JWS)');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      refuse('the assertion is not a well-formed signed JWT');
    }
    if (!(ASSERTION_ALGORITHMS as readonly unknown[]).includes(header.alg))
      refuse(
        `the assertion's alg must be one of ${ASSERTION_ALGORITHMS.join(', ')}, not ${JSON.stringify(header.alg ?? null).slice(0, 40)}`,
      );
    if (header.kid !== undefined && typeof header.kid !== 'string') refuse("the assertion's kid must be a string");
    // Who it claims to be, read before the signature is checked: that says whose keys check it.
    const clientId = claims.iss;
    if (typeof clientId !== 'string' || claims.sub !== clientId) refuse("the assertion's iss and sub must both be the client_id");
    if (!PRINTABLE.test(clientId)) refuse('unknown client');
    if (check.clientId !== undefined && check.clientId !== clientId) refuse("client_id does not match the assertion's iss");
    const client = await this.findClient(clientId);
    if (!client) refuse('unknown client');
    let keys: ClientKeySet;
    try {
      keys = await this.keys.forClient(client, header.kid);
    } catch (error) {
      if (error instanceof ClientKeysError) refuse(`the client's keys cannot be used: ${error.message}`);
      throw error;
    }
    let verified: JWTPayload;
    try {
      verified = await verifiedClaims(assertion, keys, {
        algorithms: [...ASSERTION_ALGORITHMS],
        issuer: client.id,
        subject: client.id,
        audience: check.endpoint === undefined ? this.issuer : [this.issuer, `${this.issuer}${check.endpoint}`],
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_LEEWAY_S,
      });
    } catch (error) {
      refuse(describe(error));
    }
    const now = Math.floor(Date.now() / 1000);
    // jose has checked that exp is a number in the future, and iat a number if present.
    const exp = verified.exp!;
    if (exp > now + MAX_LIFETIME_S + CLOCK_LEEWAY_S) refuse(`the assertion must expire within ${MAX_LIFETIME_S} s`);
    if (verified.iat !== undefined && verified.iat > now + CLOCK_LEEWAY_S) refuse('the assertion is issued in the future (iat)');
    const jti = verified.jti;
    if (typeof jti !== 'string' || jti.length > MAX_JTI_LENGTH || !PRINTABLE.test(jti))
      refuse(`the assertion's jti must be 1 to ${MAX_JTI_LENGTH} printable ASCII characters`);
    // Last, once everything else holds: a forged assertion must not use up its jti. Kept as long
    // as the assertion is accepted, the clock leeway included, so that pruning cannot free it early.
    if (!(await this.used.recordOnce(`${client.id} ${jti}`, new Date((exp + CLOCK_LEEWAY_S) * 1000))))
      refuse('the assertion was used before (each jti is accepted once)');
    return client;
  }
}
