// The model that connects @node-oauth/oauth2-server's grant handlers to Tessera's storage.
// One model is made per token request: the library calls it step by step (find the refresh
// token, consume it, mint, save), and the request's state — which grant, which refresh token was
// consumed — lives in the GrantContext between the steps.
import { randomUUID } from 'node:crypto';
import type OAuth2Server from '@node-oauth/oauth2-server';
import type { ClientRecord } from '../store/clients.js';
import type { AuthorizationCodeRecord } from '../store/codes.js';
import type { RefreshTokenRecord } from '../store/tokens.js';
import type { Tessera } from '../tessera.js';
import { InvalidGrantError } from '../domain/errors.js';
import { formatScope, parseScope } from '../domain/scopes.js';
import type { MintedAccessToken } from '../tokens/issuer.js';
import { CODE_PREFIX, REFRESH_TOKEN_PREFIX, hasOpaqueShape, tokenDigest } from '../tokens/opaque.js';

export interface GrantContext {
  grantType: string;
  params: Record<string, string>;
  /** The client's network address, for throttling password checks. */
  address: string;
  client?: ClientRecord;
  /** The grant (refresh token family) the tokens are issued under; none for client_credentials. */
  grantId?: string;
  consumed?: RefreshTokenRecord;
  code?: AuthorizationCodeRecord;
  access?: MintedAccessToken;
  refresh?: { token: string; digest: string };
}

interface ModelUser {
  id: string | null;
  username?: string;
}

const ISSUES_REFRESH_TOKENS = new Set(['password', 'authorization_code', 'refresh_token']);

function libraryClient(client: ClientRecord): OAuth2Server.Client {
  return {
    id: client.id,
    grants: client.grants,
    redirectUris: client.redirectUris,
    accessTokenLifetime: client.accessTtl,
    refreshTokenLifetime: client.refreshTtl,
  };
}

