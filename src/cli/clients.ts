// tessera client …
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isPublicClient, type ClientRegistration } from '../domain/clients.js';
import { AdminError } from '../domain/errors.js';
import { GRANTS } from '../oauth/grants/index.js';
import { describe, output, publicClient, seconds, table, withTessera, type GlobalOptions } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(/[\s,]+/).filter(Boolean)];

/** The options of `client create`: the registration's fields, some under their flag's name. */
type CreateOptions = Omit<ClientRegistration, 'grants' | 'scopes' | 'redirectUris' | 'origins' | 'jwks'> & {
  grant?: string[];
  scope?: string[];
  redirectUri?: string[];
  origin?: string[];
  /** A file holding the JWK Set. */
  jwks?: string;
};

/** The JWK Set file's text; the registration checks what it holds. */
function readJwksFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new AdminError(`--jwks: cannot read "${file}" (${String((error as { code?: unknown }).code ?? error)})`);
  }
}

export function clientCommands(program: Command, globals: () => GlobalOptions): void {
  const client = program.command('client').description('manage OAuth clients');

  client
    .command('create')
    .description("register a client; a confidential client's secret is shown once")
    .requiredOption('--name <name>', 'a name people recognise')
    .option('--public', 'a public client (no secret): browser or native app')
    .option('--grant <grant>', `a grant it may use (repeatable): ${GRANTS.map((grant) => grant.name).join(', ')}`, collect)
    .option('--scope <scope>', 'a scope it may ask for (repeatable)', collect)
    .option('--token-format <format>', 'access token format: opaque or jwt', 'opaque')
    .option('--access-ttl <seconds>', 'access token lifetime', seconds)
    .option('--refresh-ttl <seconds>', 'refresh token lifetime', seconds)
    .option('--max-session <seconds>', 'absolute lifetime of a sign-in: no refresh token outlives it (default 30 days)', seconds)
    .option('--audience <aud>', 'aud of its JWT access tokens (default: the issuer)')
    .option('--redirect-uri <uri>', 'a redirect URI for authorization_code (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option(
      '--origin <origin>',
      'a browser origin allowed besides those of the redirect URIs (repeatable)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('--introspect', "allowed to introspect other clients' tokens")
    .option('--browser', 'browser client: refresh token in an HttpOnly cookie')
    .option('--jwks <file>', 'its public keys, a JWK Set in a file: it authenticates with private_key_jwt, without a secret')
    .option('--jwks-uri <url>', 'where it publishes its JWK Set (instead of --jwks)')
    .action(async ({ grant, scope, redirectUri, origin, jwks, ...fields }: CreateOptions) => {
      const registration = {
        ...fields,
        grants: grant,
        scopes: scope,
        redirectUris: redirectUri,
        origins: origin,
        jwks: jwks === undefined ? undefined : readJwksFile(jwks),
      };
      const { client: created, secret } = await withTessera((t) => t.clients.register(registration));
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
              ...clients.map((c) => [c.id, c.name, isPublicClient(c) ? 'public' : 'confidential', c.grants.join(','), c.tokenFormat]),
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
