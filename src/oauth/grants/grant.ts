// What a grant type is (RFC 6749 §4): its name, the parameters it reads, the rules registration
// and discovery read, and its handler. One file per grant beside this one; index.ts lists them.
import type { GrantRules } from '../../domain/clients.js';
import type { Consents } from '../../domain/consents.js';
import type { Sessions } from '../../domain/sessions.js';
import type { Users } from '../../domain/users.js';
import type { ClientRecord } from '../../records.js';
import { holdsOpenId, type IdTokenInput, type IdTokens } from '../../tokens/id-token.js';
import type { IssuedTokens, TokenLifecycle } from '../../tokens/lifecycle.js';

export interface GrantRequest<P extends string> {
  /** Authenticated at the edge, and registered for this grant. */
  client: ClientRecord;
  /** The grant's own parameters, single strings; nothing else the request carried. */
  params: Partial<Record<P, string>>;
  /** The client's network address, for throttling password checks. */
  address: string;
}

/** The services a grant handler may use, and nothing more. */
export interface GrantServices {
  tokens: TokenLifecycle;
  users: Pick<Users, 'signIn' | 'activeById'>;
  idTokens: Pick<IdTokens, 'mint'>;
  /** Whether a code's session has ended since the code was issued (the authorization_code grant). */
  sessions: Pick<Sessions, 'isEnded'>;
  /** Whether a third-party client's approval still covers a code's scope (the authorization_code grant). */
  consents: Pick<Consents, 'covers'>;
}

export interface GrantType<P extends string = string> {
  readonly name: string;
  /** The token request's parameters this grant reads, besides grant_type and client authentication. */
  readonly parameters: readonly P[];
  readonly rules: Omit<GrantRules, 'name'> & {
    /** Deprecated by RFC 9700: warned about at start, advertised only while a client uses it. */
    readonly deprecated: boolean;
  };
  handle(request: GrantRequest<P>, services: GrantServices): Promise<IssuedTokens>;
}

/**
 * The tokens, with an ID token beside them when the grant's scope (`granted`: what the family was
 * granted, even where this access token is narrower) holds `openid`: OpenID Connect Core §3.1.3.3
 * for the code exchange, §12.2 for each refresh.
 */
export async function withIdToken(
  issued: IssuedTokens,
  granted: string,
  idTokens: GrantServices['idTokens'],
  signIn: Omit<IdTokenInput, 'accessToken'>,
): Promise<IssuedTokens> {
  if (!holdsOpenId(granted)) return issued;
  return { ...issued, idToken: await idTokens.mint({ ...signIn, accessToken: issued.accessToken }) };
}

/** Declares a grant; the parameter list types the handler's params. */
export const defineGrant = <const P extends string>(grant: GrantType<P>): GrantType<P> => grant;
