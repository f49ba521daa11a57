// The admin operations carried out on this process's core: what the HTTP admin API calls, and what
// the admin command calls when it works on the database itself. Every change is written to the
// audit log with its actor, after it succeeded.
import { withoutUndefined, type Clients, type ClientRegistration } from '../domain/clients.js';
import type { AuditLog } from '../domain/audit.js';
import type { Consents } from '../domain/consents.js';
import type { DjangoImport } from '../domain/django-import.js';
import { AdminError, NoSuchError } from '../domain/errors.js';
import type { RegistrationTokens } from '../domain/registration-tokens.js';
import type { Users } from '../domain/users.js';
import { issueAdminToken } from '../oauth/admin-token.js';
import type { SigningKeyRecord } from '../records.js';
import type { TokenLifecycle } from '../tokens/lifecycle.js';
import { secondsUntil } from '../tokens/minter.js';
import type { Revocation } from '../tokens/revocation.js';
import {
  DEFAULT_PAGE,
  MAX_PAGE,
  type AdminApi,
  type ClientSettingsBody,
  type KeyView,
  type PageQuery,
  type PruneCounts,
  type RevokeBody,
  type UserPatchBody,
} from './api.js';
import { auditView, clientView, consentView, importView, keyView, pageView, rotationView, userView } from './views.js';

/** What the admin operations use of the core, and nothing more. */
export interface AdminServices {
  clients: Clients;
  users: Users;
  tokens: TokenLifecycle;
  revocation: Pick<Revocation, 'revoke'>;
  keys: { list(): SigningKeyRecord[]; rotate(): Promise<string>; revoke(kid: string): Promise<boolean> };
  audit: AuditLog;
  registrationTokens: RegistrationTokens;
  djangoImport: DjangoImport;
  consents: Consents;
  prune(): Promise<PruneCounts>;
}

/** The registration the domain takes, from the admin API's fields (absent stays absent). */
export function registrationOf(body: ClientSettingsBody): Partial<ClientRegistration> {
  const fields: Partial<ClientRegistration> = {
    name: body.name,
    public: body.public,
    grants: body.grants,
    scopes: body.scopes,
    tokenFormat: body.token_format,
    accessTtl: body.access_ttl,
    refreshTtl: body.refresh_ttl,
    maxSession: body.max_session,
    audience: body.audience,
    redirectUris: body.redirect_uris,
    postLogoutRedirectUris: body.post_logout_redirect_uris,
    origins: body.origins,
    introspect: body.introspect,
    consent: body.consent,
    browser: body.browser,
    admin: body.admin,
    jwks: body.jwks === undefined ? undefined : body.jwks === null ? null : JSON.stringify(body.jwks),
    jwksUri: body.jwks_uri,
  };
  return withoutUndefined(fields);
}

/** `accessTokens` → `access_tokens`: the admin API speaks snake_case. */
function snakeCaseKeys(counts: PruneCounts): PruneCounts {
  return Object.fromEntries(Object.entries(counts).map(([key, value]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value]));
}

function limitOf(query: PageQuery): number {
  const limit = query.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new AdminError(`limit must be a whole number from 1 to ${MAX_PAGE}`);
  return limit;
}

