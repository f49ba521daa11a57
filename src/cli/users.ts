// tessera user …
import type { Command } from 'commander';
import { describe, output, publicUser, readPassword, table, withTessera, type GlobalOptions } from './context.js';

export function userCommands(program: Command, globals: () => GlobalOptions): void {
  const user = program.command('user').description('manage users');

  user
    .command('create <username>')
    .description('create a user (asks for the password, or reads it with --password-stdin)')
    .option('--email <email>', 'email address')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: { email?: string; passwordStdin?: boolean }) => {
      const password = await readPassword(opts.passwordStdin);
      const created = await withTessera((t) => t.users.create(username, opts.email, password));
      output(globals(), publicUser(created), () => `created user ${created.username} (${created.id})`);
    });

  user
    .command('list')
    .description('list users')
    .action(async () => {
      const users = await withTessera((t) => t.users.list());
      output(globals(), users.map(publicUser), () =>
        users.length === 0
          ? 'no users'
          : table([
              ['USERNAME', 'ID', 'EMAIL', 'ACTIVE'],
              ...users.map((u) => [u.username, u.id, u.email ?? '-', u.active ? 'yes' : 'no']),
            ]),
      );
    });

  user
    .command('show <username>')
    .description('show one user')
    .action(async (username: string) => {
      const found = await withTessera((t) => t.users.get(username));
      output(globals(), publicUser(found), () => describe(publicUser(found)));
    });

  for (const [name, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    user
      .command(`${name} <username>`)
      .description(active ? 'let the user sign in again' : 'stop the user signing in; their tokens stop working at once')
      .action(async (username: string) => {
        const changed = await withTessera((t) => t.users.setActive(username, active));
        output(globals(), publicUser(changed), () => `${username} is ${active ? 'active' : 'inactive'}`);
      });
  }

  user
    .command('set-password <username>')
    .description("set a user's password; their refresh tokens stop working")
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: { passwordStdin?: boolean }) => {
      const password = await readPassword(opts.passwordStdin);
      await withTessera((t) => t.users.setPassword(username, password));
      output(globals(), { username, password_changed: true }, () => `password of ${username} changed`);
    });

  user
    .command('delete <username>')
    .description('delete a user and everything issued to them')
    .action(async (username: string) => {
      await withTessera((t) => t.users.delete(username));
      output(globals(), { username, deleted: true }, () => `deleted user ${username}`);
    });
}
