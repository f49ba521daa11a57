// @tessera/verify as another repository gets it: `npm pack` in packages/verify, the tarball installed
// into a fresh project outside this one (from the npm registry or its cache, jose included), and a
// TypeScript consumer compiled against the packed types and run against a real Tessera.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registerClient } from './helpers/harness.ts';
import { accessToken, listeningTessera } from './helpers/verify-kit.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

const CONSUMER = `
import { createVerifier, TokenError, type Auth } from '@tessera/verify';

const verifier = createVerifier({
  issuer: process.env.ISSUER!,
  introspection: { clientId: process.env.CLIENT_ID!, clientSecret: process.env.CLIENT_SECRET! },
});
const auth: Auth = await verifier.verify(process.env.TOKEN, { scopes: ['read'] });
const refused = await verifier.verify('not.a.token').catch((error: unknown) => (error instanceof TokenError ? error.code : 'other'));
verifier.close();
console.log(JSON.stringify({ sub: auth.sub, scope: auth.scope, refused }));
`;

t.test('npm pack, npm install from the tarball, import and verify', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tessera-verify-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const npm = (args: string[], cwd: string) => run('npm', args, { cwd, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });

  const packed = JSON.parse((await npm(['pack', '--json', '--pack-destination', work], join(root, 'packages/verify'))).stdout) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed[0]!.files.map((f) => f.path).sort();
  t.ok(
    files.every((file) => file === 'package.json' || file === 'README.md' || file.startsWith('dist/')),
    'only dist/, the README and package.json',
  );
  t.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), 'the built module and its types');

  const consumer = join(work, 'consumer');
  mkdirSync(consumer);
  await npm(['init', '-y'], consumer);
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed[0]!.filename)], consumer);
  const installed = JSON.parse(readFileSync(join(consumer, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.ok(installed.dependencies['@tessera/verify'], 'a dependency of the new project');

  // Compiled with the project's TypeScript against the packed .d.ts (strict, Node's module rules).
  writeFileSync(join(consumer, 'check.mts'), CONSUMER);
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  await run(
    process.execPath,
    [
      tsc,
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      '--types',
      'node',
      'check.mts',
    ],
    { cwd: consumer },
  ).catch((error: { stdout?: string }) => {
    throw new Error(`the consumer does not compile: ${error.stdout}`);
  });

  const server = await listeningTessera(t);
  const app = await registerClient(server.tessera, { tokenFormat: 'jwt', scopes: ['read'] });
  const resourceServer = await registerClient(server.tessera, { introspect: true });
  const { stdout } = await run(process.execPath, ['check.mjs'], {
    cwd: consumer,
    timeout: 30_000,
    env: {
      ...process.env,
      ISSUER: server.issuer,
      CLIENT_ID: resourceServer.id,
      CLIENT_SECRET: resourceServer.secret!,
      TOKEN: await accessToken(server, app),
    },
  });
  t.same(
    JSON.parse(stdout),
    { sub: app.id, scope: ['read'], refused: 'invalid_token' },
    'verified a real token, refused a bad one, exited',
  );
});
