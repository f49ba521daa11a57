// Every grant type Tessera supports. Adding one is a file beside this one and a line here:
// registration rules, the token endpoint, discovery and the start-up warnings all read this list.
import { authorizationCode } from './authorization-code.js';
import { clientCredentials } from './client-credentials.js';
import type { GrantType } from './grant.js';
import { password } from './password.js';
import { refreshToken } from './refresh-token.js';

// Discovery lists them in this order.
export const GRANTS: readonly GrantType[] = [authorizationCode, clientCredentials, refreshToken, password];

const BY_NAME = new Map(GRANTS.map((grant) => [grant.name, grant]));

export function findGrant(name: string): GrantType | undefined {
  return BY_NAME.get(name);
}
