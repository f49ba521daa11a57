// tessera client …
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { ClientSettingsBody, ClientView, ClientWithSecret, JwkSetJson } from '../admin/api.js';
import { withoutUndefined } from '../domain/clients.js';
import { AdminError } from '../domain/errors.js';
import { GRANTS } from '../oauth/grants/index.js';
import { describe, listed, more, output, pageLength, seconds, table, withAdmin } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(/[\s,]+/).filter(Boolean)];
const repeat = (value: string, previous: string[] = []) => [...previous, value];

function tokenFormat(value: string): 'opaque' | 'jwt' {
  if (value !== 'opaque' && value !== 'jwt') throw new InvalidArgumentError('opaque or jwt');
  return value;
}

/** The options of `client create` and `client update`. */
interface ClientOptions {
  name?: string;
  public?: boolean;
  confidential?: boolean;
  grant?: string[];
  scope?: string[];
  tokenFormat?: 'opaque' | 'jwt';
  accessTtl?: number;
  refreshTtl?: number;
  maxSession?: number;
  /** false with --no-audience. */
  audience?: string | false;
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  /** false with --no-post-logout-redirect-uris. */
  postLogoutRedirectUris?: boolean;
  origin?: string[];
  introspect?: boolean;
  consent?: boolean;
  browser?: boolean;
  admin?: boolean;
  /** A file holding the JWK Set. */
  jwks?: string;
  jwksUri?: string;
  /** false with --no-keys. */
  keys?: boolean;
}

