// The error verify() throws for a token that cannot be accepted, shaped for RFC 6750 §3: the status
// to answer, the WWW-Authenticate challenge and the JSON body, so that every integration answers alike.

export type TokenErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

const STATUS: Record<TokenErrorCode, 401 | 403> = { invalid_request: 401, invalid_token: 401, insufficient_scope: 403 };

/** RFC 6750 §3: the attribute values allow printable ASCII except `"` and `\`; anything else becomes `?`. */
const quoted = (value: string) => `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`;

export interface TokenErrorOptions {
  /** The scopes the resource asks for (insufficient_scope). */
  scope?: readonly string[] | undefined;
  /** The protection space named in the challenge (RFC 6750 §3). */
  realm?: string | undefined;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code: TokenErrorCode;
  /** 401, or 403 for insufficient_scope. */
  readonly status: 401 | 403;
  /** The value of the WWW-Authenticate header to answer with. */
  readonly wwwAuthenticate: string;
  /** The scopes the resource asked for, for insufficient_scope. */
  readonly scope: readonly string[] | undefined;

  constructor(code: TokenErrorCode, description: string, { scope, realm }: TokenErrorOptions = {}) {
    super(description);
    this.code = code;
    this.status = STATUS[code];
    this.scope = scope;
    const attributes = [
      ...(realm === undefined ? [] : [`realm=${quoted(realm)}`]),
      // §3.1: a request without any token gets a challenge without an error code.
      ...(code === 'invalid_request' ? [] : [`error="${code}"`, `error_description=${quoted(description)}`]),
      ...(scope === undefined ? [] : [`scope=${quoted(scope.join(' '))}`]),
    ];
    this.wwwAuthenticate = attributes.length === 0 ? 'Bearer' : `Bearer ${attributes.join(', ')}`;
  }

  /** The JSON body to answer with: `{"error", "error_description"}`. */
  get body(): { error: TokenErrorCode; error_description: string } {
    return { error: this.code, error_description: this.message };
  }
}
