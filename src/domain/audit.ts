// The audit log: every change made through the admin API, the admin command or dynamic
// registration is written to the database (listed by `tessera audit list` and the admin API) and
// logged. What is recorded never holds a secret: callers pass the changed fields' names and
// values, and the values of secret fields are dropped here whatever the caller passed.
import type { Logger } from 'pino';
import type { AuditRecord, Page } from '../records.js';
import type { AuditStore } from '../store/audit.js';
import { pageOrRefuse } from './errors.js';

/** Fields whose values are never recorded, only that they changed. */
const SECRET_FIELDS = new Set(['password', 'client_secret', 'secret', 'token', 'jwks', 'registration_access_token']);

export interface AuditEvent {
  /** The admin client's id, `cli:<os user>`, or `register:<client_id>` for RFC 7592 management. */
  actor: string;
  /** What was done, as `<resource>.<verb>`: `client.create`, `user.update`, `key.revoke`, … */
  action: string;
  /** The client id, user id, kid … acted on. */
  target: string;
  details?: Record<string, unknown>;
}

/** The details with secret values replaced by `true` ("it changed"); nested objects are not walked. */
function withoutSecrets(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).map(([key, value]) => [key, SECRET_FIELDS.has(key) ? true : value]));
}

export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly log: Pick<Logger, 'info'>,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const entry = { at: new Date(), ...event, details: withoutSecrets(event.details ?? {}) };
    await this.store.append(entry);
    this.log.info({ audit: entry }, `audit: ${entry.action} ${entry.target} by ${entry.actor}`);
  }

  page(limit: number, cursor?: string): Promise<Page<AuditRecord>> {
    return pageOrRefuse(this.store.page(limit, cursor));
  }
}
