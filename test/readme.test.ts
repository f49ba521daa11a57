// The README's walkthrough, run verbatim with bash against a freshly started server on port 3000
// (the port the README names), with the admin command on the same database.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testDatabase } from './helpers/harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function walkthrough(): string {
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const section = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1] ?? '';
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

const portFree = () =>
  fetch('http://127.0.0.1:3000/healthz').then(
    () => false,
    () => true,
  );

t.test('the README walkthrough works verbatim', async (t) => {
  const script = walkthrough();
  t.ok(script.split('\n').length > 20, 'found the walkthrough');
  t.ok(await portFree(), 'port 3000 is free for the walkthrough server');
  const db = await testDatabase(t);
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    TESSERA_DATA_DIR: db.dataDir,
    TESSERA_SECRET: 'readme-secret-readme-secret-readme-0123',
    PORT: '3000',
    LOG_LEVEL: 'warn',
  };
  const server = spawn(process.execPath, ['bin/tessera.js', 'serve'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => server.on('exit', resolve));
  t.teardown(async () => {
    server.kill('SIGTERM');
    await exited;
  });
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    await new Promise((r) => setTimeout(r, 100));
    up = await fetch('http://127.0.0.1:3000/healthz').then(
      (r) => r.ok,
      () => false,
    );
  }
  t.ok(up, 'the server is up');

  const run = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const bash = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: root, env });
    let out = '';
    let err = '';
    bash.stdout.on('data', (d) => (out += d));
    bash.stderr.on('data', (d) => (err += d));
    bash.on('close', (code) => resolve({ code, out, err }));
  });
  t.equal(run.code, 0, `every command succeeded${run.code ? `:\n${run.err}` : ''}`);
  t.match(run.out, /"token_type":"Bearer"/, 'tokens were issued');
  t.match(run.out, /"refresh_token": "tsr_/, 'the password grant returned a refresh token');
  t.match(run.out, /"active":true,"sub"/, 'verify said active');
  t.match(run.out, /"token_type": "refresh_token"/, 'the refresh token introspected');
  t.match(run.out, /\{"active":false\}/, 'after revocation the access token is inactive at introspection');
  t.match(run.out, /"error":"invalid_token"/, 'and invalid at verify');
  t.match(run.out, /"aud": "https:\/\/api.example.com"/, 'the JWT carries its audience');
  t.match(run.out, /"kty": "EC"/, 'the JWKS was shown');
  t.match(run.out, /"issuer": "http:\/\/localhost:3000"/, 'the metadata was shown');
  t.match(run.out, /"scope": "notes:read"/, 'the authorization code was exchanged');
  t.match(run.out, /"end_session_endpoint": "http:\/\/localhost:3000\/logout"/, 'the OpenID discovery document was shown');
  t.match(run.out, /"auth_time": \d+/, 'the ID token was decoded');
  t.match(run.out, /"nonce": "[0-9a-f]{32}"/, 'and carries the nonce');
  t.match(run.out, /"preferred_username": "alice"/, '/userinfo answered');
  t.match(run.out, /http:\/\/127\.0\.0\.1:8080\/signed-out\?state=bye/, 'logout sent the browser back with its state');
  t.match(run.out, /now signing with/, 'the key rotated');
  t.match(run.out, /signing[\s\S]*retired|retired[\s\S]*signing/, 'both keys listed');
});
