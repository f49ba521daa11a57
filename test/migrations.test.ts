// The migrations folder of this dialect holds everything the schema says (nothing pending), so
// a database migrated by Tessera matches prisma/models.prisma exactly.
import t from 'tap';
import { pendingMigration } from '../scripts/migration-tools.ts';
import { dialect } from './helpers/harness.ts';

t.test(`${dialect} migrations are in step with the schema`, async (t) => {
  const pending = await pendingMigration(dialect, 'check');
  t.equal(pending?.migrationScript ?? null, null, 'creating a migration now would find nothing to do');
});
