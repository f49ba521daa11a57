// The audit log: who changed what through the admin API, the admin command and dynamic
// registration. Appended to, listed newest first, pruned after its retention (src/store/prune.ts).
import type { AuditRecord, Page } from '../records.js';
import type { Db } from './dialect.js';
import { BadCursorError, pageOf } from './paging.js';

export type NewAuditEntry = Omit<AuditRecord, 'id'>;

export class AuditStore {
  constructor(private readonly db: Db) {}

  async append(entry: NewAuditEntry): Promise<void> {
    await this.db.auditEntry.create({ data: { ...entry, details: JSON.stringify(entry.details) } });
  }

  /** Newest first; the cursor is the id of the last entry of the previous page. */
  async page(limit: number, cursor?: string): Promise<Page<AuditRecord>> {
    let before: number | undefined;
    if (cursor !== undefined) {
      // Ids are 32-bit on PostgreSQL: a larger one is nobody's cursor.
      if (!/^[1-9]\d{0,9}$/.test(cursor) || Number(cursor) > 2_147_483_647) throw new BadCursorError();
      before = Number(cursor);
    }
    const rows = await this.db.auditEntry.findMany({
      where: before === undefined ? {} : { id: { lt: before } },
      orderBy: { id: 'desc' },
      take: limit + 1,
    });
    return pageOf(
      rows,
      limit,
      (row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }),
      (row) => String(row.id),
    );
  }
}