/** The JWK Set in the file, as JSON; what it holds is checked where the client is registered. */
function readJwksFile(file: string): JwkSetJson {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AdminError(`--jwks: cannot read "${file}" (${String((error as { code?: unknown }).code ?? error)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AdminError(`--jwks: the JWK Set is not JSON ("${file}")`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw new AdminError(`--jwks: "${file}" is not a JWK Set: a JSON object with "keys", an array of keys (RFC 7517 §5)`);
  }
  return parsed as JwkSetJson;
}

/** The settings the options give (absent options are absent: on update, they stay as they are). */
function settingsOf(opts: ClientOptions): ClientSettingsBody {
  if (opts.public && opts.confidential) throw new AdminError('give --public or --confidential, not both');
  if (opts.keys === false && (opts.jwks !== undefined || opts.jwksUri !== undefined))
    throw new AdminError('give --no-keys or --jwks/--jwks-uri, not both');
  if (opts.postLogoutRedirectUris === false && opts.postLogoutRedirectUri)
    throw new AdminError('give --post-logout-redirect-uri or --no-post-logout-redirect-uris, not both');
  const body: ClientSettingsBody = {
    name: opts.name,
    public: opts.public ? true : opts.confidential ? false : undefined,
    grants: opts.grant,
    scopes: opts.scope,
    token_format: opts.tokenFormat,
    access_ttl: opts.accessTtl,
    refresh_ttl: opts.refreshTtl,
    max_session: opts.maxSession,
    audience: opts.audience === false ? null : opts.audience,
    redirect_uris: opts.redirectUri,
    post_logout_redirect_uris: opts.postLogoutRedirectUris === false ? [] : opts.postLogoutRedirectUri,
    origins: opts.origin,
    introspect: opts.introspect,
    consent: opts.consent,
    browser: opts.browser,
    admin: opts.admin,
    jwks: opts.keys === false ? null : opts.jwks === undefined ? undefined : readJwksFile(opts.jwks),
    jwks_uri: opts.keys === false ? null : opts.jwksUri,
  };
  return withoutUndefined(body);
}

/** A client for people: its keys counted rather than shown. */
function shownClient(client: ClientView | ClientWithSecret): string {
  const { client_secret: secret, jwks, ...settings } = client as ClientWithSecret;
  const keys = jwks === null ? null : `${jwks.keys.length} key${jwks.keys.length === 1 ? '' : 's'}`;
  return [
    describe({ ...settings, jwks: keys }),
    ...(secret ? ['', `client_secret: ${secret}`, 'Store the secret now: it is not shown again.'] : []),
  ].join('\n');
}

/** The options that set a client's settings: required name, defaults and flags for create; every one optional for update. */
function settingsOptions(command: Command, update: boolean): Command {
  if (update) command.option('--name <name>', 'a name people recognise');
  else command.requiredOption('--name <name>', 'a name people recognise');
  command.option('--public', 'a public client (no secret): browser or native app');
  if (update) command.option('--confidential', 'a confidential client: it gets a secret (shown once) unless it has keys');
  command
    .option('--grant <grant>', `a grant it may use (repeatable): ${GRANTS.map((grant) => grant.name).join(', ')}`, collect)
    .option('--scope <scope>', 'a scope it may ask for (repeatable)', collect)
    .option('--token-format <format>', 'access token format: opaque (default) or jwt', tokenFormat)
    .option('--access-ttl <seconds>', 'access token lifetime (default 300)', seconds)
    .option('--refresh-ttl <seconds>', 'refresh token lifetime (default 86400)', seconds)
    .option('--max-session <seconds>', 'absolute lifetime of a sign-in: no refresh token outlives it (default 30 days)', seconds)
    .option('--audience <aud>', 'aud of its access tokens (default: the issuer)');
  if (update) command.option('--no-audience', 'back to the default audience, the issuer');
  command
    .option('--redirect-uri <uri>', 'a redirect URI for authorization_code (repeatable)', repeat)
    .option('--post-logout-redirect-uri <uri>', 'where /logout may send the browser back (OpenID Connect; repeatable)', repeat);
  if (update) command.option('--no-post-logout-redirect-uris', 'remove every post-logout redirect URI');
  command
    .option('--origin <origin>', 'a browser origin allowed besides those of the redirect URIs (repeatable)', repeat)
    .option('--introspect', "allowed to introspect other clients' tokens");
  if (update) command.option('--no-introspect', "not allowed to introspect other clients' tokens");
  command.option('--consent', 'third-party: users approve its scopes on a consent page, once');
  if (update) command.option('--no-consent', 'first-party: users are not asked to approve its scopes');
  command.option('--browser', 'browser client: refresh token in an HttpOnly cookie');
  if (update) command.option('--no-browser', 'not a browser client');
  command.option('--admin', 'may use the admin API (scope tessera:admin, by client_credentials)');
  if (update) command.option('--no-admin', 'may not use the admin API');
  command
    .option('--jwks <file>', 'its public keys, a JWK Set in a file: it authenticates with private_key_jwt, without a secret')
    .option('--jwks-uri <url>', 'where it publishes its JWK Set (instead of --jwks)');
  if (update) command.option('--no-keys', 'drop its keys: it authenticates with a secret (shown once)');
  return command;
}

export function clientCommands(program: Command): void {
  const client = program.command('client').description('manage OAuth clients');

  settingsOptions(client.command('create').description("register a client; a confidential client's secret is shown once"), false).action(
    async (opts: ClientOptions) => {
      const settings = settingsOf(opts);
      const created = await withAdmin((admin) => admin.clients.create({ ...settings, name: opts.name! }));
      output(created, () => shownClient(created));
    },
  );

  client
    .command('list')
    .description('list clients (all of them, or one page with --limit)')
    .option('--limit <n>', 'one page of at most n clients', pageLength)
    .option('--cursor <cursor>', 'start after the page that gave this cursor')
    .action(async (opts: { limit?: number; cursor?: string }) => {
      const page = await withAdmin((admin) => listed((query) => admin.clients.list(query), opts));
      output(page, () =>
        page.items.length === 0
          ? 'no clients'
          : [
              table([
                ['CLIENT_ID', 'NAME', 'TYPE', 'GRANTS', 'FORMAT'],
                ...page.items.map((c) => [c.client_id, c.name, c.admin ? `${c.type},admin` : c.type, c.grants.join(','), c.token_format]),
              ]),
              ...more(page, 'client list'),
            ].join('\n'),
      );
    });

  client
    .command('show <client_id>')
    .description('show one client')
    .action(async (id: string) => {
      const found = await withAdmin((admin) => admin.clients.get(id));
      output(found, () => shownClient(found));
    });

  settingsOptions(
    client
      .command('update <client_id>')
      .description('change settings in place (the lists given replace the lists); narrowing scopes or grants ends its tokens'),
    true,
  ).action(async (id: string, opts: ClientOptions) => {
    const settings = settingsOf(opts);
    if (Object.keys(settings).length === 0) throw new AdminError('nothing to change: see `tessera client update --help`');
    const updated = await withAdmin((admin) => admin.clients.update(id, settings));
    output(updated, () => shownClient(updated));
  });

  client
    .command('rotate-secret <client_id>')
    .description("replace a confidential client's secret, shown once; the old one stops at once, or after --grace")
    .option('--grace <seconds>', 'keep the old secret working this long (at most 604800, 7 days)', seconds)
    .action(async (id: string, opts: { grace?: number }) => {
      const rotation = await withAdmin((admin) =>
        admin.clients.rotateSecret(id, opts.grace === undefined ? {} : { grace_seconds: opts.grace }),
      );
      output(rotation, () =>
        [
          `client_secret: ${rotation.client_secret}`,
          rotation.previous_secret_expires_at
            ? `The old secret works until ${rotation.previous_secret_expires_at}.`
            : 'The old secret no longer works.',
          'Store the secret now: it is not shown again.',
        ].join('\n'),
      );
    });

  client
    .command('delete <client_id>')
    .description('delete a client and every token issued to it')
    .action(async (id: string) => {
      await withAdmin((admin) => admin.clients.delete(id));
      output({ client_id: id, deleted: true }, () => `deleted client ${id}`);
    });

  client
    .command('registration-token')
    .description('initial access tokens for dynamic client registration (POST /register)')
    .command('create')
    .description('create an initial access token, shown once')
    .option('--ttl <seconds>', 'how long it can be used (default 86400, one day)', seconds)
    .option('--max-uses <n>', 'how many clients it may register (default: any number until it expires)', (value: string) => {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('a whole number from 1');
      return Number(value);
    })
    .action(async (opts: { ttl?: number; maxUses?: number }) => {
      const created = await withAdmin((admin) =>
        admin.registrationTokens.create({
          ...(opts.ttl !== undefined && { ttl: opts.ttl }),
          ...(opts.maxUses !== undefined && { max_uses: opts.maxUses }),
        }),
      );
      output(created, () =>
        [
          describe({ ...created }),
          '',
          'Store the token now: it is not shown again. Send it as `Authorization: Bearer …` to POST /register.',
        ].join('\n'),
      );
    });
}