/** The admin operations on this core, by `actor` (the admin client's id, or `cli:<os user>`). */
export function localAdmin(services: AdminServices, actor: string): AdminApi {
  const { clients, users, audit } = services;
  const record = (action: string, target: string, details: Record<string, unknown> = {}) =>
    audit.record({ actor, action, target, details });

  return {
    clients: {
      async list(query) {
        return pageView(await clients.page(limitOf(query), query.cursor), clientView);
      },
      async create(body) {
        const { client, secret } = await clients.register({ ...registrationOf(body), name: body.name });
        await record('client.create', client.id, withoutUndefined(body));
        return { ...clientView(client), ...(secret ? { client_secret: secret } : {}) };
      },
      async get(clientId) {
        return clientView(await clients.get(clientId));
      },
      async update(clientId, body) {
        const { client, secret } = await clients.update(clientId, registrationOf(body));
        await record('client.update', client.id, withoutUndefined(body));
        return { ...clientView(client), ...(secret ? { client_secret: secret } : {}) };
      },
      async delete(clientId) {
        await clients.delete(clientId);
        await record('client.delete', clientId);
      },
      async rotateSecret(clientId, body) {
        const rotation = await clients.rotateSecret(clientId, body.grace_seconds ?? 0);
        await record('client.rotate_secret', clientId, { grace_seconds: body.grace_seconds ?? 0 });
        return rotationView(clientId, rotation);
      },
    },
    users: {
      async list(query) {
        return pageView(await users.page(limitOf(query), query.cursor), userView);
      },
      async create(body) {
        const { username, password, email, name, email_verified: emailVerified, roles, groups } = body;
        const user = await users.create(username, email ?? undefined, password, { name, emailVerified, roles, groups });
        await record('user.create', user.id, withoutUndefined({ ...body, password: true }));
        return userView(user);
      },
      async get(user) {
        return userView(await users.find(user));
      },
      async update(user, body: UserPatchBody) {
        const found = await users.find(user);
        const { email_verified: emailVerified, ...rest } = body;
        const updated = await users.update(found.username, { ...rest, emailVerified });
        await record('user.update', found.id, withoutUndefined(body));
        return userView(updated);
      },
      async delete(user) {
        const found = await users.find(user);
        await users.delete(found.username);
        await record('user.delete', found.id, { username: found.username });
      },
      async consents(user, query) {
        const found = await users.find(user);
        return pageView(await services.consents.page(found.id, limitOf(query), query.cursor), consentView);
      },
      async revokeConsent(user, clientId) {
        const found = await users.find(user);
        if (!(await services.consents.revoke(found.id, clientId))) {
          // Which of the two is missing: the client, or only the approval.
          await clients.get(clientId);
          throw new NoSuchError(`${found.username} has not approved client "${clientId}"`);
        }
        await record('user.consent.revoke', found.id, { client_id: clientId });
      },
    },
    tokens: {
      async revoke(body: RevokeBody) {
        if ('token' in body) {
          const outcome = await services.revocation.revoke(body.token, null);
          if (outcome === 'revoked') await record('token.revoke', 'token');
          return { revoked: 'token', found: outcome === 'revoked' };
        }
        if ('user' in body) {
          const found = await users.find(body.user);
          await users.revokeEverything(found.username);
          await record('token.revoke_user', found.id);
          return { revoked: 'user', found: true, user: found.id };
        }
        await clients.revokeTokens(body.client_id);
        await record('token.revoke_client', body.client_id);
        return { revoked: 'client', found: true, client_id: body.client_id };
      },
      async create(body) {
        const found = await users.find(body.user);
        const { minted, scope, client, user } = await issueAdminToken(services, {
          username: found.username,
          clientId: body.client_id,
          scopes: body.scopes,
          ttl: body.ttl,
        });
        await record('token.create', user.id, { client_id: client.id, scope, ttl: body.ttl ?? null });
        return {
          access_token: minted.token,
          token_type: 'Bearer',
          expires_in: secondsUntil(minted.expiresAt),
          scope,
          client_id: client.id,
          username: user.username,
        };
      },
      async prune() {
        const counts = snakeCaseKeys(await services.prune());
        await record('token.prune', 'database', counts);
        return counts;
      },
    },
    keys: {
      async list() {
        return services.keys.list().map(keyView);
      },
      async rotate() {
        const kid = await services.keys.rotate();
        await record('key.rotate', kid);
        return keyViewOf(services, kid);
      },
      async revoke(kid) {
        if (!(await services.keys.revoke(kid))) throw new NoSuchError(`no published key "${kid}"`);
        await record('key.revoke', kid);
        return { kid, revoked: true };
      },
    },
    registrationTokens: {
      async create(body) {
        const { token, record: created } = await services.registrationTokens.createInitial({ ttl: body.ttl, maxUses: body.max_uses });
        await record('registration_token.create', created.digest.slice(0, 16), { ttl: body.ttl ?? null, max_uses: created.maxUses });
        return { initial_access_token: token, expires_at: created.expiresAt.toISOString(), max_uses: created.maxUses };
      },
    },
    audit: {
      async list(query) {
        return pageView(await audit.page(limitOf(query), query.cursor), auditView);
      },
    },
    imports: {
      async django(body) {
        const report = importView(await services.djangoImport.run(body.dump, { tokenClient: body.token_client, dryRun: body.dry_run }));
        if (!report.dry_run) {
          const { users: u, tokens: t, clients: c, clients_to_rotate } = report;
          await record('import.django', 'database', { users: u.created, tokens: t.created, clients: c.created, clients_to_rotate });
        }
        return report;
      },
    },
  };
}

function keyViewOf(services: AdminServices, kid: string): KeyView {
  const key = services.keys.list().find((k) => k.kid === kid);
  if (!key) throw new NoSuchError(`no published key "${kid}"`);
  return keyView(key);
}
