// Errors of the domain, named by the OAuth error code they become at the HTTP edge. The grant
// library's own error classes are reused, so every OAuth error has one shape.
import OAuth2Server from '@node-oauth/oauth2-server';

export const {
  OAuthError,
  InvalidRequestError,
  InvalidClientError,
  InvalidGrantError,
  InvalidScopeError,
  InvalidTokenError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
  AccessDeniedError,
  ServerError,
} = OAuth2Server;

/** A request the admin command cannot carry out (bad argument, unknown name): shown as one line. */
export class AdminError extends Error {}
