// Users' approvals of third-party clients (a client registered with `consent`): /authorize asks the
// user once, remembers what was approved, and asks again only for a scope not approved yet.
import type { ConsentRecord, Page } from '../records.js';
import type { ConsentStore, ListedConsent } from '../store/consents.js';
import { pageOrRefuse } from './errors.js';

export type { ListedConsent };

export class Consents {
  constructor(private readonly store: ConsentStore) {}

  /** Whether the user approved this client for every one of `scopes` (an approval covers any subset of it). */
  async covers(userId: string, clientId: string, scopes: string[]): Promise<boolean> {
    const approval = await this.store.find(userId, clientId);
    return approval !== null && scopes.every((scope) => approval.scopes.includes(scope));
  }

  /** Records an approval: the scopes join those approved before (none is ever dropped by a narrower request). */
  async approve(userId: string, clientId: string, scopes: string[]): Promise<void> {
    // Read, then write only if nothing changed meanwhile: of two approvals at once, neither loses the other's scopes.
    for (;;) {
      const now = new Date();
      const current = await this.store.find(userId, clientId);
      if (current === null) {
        if (await this.store.create(userId, clientId, [...new Set(scopes)], now)) return;
      } else {
        const union = [...new Set([...current.scopes, ...scopes])];
        if (await this.store.replaceScopes(userId, clientId, current.scopes, union, now)) return;
      }
    }
  }

  /** Every approval the user gave, in client_id order. */
  list(userId: string): Promise<ConsentRecord[]> {
    return this.store.list(userId);
  }

  /** A page of the user's approvals, with each client's name (the admin API). */
  page(userId: string, limit: number, cursor?: string): Promise<Page<ListedConsent>> {
    return pageOrRefuse(this.store.page(userId, limit, cursor));
  }

  /**
   * Withdraws the approval: the user is asked again next time, and their grants with the client
   * end now (refresh families and the access tokens issued from them). False when there was none.
   */
  revoke(userId: string, clientId: string): Promise<boolean> {
    return this.store.revoke(userId, clientId);
  }
}
