// @tessera/verify: verify Tessera's access tokens in a Node service.
export { createVerifier, type Verifier, type VerifierOptions, type VerifyOptions } from './verifier.js';
export type { Auth } from './auth.js';
export { TokenError, type TokenErrorCode } from './errors.js';
export { hasScopes } from './scopes.js';
export { bearerToken } from './http.js';
export { fastifyTessera, type FastifyTesseraOptions, type TesseraRouteConfig } from './fastify.js';
export { expressTessera, type ExpressTesseraOptions } from './express.js';
export type { ClientCredentials, PrivateKeyCredentials, SecretCredentials, SigningAlgorithm } from './client-auth.js';
