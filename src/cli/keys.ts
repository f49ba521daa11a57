// tessera keys …
import type { Command } from 'commander';
import { AdminError } from '../domain/errors.js';
import { output, table, withTessera, type GlobalOptions } from './context.js';

export function keyCommands(program: Command, globals: () => GlobalOptions): void {
  const keys = program.command('keys').description('JWT signing keys');

  keys
    .command('list')
    .description('list published signing keys')
    .action(async () => {
      const records = await withTessera(async (t) => t.keys.list());
      const rows = records.map((k) => ({
        kid: k.kid,
        alg: k.alg,
        status: k.retiredAt ? 'retired' : 'signing',
        created_at: k.createdAt.toISOString(),
        published_until: k.publishUntil?.toISOString() ?? null,
      }));
      output(globals(), rows, () =>
        table([
          ['KID', 'ALG', 'STATUS', 'CREATED', 'PUBLISHED UNTIL'],
          ...rows.map((r) => [r.kid, r.alg, r.status, r.created_at, r.published_until ?? '-']),
        ]),
      );
    });

  keys
    .command('revoke <kid>')
    .description('stop publishing a key at once (a compromised one): every token it signed stops verifying')
    .action(async (kid: string) => {
      const revoked = await withTessera((t) => t.revokeKey(kid));
      if (!revoked) throw new AdminError(`no published key "${kid}"`);
      output(globals(), { kid, revoked: true }, () => `revoked key ${kid}: tokens it signed no longer verify`);
    });

  keys
    .command('rotate')
    .description('start signing with a new key; the old one stays published until its tokens expire')
    .action(async () => {
      const kid = await withTessera((t) => t.rotateKeys());
      output(globals(), { kid }, () => `now signing with ${kid}`);
    });
}
