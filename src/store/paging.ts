// Keyset paging for the admin lists: a cursor names the last row of a page by its sort key, so a
// page is one indexed range read however deep it is, and rows added or removed meanwhile never
// shift what the next page holds.

/** A cursor that is not one this server wrote (or names a key of the wrong shape). */
export class BadCursorError extends Error {
  constructor() {
    super('cursor is not one this server gave out');
  }
}

/** 9999-12-31T23:59:59.999Z. */
const MAX_DATE_MS = 253_402_300_799_999;

/** The sort key of the rows listed in creation order: creation time, then id. */
export interface CreationKey {
  createdAt: Date;
  id: string;
}

export function creationCursor(key: CreationKey): string {
  return Buffer.from(`${key.createdAt.getTime()}.${key.id}`).toString('base64url');
}

/** The rows after the cursor in (createdAt, id) order, as a Prisma where clause. */
export function afterCreationCursor(cursor: string | undefined) {
  if (cursor === undefined) return {};
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const dot = text.indexOf('.');
  const ms = Number(text.slice(0, dot));
  const id = text.slice(dot + 1);
  // Within years 1970–9999, which both databases store and compare as dates.
  const inRange = Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_DATE_MS;
  if (dot < 1 || !inRange || id === '' || id.length > 200 || creationCursor({ createdAt: new Date(ms), id }) !== cursor)
    throw new BadCursorError();
  const createdAt = new Date(ms);
  return { OR: [{ createdAt: { gt: createdAt } }, { createdAt, id: { gt: id } }] };
}

export const CREATION_ORDER = [{ createdAt: 'asc' as const }, { id: 'asc' as const }];

/**
 * One page from rows read with `take: limit + 1`: the extra row only says that there is a next
 * page, whose cursor is the last row kept.
 */
export function pageOf<Row, Item>(rows: Row[], limit: number, item: (row: Row) => Item, cursor: (row: Row) => string) {
  const kept = rows.slice(0, limit);
  return { items: kept.map(item), nextCursor: rows.length > limit && kept.length > 0 ? cursor(kept.at(-1)!) : null };
}
