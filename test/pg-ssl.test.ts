// sslmode and sslrootcert do what libpq does (security review 2026-11, finding 8): the mapping to
// node-postgres's TLS options and the start-up errors, then what each mode accepts from a stand-in
// server that speaks just enough of PostgreSQL's protocol to start TLS (the local PostgreSQL has
// none), through each way Tessera connects: the pool, the LISTEN connection and the migrations.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ConfigError } from '../src/config.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { pgPoolConfig, pgTls, postgresql } from '../src/store/dialects/postgresql.ts';

const bin = fileURLToPath(new URL('../bin/tessera.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-ssl-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n(a stand-in: only read here)\n-----END CERTIFICATE-----\n');

/** `fn` throws a ConfigError (a one-line start-up error) whose message matches. */
function throwsConfigError(t: Test, fn: () => unknown, message: string | RegExp, what: string) {
  try {
    fn();
    t.fail(`${what}: no error`);
  } catch (error) {
    t.type(error, ConfigError, what);
    t.match((error as Error).message, message, what);
  }
}

const tlsOf = (query: string, host = 'db.example') => pgTls(new URL(`postgresql://tessera@${host}:5432/tessera?${query}`));

t.test('sslmode and sslrootcert map to TLS options as libpq reads them', async (t) => {
  t.equal(tlsOf('').ssl, undefined, 'no sslmode: node-postgres decides (PGSSLMODE, else plain)');
  t.equal(tlsOf('sslmode=disable').ssl, false, 'disable: plain');
  t.equal(tlsOf('sslmode=allow').ssl, false, "allow: plain (libpq's first choice)");

  for (const mode of ['prefer', 'require']) {
    const { ssl, warning } = tlsOf(`sslmode=${mode}`);
    t.same(ssl, { rejectUnauthorized: false }, `${mode}: encrypted, any certificate`);
    t.match(warning, /does not verify the server's certificate/, `${mode}: the operator is warned`);
  }

  const verifyCa = tlsOf(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(caFile)}`);
  t.match(verifyCa.ssl, { rejectUnauthorized: true }, 'verify-ca: the chain is checked');
  t.same((verifyCa.ssl as tls.ConnectionOptions).ca, readFileSync(caFile), 'against the sslrootcert file');
  const checkIdentity = (verifyCa.ssl as tls.ConnectionOptions).checkServerIdentity;
  t.type(checkIdentity, 'function');
  t.equal(checkIdentity?.('elsewhere.example', {} as tls.PeerCertificate), undefined, 'verify-ca: no host name check');
  t.equal(verifyCa.warning, undefined);

  const verifyFull = tlsOf(`sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`);
  t.match(verifyFull.ssl, { rejectUnauthorized: true }, 'verify-full: the chain is checked');
  t.same((verifyFull.ssl as tls.ConnectionOptions).ca, readFileSync(caFile));
  t.notOk((verifyFull.ssl as tls.ConnectionOptions).checkServerIdentity, "verify-full: Node's own host name check stays");
  t.same(tlsOf('sslmode=verify-full').ssl, { rejectUnauthorized: true }, "verify-full without sslrootcert: Node's trusted roots");

  for (const query of [`sslmode=require&sslrootcert=${caFile}`, `sslrootcert=${caFile}`]) {
    const { ssl, warning } = tlsOf(query);
    t.match(ssl, { rejectUnauthorized: true, ca: readFileSync(caFile) }, `${query}: a root certificate means the chain is checked`);
    t.equal(warning, undefined);
  }

  t.same(tlsOf('sslrootcert=system').ssl, { rejectUnauthorized: true }, 'sslrootcert=system: verify-full on the trusted roots');
  throwsConfigError(
    t,
    () => tlsOf('sslmode=require&sslrootcert=system'),
    /needs sslmode=verify-full/,
    'system roots need the host name check',
  );
  throwsConfigError(t, () => tlsOf('sslmode=verify-ca'), /verify-ca needs sslrootcert/, 'verify-ca needs a root certificate');
  throwsConfigError(
    t,
    () => tlsOf('sslmode=verify_full'),
    /sslmode must be one of/,
    'an unknown sslmode is refused, not read as no verification',
  );
  t.match(
    pgPoolConfig(`postgresql://tessera@db.example/tessera?sslmode=verify-ca&sslrootcert=${caFile}`).ssl,
    { rejectUnauthorized: true, ca: readFileSync(caFile) },
    'the pool (and the LISTEN connection and the migrations, which use its settings) gets it',
  );
});

t.test('a missing or unreadable sslrootcert file is a start-up error naming it', async (t) => {
  const missing = join(dir, 'no-such-ca.crt');
  for (const mode of ['require', 'verify-ca', 'verify-full']) {
    const config = () => pgPoolConfig(`postgresql://tessera@db.example/tessera?sslmode=${mode}&sslrootcert=${missing}`);
    throwsConfigError(t, config, `cannot read the sslrootcert file "${missing}"`, `${mode}: the message names the file`);
  }
  const folder = () => pgPoolConfig(`postgresql://tessera@db.example/tessera?sslmode=verify-full&sslrootcert=${dir}`);
  throwsConfigError(t, folder, `cannot read the sslrootcert file "${dir}"`, 'a folder');

  // The server refuses to start, with one line naming the file and no stack.
  const url = `postgresql://tessera@127.0.0.1:1/tessera?sslmode=verify-full&sslrootcert=${missing}`;
  const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, 'serve'], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        TESSERA_DATA_DIR: dir,
        TESSERA_SECRET: 'pg-ssl-test-secret-pg-ssl-test-secret-0',
        PORT: '0',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(run.code, 1, 'serve exits 1');
  t.match(run.stderr, `cannot read the sslrootcert file "${missing}"`);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

interface Certificates {
  ca: string;
  otherCa: string;
  /** For 127.0.0.1, signed by `ca`. */
  named: { key: string; cert: string };
  /** For db.example only, signed by `ca`. */
  misnamed: { key: string; cert: string };
}

/** A CA, another CA, and two server certificates from the first; undefined without openssl. */
function makeCertificates(): Certificates | undefined {
  const openssl = (...args: string[]) => spawnSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  if (openssl('version').status !== 0) return undefined;
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const name of ['ca', 'other-ca']) {
    const made = openssl('req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
    if (made.status !== 0) throw new Error(made.stderr.toString());
  }
  for (const [name, san] of [
    ['named', 'IP:127.0.0.1'],
    ['misnamed', 'DNS:db.example'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    const steps = [
      ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2'],
    ];
    for (const step of steps) {
      const made = openssl(...step, ...(step[0] === 'x509' ? ['-extfile', `${name}.ext`, '-out', `${name}.crt`] : []));
      if (made.status !== 0) throw new Error(made.stderr.toString());
    }
  }
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    ca: join(dir, 'ca.crt'),
    otherCa: join(dir, 'other-ca.crt'),
    named: { key: read('named.key'), cert: read('named.crt') },
    misnamed: { key: read('misnamed.key'), cert: read('misnamed.crt') },
  };
}

/** What the stand-in answers once TLS is up and the client has sent its start-up message. */
const ACCEPTED = 'stand-in: the TLS handshake was accepted';

/** A PostgreSQL ErrorResponse (protocol 3): FATAL, 0A000 (a code whose message every layer passes on), `message`. */
function errorResponse(message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C0A000\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** Listens on 127.0.0.1, answers the SSLRequest with 'S', and shows `identity` in the handshake. */
async function standIn(t: Test, identity: { key: string; cert: string }): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, ...identity });
      secure.on('error', () => {});
      secure.once('data', () => secure.end(errorResponse(ACCEPTED)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** 'accepted' when the stand-in got as far as the start-up message, else why the client gave up. */
function outcome(error: unknown): string {
  const text = `${(error as Error).message} ${JSON.stringify((error as { meta?: unknown }).meta ?? {})}`;
  if (text.includes(ACCEPTED)) return 'accepted';
  const code = (error as { code?: string }).code;
  return `refused (${code ?? (error as Error).message})`;
}

const certificates = makeCertificates();

t.test(
  'each mode accepts what libpq would, on every connection Tessera makes',
  { skip: !certificates && 'openssl is not installed' },
  async (t) => {
    const { ca, otherCa, named, misnamed } = certificates!;
    const namedPort = await standIn(t, named);
    const misnamedPort = await standIn(t, misnamed);
    const url = (port: number, query: string) => `postgresql://tessera@127.0.0.1:${port}/tessera?${query}`;

    /** Through each connection: a pooled query, the LISTEN connection's client, the migrations. */
    const connect = async (databaseUrl: string) => {
      const pool = async () => {
        const database = await postgresql.open(databaseUrl, () => {});
        try {
          await database.db.$queryRawUnsafe('SELECT 1');
        } finally {
          await database.close();
        }
      };
      const listen = async () => {
        const client = new pg.Client(pgPoolConfig(databaseUrl));
        try {
          await client.connect();
        } finally {
          await client.end().catch(() => {});
        }
      };
      // One after the other: the migration engine's start-up holds the event loop for a while, and
      // a connection timing out meanwhile would say nothing about TLS.
      const attempt = (connecting: () => Promise<unknown>) => connecting().then(() => 'connected', outcome);
      return { pool: await attempt(pool), listen: await attempt(listen), migrations: await attempt(() => applyMigrations(databaseUrl)) };
    };
    const everywhere = (result: string | RegExp) => ({ pool: result, listen: result, migrations: result });

    t.same(
      await connect(url(namedPort, `sslmode=verify-full&sslrootcert=${ca}`)),
      everywhere('accepted'),
      'verify-full: right CA, right name',
    );
    t.match(
      await connect(url(misnamedPort, `sslmode=verify-full&sslrootcert=${ca}`)),
      everywhere(/^refused/),
      'verify-full: right CA, wrong name is refused',
    );
    t.same(
      await connect(url(misnamedPort, `sslmode=verify-ca&sslrootcert=${ca}`)),
      everywhere('accepted'),
      'verify-ca: the name is not checked',
    );
    t.match(
      await connect(url(misnamedPort, `sslmode=verify-ca&sslrootcert=${otherCa}`)),
      everywhere(/^refused/),
      'verify-ca: a certificate from another CA is refused',
    );
    t.same(await connect(url(misnamedPort, 'sslmode=require')), everywhere('accepted'), 'require: anything goes');
    const database = await postgresql.open(url(misnamedPort, 'sslmode=require'), () => {});
    t.match(database.warnings, [/does not verify the server's certificate/], 'with a warning for the operator at start');
    await database.close();
    t.match(
      await connect(url(misnamedPort, `sslmode=require&sslrootcert=${otherCa}`)),
      everywhere(/^refused/),
      'require with a root certificate checks the chain, as libpq does',
    );
  },
);