export function createModel(tessera: Tessera, ctx: GrantContext) {
  const { store, state, log } = tessera;
  const client = () => {
    if (!ctx.client) throw new Error('client not authenticated yet');
    return ctx.client;
  };

  return {
    async getClient(clientId: string, clientSecret: string | undefined) {
      const found = await tessera.clients.authenticate(clientId, clientSecret || undefined);
      if (!found) return false;
      ctx.client = found;
      return libraryClient(found);
    },

    async getUser(username: string, password: string): Promise<ModelUser | false> {
      const user = await tessera.users.signIn(username, password, ctx.address);
      return user ? { id: user.id, username: user.username } : false;
    },

    /** client_credentials: the token speaks for the client itself. */
    async getUserFromClient(): Promise<ModelUser> {
      return { id: null };
    },

    /** No scope asked for means every scope the client is registered with. */
    async validateScope(_user: ModelUser, _client: OAuth2Server.Client, scope: string[] | undefined) {
      const allowed = client().scopes;
      if (!scope) return allowed;
      return scope.every((s) => allowed.includes(s)) ? [...new Set(scope)] : false;
    },

    async generateAccessToken(_client: OAuth2Server.Client, user: ModelUser, scope: string[]) {
      if (ISSUES_REFRESH_TOKENS.has(ctx.grantType)) ctx.grantId ??= randomUUID();
      ctx.access = await tessera.issuer.accessToken({
        client: client(),
        userId: user.id,
        scope: formatScope(scope ?? []),
        grantId: ctx.grantId ?? null,
      });
      return ctx.access.token;
    },

    async generateRefreshToken() {
      ctx.refresh = tessera.issuer.refreshToken();
      return ctx.refresh.token;
    },

    async saveToken(token: OAuth2Server.Token, _client: OAuth2Server.Client, user: ModelUser) {
      const access = ctx.access!;
      const refresh = ctx.refresh && token.refreshToken ? ctx.refresh : undefined;
      if (!refresh || !ctx.grantId) {
        if (access.record) await store.tokens.saveAccessToken(access.record);
      } else {
        const refreshExpiresAt = token.refreshTokenExpiresAt!;
        const grantExpiresAt = new Date(Math.max(refreshExpiresAt.getTime(), access.expiresAt.getTime()));
        const scope = formatScope(token.scope ?? []);
        if (ctx.consumed) {
          // The new refresh token keeps the scope its family was granted; only the access token narrows.
          const used = ctx.consumed;
          const next = { digest: refresh.digest, parentDigest: used.digest, scope: used.scope, expiresAt: refreshExpiresAt };
          const rotation = { usedDigest: used.digest, grantId: ctx.grantId, next, access: access.record, grantExpiresAt };
          if (!(await store.tokens.rotate(rotation))) {
            // Used concurrently: exactly one rotation wins, and any other use is a reuse.
            log.warn({ grant: used.grantId, client: used.grant.clientId }, 'refresh token used concurrently: revoking its grant');
            await store.tokens.revokeGrant(used.grantId);
            throw new InvalidGrantError('Invalid grant: refresh token is invalid or already used');
          }
        } else {
          await store.tokens.startGrant(
            { id: ctx.grantId, clientId: client().id, userId: user.id!, scope, expiresAt: grantExpiresAt },
            { digest: refresh.digest, parentDigest: null, scope, expiresAt: refreshExpiresAt },
            access.record,
          );
        }
      }
      return { ...token, accessTokenExpiresAt: access.expiresAt, client: _client, user };
    },

    async getRefreshToken(refreshToken: string) {
      if (!hasOpaqueShape(refreshToken, REFRESH_TOKEN_PREFIX)) return false;
      const record = await store.tokens.refreshToken(tokenDigest(refreshToken));
      // Another client's token is simply invalid for this one, and changes nothing.
      if (!record || record.grant.clientId !== client().id) return false;
      if (record.consumedAt) {
        log.warn({ grant: record.grantId, client: record.grant.clientId }, 'refresh token reused: revoking its grant');
        await store.tokens.revokeGrant(record.grantId);
        return false;
      }
      if (record.revokedAt || record.grant.revokedAt) return false;
      const user = await state.users.get(record.grant.userId);
      if (!user || !user.active) return false;
      ctx.consumed = record;
      ctx.grantId = record.grantId;
      return {
        refreshToken,
        refreshTokenExpiresAt: record.expiresAt,
        scope: parseScope(record.scope),
        client: { id: record.grant.clientId, grants: [] },
        user: { id: user.id, username: user.username },
      };
    },

    async getAuthorizationCode(code: string) {
      if (!hasOpaqueShape(code, CODE_PREFIX)) return false;
      const record = await store.codes.byDigest(tokenDigest(code));
      if (!record || record.clientId !== client().id) return false;
      if (record.consumedAt) {
        // RFC 6749 §4.1.2: a code used twice revokes what its first use issued.
        log.warn({ client: record.clientId }, 'authorization code reused: revoking what it issued');
        if (record.grantId) await store.tokens.revokeGrant(record.grantId);
        return false;
      }
      // RFC 6749 §4.1.3: the redirect_uri must be the one the code was issued for (invalid_grant).
      if (ctx.params.redirect_uri !== record.redirectUri) return false;
      const user = await state.users.get(record.userId);
      if (!user || !user.active) return false;
      ctx.code = record;
      return {
        authorizationCode: code,
        expiresAt: record.expiresAt,
        redirectUri: record.redirectUri,
        scope: parseScope(record.scope),
        codeChallenge: record.codeChallenge,
        codeChallengeMethod: record.codeChallengeMethod,
        client: { id: record.clientId, grants: [] },
        user: { id: user.id, username: user.username },
      };
    },

    /** The code is used once: the first use wins, and names the grant it starts. */
    async revokeAuthorizationCode() {
      ctx.grantId = randomUUID();
      return store.codes.consume(ctx.code!.digest, ctx.grantId);
    },

    /**
     * The library consumes the old refresh token here, before saving the new one. Tessera does
     * both in saveToken, in one transaction (store.tokens.rotate), so that a rotation commits
     * whole or not at all.
     */
    async revokeToken() {
      return true;
    },
  };
}
