// The database dialects Tessera runs on, chosen by DATABASE_URL.
import { dialectOf } from '../../config.js';
import type { DialectModule } from '../dialect.js';
import { postgresql } from './postgresql.js';
import { sqlite } from './sqlite.js';

const DIALECTS: Record<DialectModule['name'], DialectModule> = { sqlite, postgresql };

export function dialectFor(databaseUrl: string): DialectModule {
  return DIALECTS[dialectOf(databaseUrl)];
}
