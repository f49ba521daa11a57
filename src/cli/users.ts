// tessera user …
import type { Command } from 'commander';
import type { UserPatchBody, UserView } from '../admin/api.js';
import { AdminError } from '../domain/errors.js';
import { describe, listed, more, output, pageLength, readPassword, table, withAdmin } from './context.js';

const repeat = (value: string, previous: string[] = []) => [...previous, value];

interface ProfileOptions {
  email?: string | false;
  name?: string | false;
  emailVerified?: boolean;
  role?: string[];
  group?: string[];
  /** false with --no-roles, --no-groups. */
  roles?: boolean;
  groups?: boolean;
}

/** The profile fields the options set (absent options leave a field as it is). */
function profileOf(opts: ProfileOptions): UserPatchBody {
  if (opts.roles === false && opts.role) throw new AdminError('give --role or --no-roles, not both');
  if (opts.groups === false && opts.group) throw new AdminError('give --group or --no-groups, not both');
  const body: UserPatchBody = {};
  if (opts.email !== undefined) body.email = opts.email === false ? null : opts.email;
  if (opts.name !== undefined) body.name = opts.name === false ? null : opts.name;
  if (opts.emailVerified !== undefined) body.email_verified = opts.emailVerified;
  if (opts.role || opts.roles === false) body.roles = opts.role ?? [];
  if (opts.group || opts.groups === false) body.groups = opts.group ?? [];
  return body;
}

const shownUser = (user: UserView) => describe({ ...user });

export function userCommands(program: Command): void {
  const user = program.command('user').description('manage users');

  user
    .command('create <username>')
    .description('create a user (asks for the password, or reads it with --password-stdin)')
    .option('--email <email>', 'email address')
    .option('--email-verified', 'the email address is known to be theirs')
    .option('--name <name>', 'full name')
    .option('--role <role>', 'a role (repeatable)', repeat)
    .option('--group <group>', 'a group (repeatable)', repeat)
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: ProfileOptions & { passwordStdin?: boolean }) => {
      const password = await readPassword(opts.passwordStdin);
      const created = await withAdmin((admin) => admin.users.create({ username, password, ...profileOf(opts) }));
      output(created, () => `created user ${created.username} (${created.id})`);
    });

  user
    .command('list')
    .description('list users (all of them, or one page with --limit)')
    .option('--limit <n>', 'one page of at most n users', pageLength)
    .option('--cursor <cursor>', 'start after the page that gave this cursor')
    .action(async (opts: { limit?: number; cursor?: string }) => {
      const page = await withAdmin((admin) => listed((query) => admin.users.list(query), opts));
      output(page, () =>
        page.items.length === 0
          ? 'no users'
          : [
              table([
                ['USERNAME', 'ID', 'EMAIL', 'ACTIVE', 'ROLES'],
                ...page.items.map((u) => [u.username, u.id, u.email ?? '-', u.active ? 'yes' : 'no', u.roles.join(',') || '-']),
              ]),
              ...more(page, 'user list'),
            ].join('\n'),
      );
    });

  user
    .command('show <user>')
    .description('show one user (by username or id)')
    .action(async (name: string) => {
      const found = await withAdmin((admin) => admin.users.get(name));
      output(found, () => shownUser(found));
    });

  user
    .command('update <user>')
    .description("change a user's profile; --role and --group replace the lists")
    .option('--email <email>', 'email address')
    .option('--no-email', 'remove the email address')
    .option('--email-verified', 'the email address is known to be theirs')
    .option('--no-email-verified', 'the email address is not verified')
    .option('--name <name>', 'full name')
    .option('--no-name', 'remove the name')
    .option('--role <role>', 'a role (repeatable): the new list', repeat)
    .option('--no-roles', 'remove every role')
    .option('--group <group>', 'a group (repeatable): the new list', repeat)
    .option('--no-groups', 'remove every group')
    .action(async (name: string, opts: ProfileOptions) => {
      const body = profileOf(opts);
      if (Object.keys(body).length === 0) throw new AdminError('nothing to change: see `tessera user update --help`');
      const updated = await withAdmin((admin) => admin.users.update(name, body));
      output(updated, () => shownUser(updated));
    });

  for (const [command, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    user
      .command(`${command} <user>`)
      .description(active ? 'let the user sign in again' : 'stop the user signing in; their tokens stop working at once')
      .action(async (name: string) => {
        const changed = await withAdmin((admin) => admin.users.update(name, { active }));
        output(changed, () => `${changed.username} is ${active ? 'active' : 'inactive'}`);
      });
  }

  user
    .command('set-password <user>')
    .description("set a user's password (asks for it, or reads it with --password-stdin); their tokens stop working")
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { passwordStdin?: boolean }) => {
      const password = await readPassword(opts.passwordStdin);
      const changed = await withAdmin((admin) => admin.users.update(name, { password }));
      output(changed, () => `password of ${changed.username} changed`);
    });

  user
    .command('delete <user>')
    .description('delete a user and everything issued to them')
    .action(async (name: string) => {
      await withAdmin((admin) => admin.users.delete(name));
      output({ user: name, deleted: true }, () => `deleted user ${name}`);
    });

  user
    .command('consents <user>')
    .description('the third-party clients the user approved, with the scopes; --revoke withdraws one')
    .option('--revoke <client_id>', 'withdraw the approval of this client: the user is asked again, and their grants with it end')
    .action(async (name: string, opts: { revoke?: string }) => {
      const clientId = opts.revoke;
      if (clientId !== undefined) {
        await withAdmin((admin) => admin.users.revokeConsent(name, clientId));
        output(
          { revoked: true, user: name, client_id: clientId },
          () => `${name}'s approval of client ${clientId} is withdrawn; their grants with it ended`,
        );
        return;
      }
      const { items } = await withAdmin((admin) => listed((query) => admin.users.consents(name, query), {}));
      output({ consents: items }, () =>
        items.length === 0
          ? `${name} has approved no client`
          : table([
              ['CLIENT_ID', 'NAME', 'SCOPES', 'APPROVED'],
              ...items.map((c) => [c.client_id, c.client_name, c.scopes.join(' ') || '-', c.updated_at]),
            ]),
      );
    });
}
