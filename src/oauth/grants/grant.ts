// What a grant type is (RFC 6749 §4): its name, the parameters it reads, the rules registration
// and discovery read, and its handler. One file per grant beside this one; index.ts lists them.
import type { GrantRules } from '../../domain/clients.js';
import type { Users } from '../../domain/users.js';
import type { ClientRecord } from '../../records.js';
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

/** Declares a grant; the parameter list types the handler's params. */
export const defineGrant = <const P extends string>(grant: GrantType<P>): GrantType<P> => grant;
