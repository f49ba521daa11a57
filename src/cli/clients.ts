// tessera client …
import { InvalidArgumentError, type Command } from 'commander';
import { describe, output, publicClient, table, withTessera, type GlobalOptions } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(/[\s,]+/).filter(Boolean)];

export function seconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number of seconds');
  return Number(value);
}

interface CreateOptions {
  name: string;
  public?: boolean;
  grant?: string[];
  scope?: string[];
  tokenFormat?: string;
  accessTtl?: number;
  refreshTtl?: number;
  audience?: string;
  redirectUri?: string[];
  introspect?: boolean;
  browser?: boolean;
}

export function clientCommands(program: Command, globals: () => GlobalOptions): void {
  const client = program.command('client').description('manage OAuth clients');

  client
    .command('create')
    .description("register a client; a confidential client's secret is shown once")
    .requiredOption('--name <name>', 'a name people recognise')
    .option('--public', 'a public client (no secret): browser or native app')
    .option('--grant <grant>', 'a grant it may use (repeatable): authorization_code, client_credentials, password, refresh_token', collect)
    .option('--scope <scope>', 'a scope it may ask for (repeatable)', collect)
    .option('--token-format <format>', 'access token format: opaque or jwt', 'opaque')
    .option('--access-ttl <seconds>', 'access token lifetime', seconds)
    .option('--refresh-ttl <seconds>', 'refresh token lifetime', seconds)
    .option('--audience <aud>', 'aud of its JWT access tokens (default: the issuer)')
    .option('--redirect-uri <uri>', 'a redirect URI for authorization_code (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--introspect', "allowed to introspect other clients' tokens")
    .option('--browser', 'browser client: refresh token in an HttpOnly cookie')
    .action(async (opts: CreateOptions) => {
      const { client: created, secret } = await withTessera((t) =>
        t.clients.register({
          name: opts.name,
          public: opts.public,
          grants: opts.grant,
          scopes: opts.scope,
          tokenFormat: opts.tokenFormat,
          accessTtl: opts.accessTtl,
          refreshTtl: opts.refreshTtl,
          audience: opts.audience,
          redirectUris: opts.redirectUri,
          introspect: opts.introspect,
          browser: opts.browser,
        }),
      );
      const shown = { ...publicClient(created), ...(secret ? { client_secret: secret } : {}) };
      output(globals(), shown, () =>
        [
          describe(publicClient(created)),
          ...(secret ? ['', `client_secret: ${secret}`, 'Store the secret now: it is not shown again.'] : []),
        ].join('\n'),
      );
    });

  client
    .command('list')
    .description('list clients')
    .action(async () => {
      const clients = await withTessera((t) => t.clients.list());
      output(globals(), clients.map(publicClient), () =>
        clients.length === 0
          ? 'no clients'
          : table([
              ['CLIENT_ID', 'NAME', 'TYPE', 'GRANTS', 'FORMAT'],
              ...clients.map((c) => [c.id, c.name, c.secretDigest === null ? 'public' : 'confidential', c.grants.join(','), c.tokenFormat]),
            ]),
      );
    });

  client
    .command('show <client_id>')
    .description('show one client')
    .action(async (id: string) => {
      const found = await withTessera((t) => t.clients.get(id));
      output(globals(), publicClient(found), () => describe(publicClient(found)));
    });

  client
    .command('rotate-secret <client_id>')
    .description("replace a confidential client's secret; the old one stops working at once")
    .action(async (id: string) => {
      const secret = await withTessera((t) => t.clients.rotateSecret(id));
      output(
        globals(),
        { client_id: id, client_secret: secret },
        () => `client_secret: ${secret}\nStore the secret now: it is not shown again.`,
      );
    });

  client
    .command('delete <client_id>')
    .description('delete a client and every token issued to it')
    .action(async (id: string) => {
      await withTessera((t) => t.clients.delete(id));
      output(globals(), { client_id: id, deleted: true }, () => `deleted client ${id}`);
    });
}
