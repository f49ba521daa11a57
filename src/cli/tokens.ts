// tessera token …
import type { Command } from 'commander';
import { AdminError } from '../domain/errors.js';
import { issueAdminToken } from '../oauth/admin-token.js';
import { secondsUntil } from '../tokens/minter.js';
import { describe, output, readToken, seconds, withTessera, type GlobalOptions } from './context.js';

export function tokenCommands(program: Command, globals: () => GlobalOptions): void {
  const token = program.command('token').description('issue, revoke and prune tokens');

  token
    .command('create')
    .description('issue an access token for a user from the command line')
    .requiredOption('--user <username>', 'the user the token speaks for')
    .requiredOption('--client <client_id>', 'the client it is issued to (its format, scopes and audience apply)')
    .option('--scope <scope>', "scope (repeatable; default: all of the client's)", (v: string, p: string[] = []) => [
      ...p,
      ...v.split(' ').filter(Boolean),
    ])
    .option('--ttl <seconds>', "lifetime (default: the client's access token lifetime)", seconds)
    .action(async (opts: { user: string; client: string; scope?: string[]; ttl?: number }) => {
      const { minted, scope, client, user } = await withTessera((t) =>
        issueAdminToken(t, { username: opts.user, clientId: opts.client, scopes: opts.scope, ttl: opts.ttl }),
      );
      const issued = {
        access_token: minted.token,
        token_type: 'Bearer',
        expires_in: secondsUntil(minted.expiresAt),
        scope,
        client_id: client.id,
        username: user.username,
      };
      output(globals(), issued, () => describe(issued));
    });

  token
    .command('revoke')
    .description('revoke one token, read from stdin (never from the command line), or with --user everything a user holds')
    .option('--stdin', 'read the token from stdin (the default without --user)')
    .option('--user <username>', 'revoke every token of this user')
    .argument('[token]', 'refused: a token on the command line leaks into shell history and `ps`')
    .action(async (onCommandLine: string | undefined, opts: { stdin?: boolean; user?: string }) => {
      if (onCommandLine !== undefined) throw new AdminError('pass the token on stdin (`--stdin`), not on the command line');
      if (opts.stdin && opts.user !== undefined) throw new AdminError('give either --stdin or --user, not both');
      if (opts.user !== undefined) {
        const username = opts.user;
        await withTessera((t) => t.users.revokeEverything(username));
        output(globals(), { username, revoked: 'all' }, () => `revoked every token of ${username}`);
        return;
      }
      const value = await readToken();
      const outcome = await withTessera((t) => t.revocation.revoke(value, null));
      if (outcome === 'not-found') throw new AdminError('no such active token (unknown, expired, or not issued here)');
      output(globals(), { revoked: true }, () => 'token revoked');
    });

  token
    .command('prune')
    .description('delete expired and long-revoked rows now')
    .action(async () => {
      const counts = await withTessera((t) => t.store.prune(new Date()));
      output(globals(), counts, () => describe(counts));
    });
}
