// Records as the admin API shows them: snake_case, ISO dates, never a secret or its digest.
import { authMethod, isPublicClient, SECRET_TO_ROTATE } from '../domain/clients.js';
import type { AuditRecord, ClientRecord, Page, SigningKeyRecord, UserRecord } from '../records.js';
import type { ImportReport } from '../domain/django-import.js';
import type { ListedConsent } from '../domain/consents.js';
import type {
  AuditView,
  ClientView,
  ConsentView,
  DjangoImportView,
  JwkSetJson,
  KeyView,
  PageView,
  SecretRotation,
  UserView,
} from './api.js';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function clientView(client: ClientRecord): ClientView {
  return {
    client_id: client.id,
    name: client.name,
    type: isPublicClient(client) ? 'public' : 'confidential',
    token_endpoint_auth_method: authMethod(client),
    grants: client.grants,
    scopes: client.scopes,
    token_format: client.tokenFormat,
    access_ttl: client.accessTtl,
    refresh_ttl: client.refreshTtl,
    max_session: client.maxSession,
    audience: client.audience,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    origins: client.origins,
    introspect: client.canIntrospect,
    consent: client.consent,
    browser: client.browser,
    admin: client.admin,
    jwks: client.jwks as JwkSetJson | null,
    jwks_uri: client.jwksUri,
    secret_must_rotate: client.secretDigest === SECRET_TO_ROTATE,
    previous_secret_expires_at:
      client.previousSecretExpiresAt && client.previousSecretExpiresAt.getTime() > Date.now() ? iso(client.previousSecretExpiresAt) : null,
    tokens_valid_after: iso(client.tokensValidAfter),
    created_at: client.createdAt.toISOString(),
    updated_at: client.updatedAt.toISOString(),
  };
}

export function rotationView(clientId: string, rotation: { secret: string; previousValidUntil: Date | null }): SecretRotation {
  return { client_id: clientId, client_secret: rotation.secret, previous_secret_expires_at: iso(rotation.previousValidUntil) };
}

export function userView(user: UserRecord): UserView {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    name: user.name,
    email_verified: user.emailVerified,
    active: user.active,
    roles: user.roles,
    groups: user.groups,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

export function consentView(consent: ListedConsent): ConsentView {
  return {
    client_id: consent.clientId,
    client_name: consent.clientName,
    scopes: consent.scopes,
    created_at: consent.createdAt.toISOString(),
    updated_at: consent.updatedAt.toISOString(),
  };
}

export function keyView(key: SigningKeyRecord): KeyView {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.retiredAt ? 'retired' : 'signing',
    created_at: key.createdAt.toISOString(),
    published_until: iso(key.publishUntil),
  };
}

export function auditView(entry: AuditRecord): AuditView {
  return { ...entry, at: entry.at.toISOString() };
}

export function pageView<R, V>(page: Page<R>, view: (record: R) => V): PageView<V> {
  return { items: page.items.map(view), next_cursor: page.nextCursor };
}

export function importView(report: ImportReport): DjangoImportView {
  return {
    dry_run: report.dryRun,
    users: report.users,
    tokens: report.tokens,
    clients: report.clients,
    clients_to_rotate: report.clientsToRotate,
    warnings: report.warnings,
  };
}
