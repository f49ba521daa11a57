// tessera keys …
import type { Command } from 'commander';
import { output, table, withAdmin } from './context.js';

export function keyCommands(program: Command): void {
  const keys = program.command('keys').description('JWT signing keys');

  keys
    .command('list')
    .description('list published signing keys')
    .action(async () => {
      const items = await withAdmin((admin) => admin.keys.list());
      output({ items }, () =>
        table([
          ['KID', 'ALG', 'STATUS', 'CREATED', 'PUBLISHED UNTIL'],
          ...items.map((k) => [k.kid, k.alg, k.status, k.created_at, k.published_until ?? '-']),
        ]),
      );
    });

  keys
    .command('rotate')
    .description('start signing with a new key; the old one stays published until its tokens expire')
    .action(async () => {
      const key = await withAdmin((admin) => admin.keys.rotate());
      output(key, () => `now signing with ${key.kid}`);
    });

  keys
    .command('revoke <kid>')
    .description('stop publishing a key at once (a compromised one): every token it signed stops verifying')
    .action(async (kid: string) => {
      const revoked = await withAdmin((admin) => admin.keys.revoke(kid));
      output(revoked, () => `revoked key ${kid}: tokens it signed no longer verify`);
    });
}
