// How the verifier authenticates to the server, as a confidential client, for introspection and the
// revocation stream: HTTP Basic with a secret (client_secret_basic), or a fresh signed assertion per
// request (private_key_jwt, RFC 7523 §2.2).
import { createPrivateKey, KeyObject, randomUUID, type JsonWebKey } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';

export type SigningAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

export interface SecretCredentials {
  clientId: string;
  clientSecret: string;
}

export interface PrivateKeyCredentials {
  clientId: string;
  /** The private half of a key registered for the client: a PKCS#8 PEM string, a JWK, a KeyObject or a CryptoKey. */
  privateKey: string | JWK | KeyObject | CryptoKey;
  /** ES256 (P-256), RS256 or EdDSA (Ed25519); by default the one the key's type implies. */
  alg?: SigningAlgorithm;
  /** The `kid` of the registered key, put in the assertion's header; by default a JWK's own `kid`. */
  kid?: string;
}

export type ClientCredentials = SecretCredentials | PrivateKeyCredentials;

/** What authenticates one request: headers, and form fields to add to its body. */
export interface ClientAuthentication {
  headers: Record<string, string>;
  form: Record<string, string>;
}

export interface ClientAuthenticator {
  /** Whether the credentials travel in the body (then the stream is opened with POST). */
  readonly inBody: boolean;
  authenticate(): Promise<ClientAuthentication>;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** An assertion is made for one request; a minute covers a slow network and some clock skew. */
const ASSERTION_LIFETIME = '60s';

/** RFC 6749 §2.3.1: the id and the secret are form-urlencoded before they are joined. */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

function toKeyObject(key: PrivateKeyCredentials['privateKey']): KeyObject {
  if (key instanceof KeyObject) return key;
  if (typeof key === 'string') return createPrivateKey(key);
  if (key instanceof CryptoKey) return KeyObject.from(key);
  return createPrivateKey({ key: key as JsonWebKey, format: 'jwk' });
}

function algorithmOf(key: KeyObject): SigningAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  return undefined;
}

export function clientAuthenticator(credentials: ClientCredentials, issuer: string): ClientAuthenticator {
  if (typeof credentials.clientId !== 'string' || credentials.clientId === '') throw new TypeError('introspection.clientId is required');
  if ('clientSecret' in credentials) {
    if (typeof credentials.clientSecret !== 'string' || credentials.clientSecret === '')
      throw new TypeError('introspection.clientSecret must be a non-empty string');
    const basic = `Basic ${Buffer.from(`${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret)}`).toString('base64')}`;
    const authentication = { headers: { authorization: basic }, form: {} };
    return { inBody: false, authenticate: () => Promise.resolve(authentication) };
  }
  const { clientId, privateKey, alg, kid } = credentials;
  if (privateKey === undefined || privateKey === null) throw new TypeError('introspection needs a clientSecret or a privateKey');
  const key = toKeyObject(privateKey);
  if (key.type !== 'private') throw new TypeError('introspection.privateKey must be a private key');
  const implied = algorithmOf(key);
  if (implied === undefined) throw new TypeError('introspection.privateKey must be an EC P-256, RSA or Ed25519 key');
  if (alg !== undefined && alg !== implied) throw new TypeError(`introspection.alg ${alg} does not fit the key (${implied})`);
  const keyId = kid ?? (typeof privateKey === 'object' && 'kty' in privateKey ? privateKey.kid : undefined);
  return {
    inBody: true,
    async authenticate() {
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: implied, ...(keyId === undefined ? {} : { kid: keyId }) })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(issuer)
        .setIssuedAt()
        .setExpirationTime(ASSERTION_LIFETIME)
        .setJti(randomUUID())
        .sign(key);
      return { headers: {}, form: { client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion } };
    },
  };
}
