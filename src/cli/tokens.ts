// tessera token …
import type { Command } from 'commander';
import type { RevokeBody } from '../admin/api.js';
import { AdminError, NoSuchError } from '../domain/errors.js';
import { describe, output, readToken, seconds, withAdmin } from './context.js';

export function tokenCommands(program: Command): void {
  const token = program.command('token').description('issue, revoke and prune tokens');

  token
    .command('create')
    .description('issue an access token for a user from the command line')
    .requiredOption('--user <user>', 'the user the token speaks for (username or id)')
    .requiredOption('--client <client_id>', 'the client it is issued to (its format, scopes and audience apply)')
    .option('--scope <scope>', "scope (repeatable; default: all of the client's)", (v: string, p: string[] = []) => [
      ...p,
      ...v.split(' ').filter(Boolean),
    ])
    .option('--ttl <seconds>', "lifetime (default: the client's access token lifetime)", seconds)
    .action(async (opts: { user: string; client: string; scope?: string[]; ttl?: number }) => {
      const issued = await withAdmin((admin) =>
        admin.tokens.create({
          user: opts.user,
          client_id: opts.client,
          ...(opts.scope && { scopes: opts.scope }),
          ...(opts.ttl !== undefined && { ttl: opts.ttl }),
        }),
      );
      output(issued, () => describe({ ...issued }));
    });

  token
    .command('revoke')
    .description('revoke one token (read from stdin, never the command line), every token of a user, or of a client')
    .option('--stdin', 'read the token from stdin (the default without --user and --client)')
    .option('--user <user>', 'revoke every token of this user (username or id)')
    .option('--client <client_id>', 'revoke every token issued to this client')
    .argument('[token]', 'refused: a token on the command line leaks into shell history and `ps`')
    .action(async (onCommandLine: string | undefined, opts: { stdin?: boolean; user?: string; client?: string }) => {
      if (onCommandLine !== undefined) throw new AdminError('pass the token on stdin (`--stdin`), not on the command line');
      const given = [opts.stdin && '--stdin', opts.user !== undefined && '--user', opts.client !== undefined && '--client'].filter(Boolean);
      if (given.length > 1) throw new AdminError(`give one of --stdin, --user and --client, not ${given.join(' and ')}`);
      const body: RevokeBody =
        opts.user !== undefined
          ? { user: opts.user }
          : opts.client !== undefined
            ? { client_id: opts.client }
            : { token: await readToken() };
      const result = await withAdmin((admin) => admin.tokens.revoke(body));
      if (result.revoked === 'token' && !result.found) throw new NoSuchError('no such active token (unknown, expired, or not issued here)');
      output(result, () =>
        result.revoked === 'user'
          ? `revoked every token of ${opts.user}`
          : result.revoked === 'client'
            ? `revoked every token issued to ${result.client_id}`
            : 'token revoked',
      );
    });

  token
    .command('prune')
    .description('delete expired and long-revoked rows now')
    .action(async () => {
      const counts = await withAdmin((admin) => admin.tokens.prune());
      output(counts, () => describe(counts));
    });
}
