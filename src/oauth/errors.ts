// OAuth errors (RFC 6749 §5.2, RFC 7009, RFC 7662): the code the client reads, a description for
// people, and the HTTP status the edge answers with. Written here rather than borrowed from a
// library: a class per code is a few lines, and the edge owns how each is shaped.

export type OAuthErrorCode =
  'invalid_request' | 'invalid_client' | 'invalid_grant' | 'invalid_scope' | 'unauthorized_client' | 'unsupported_grant_type';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    description: string,
    /** invalid_client is 401 (with a challenge when Basic was tried); the rest of §5.2 is 400. */
    readonly status = error === 'invalid_client' ? 401 : 400,
  ) {
    super(description);
  }
}

const errorClass = (code: OAuthErrorCode) =>
  class extends OAuthError {
    constructor(description: string) {
      super(code, description);
    }
  };

export const InvalidRequestError = errorClass('invalid_request');
export const InvalidClientError = errorClass('invalid_client');
export const InvalidGrantError = errorClass('invalid_grant');
export const InvalidScopeError = errorClass('invalid_scope');
export const UnauthorizedClientError = errorClass('unauthorized_client');
export const UnsupportedGrantTypeError = errorClass('unsupported_grant_type');
