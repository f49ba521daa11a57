// compose.yaml and the Dockerfile say what docs/operations.md says: migrations are their own step,
// the instances share one database and one secret, the admin listener is published on the host's
// loopback only, and the image runs a Node LTS and only serves. Where `docker compose` is installed
// it must accept the file too; the checks below read the file with the `yaml` package either way
// (Docker cannot run here).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeText = readFileSync(join(root, 'compose.yaml'), 'utf8');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const operations = readFileSync(join(root, 'docs/operations.md'), 'utf8');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | number | { target?: number | string; published?: number | string; host_ip?: string })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
}

interface ComposeFile {
  services?: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// Compose resolves YAML merge keys (`<<: *tessera`), so the file is read the same way.
const compose = parse(composeText, { merge: true }) as ComposeFile;
const services = compose.services ?? {};
const INSTANCES = ['tessera-1', 'tessera-2'];

/** A service's environment as a map, from either of compose's two forms. */
function environment(service: Service | undefined): Record<string, string> {
  const env = service?.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value === null ? '' : String(value)]));
}

const condition = (service: Service | undefined, on: string) =>
  Array.isArray(service?.depends_on) ? undefined : service?.depends_on?.[on]?.condition;

const words = (command: string | string[] | undefined) => (Array.isArray(command) ? command.join(' ') : (command ?? ''));

interface Published {
  hostIp: string | undefined;
  hostPort: string | undefined;
  containerPort: number;
}

/** One `ports` entry, short (`[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]`) or long syntax. */
function published(entry: NonNullable<Service['ports']>[number]): Published {
  if (typeof entry === 'object') {
    return {
      hostIp: entry.host_ip,
      hostPort: entry.published === undefined ? undefined : String(entry.published),
      containerPort: Number(entry.target),
    };
  }
  let text = String(entry).replace(/\/(tcp|udp)$/, '');
  let hostIp: string | undefined;
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (bracketed) [, hostIp, text] = bracketed as unknown as [string, string, string];
  const parts = text.split(':');
  if (parts.length === 3) hostIp = parts.shift();
  const containerPort = Number(parts.pop());
  return { hostIp, hostPort: parts[0], containerPort };
}

t.test(
  'docker compose accepts the file',
  { skip: spawnSync('docker', ['compose', 'version']).status !== 0 && 'docker compose is not installed' },
  async (t) => {
    // An empty env file, so that a .env lying in the checkout cannot supply what the file requires.
    const dir = mkdtempSync(join(tmpdir(), 'tessera-compose-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const envFile = join(dir, 'empty.env');
    writeFileSync(envFile, '');
    const config = (env: NodeJS.ProcessEnv) =>
      spawnSync('docker', ['compose', '--env-file', envFile, '-f', join(root, 'compose.yaml'), 'config', '-q'], {
        cwd: root,
        env,
        encoding: 'utf8',
      });
    const { TESSERA_SECRET: _secret, POSTGRES_PASSWORD: _password, ...without } = process.env;
    const ok = config({ ...without, TESSERA_SECRET: 'placeholder-placeholder-placeholder-0', POSTGRES_PASSWORD: 'placeholder' });
    t.equal(ok.status, 0, `docker compose config -q succeeds${ok.status ? `:\n${ok.stderr}` : ''}`);
    const missing = config({ ...without, POSTGRES_PASSWORD: 'placeholder' });
    t.not(missing.status, 0, 'without TESSERA_SECRET compose refuses the file');
    t.match(missing.stderr, /TESSERA_SECRET/, 'and names the variable');
  },
);

t.test('the four services', async (t) => {
  t.same(Object.keys(services).sort(), ['migrate', 'postgres', 'tessera-1', 'tessera-2'], 'postgres, migrate and two instances');
  const postgres = services.postgres;
  t.match(postgres?.image, /^postgres:1[67](\b|$)/, 'PostgreSQL 16 or 17');
  const volume = (postgres?.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source));
  t.ok(
    volume.some((name) => name !== undefined && Object.keys(compose.volumes ?? {}).includes(name)),
    'its data lives in a named volume',
  );
  t.match(words(postgres?.healthcheck?.test), /pg_isready/, 'healthy means pg_isready answers');
  for (const port of (postgres?.ports ?? []).map(published)) {
    t.equal(port.hostIp, '127.0.0.1', `PostgreSQL port ${port.containerPort}, if published at all, only on the host's loopback`);
  }
});

t.test('migrations are their own step', async (t) => {
  const migrate = services.migrate;
  t.ok(migrate?.build, 'migrate is built from the Dockerfile');
  t.match(words(migrate?.command), /^node bin\/tessera\.js migrate$/, 'and runs `tessera migrate`');
  t.equal(condition(migrate, 'postgres'), 'service_healthy', 'once PostgreSQL is healthy');
  t.match(environment(migrate).DATABASE_URL, /^postgresql:\/\/[^@]+@postgres:5432\//, 'against the postgres service');
  t.notOk(environment(migrate).TESSERA_SECRET, 'it needs no server secret');
});

t.test('the instances share one database and one secret, and do not migrate', async (t) => {
  const envs = INSTANCES.map((name) => environment(services[name]));
  for (const [i, name] of INSTANCES.entries()) {
    const service = services[name];
    const env = envs[i]!;
    t.ok(service?.build ?? service?.image, `${name} runs the image`);
    t.equal(service?.image, services.migrate?.image, `${name} runs the image the migrate step ran`);
    t.equal(condition(service, 'migrate'), 'service_completed_successfully', `${name} waits for the migrations to succeed`);
    t.equal(condition(service, 'postgres'), 'service_healthy', `${name} waits for PostgreSQL`);
    t.match(env.TESSERA_MIGRATE?.toLowerCase(), /^(false|0|no|off)$/, `${name} has TESSERA_MIGRATE=false`);
    t.equal(env.DATABASE_URL, environment(services.migrate).DATABASE_URL, `${name} uses the database the migrate step upgraded`);
    t.match(env.TESSERA_SECRET, /^\$\{TESSERA_SECRET:?\?[^}]+\}$/, `${name} requires TESSERA_SECRET from the environment (no default)`);
    t.ok(env.TESSERA_ISSUER, `${name} is given TESSERA_ISSUER`);
    t.equal(env.TESSERA_ADMIN_HOST ?? '0.0.0.0', '0.0.0.0', `${name}'s admin listener is reachable from outside its container`);
    t.match(words(service?.healthcheck?.test), /\/readyz/, `${name}'s health check asks /readyz`);
  }
  const [one, two] = envs;
  t.equal(one?.DATABASE_URL, two?.DATABASE_URL, 'the same DATABASE_URL');
  t.match(one?.DATABASE_URL, /^postgresql:\/\//, 'on PostgreSQL');
  t.equal(one?.TESSERA_SECRET, two?.TESSERA_SECRET, 'the same TESSERA_SECRET');
  t.equal(one?.TESSERA_ISSUER, two?.TESSERA_ISSUER, 'the same issuer');
});

t.test('ports: the admin listener only on the host loopback, each instance on its own host ports', async (t) => {
  const hostPorts: string[] = [];
  for (const name of INSTANCES) {
    const env = environment(services[name]);
    const publicPort = Number(env.PORT ?? 3000);
    const adminPort = Number(env.TESSERA_ADMIN_PORT ?? 3001);
    const ports = (services[name]?.ports ?? []).map(published);
    const admin = ports.filter((p) => p.containerPort === adminPort);
    t.ok(admin.length > 0, `${name} publishes its admin port`);
    for (const port of admin) t.equal(port.hostIp, '127.0.0.1', `${name}'s admin port ${port.hostPort} is bound to 127.0.0.1 only`);
    t.ok(
      ports.some((p) => p.containerPort === publicPort && p.hostPort),
      `${name} publishes its public port ${publicPort}`,
    );
    for (const port of ports) {
      t.ok(port.hostPort, `${name}: container port ${port.containerPort} has a fixed host port`);
      hostPorts.push(port.hostPort ?? '');
    }
  }
  t.equal(new Set(hostPorts).size, hostPorts.length, `no host port is used twice (${hostPorts.join(', ')})`);
});

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

t.test('the image: a Node LTS, serving only', async (t) => {
  const stages = instructions.filter((line) => /^FROM\s/i.test(line));
  t.ok(stages.length > 0, 'the Dockerfile has a FROM');
  for (const stage of stages) {
    const major = Number(/^FROM\s+node:(\d+)/i.exec(stage)?.[1]);
    t.ok(major >= 22 && major % 2 === 0, `${stage}: a Node LTS line, 22 or newer (found ${major})`);
  }
  const cmd = instructions.filter((line) => /^CMD\s/i.test(line)).at(-1) ?? '';
  t.match(cmd, /serve/, 'CMD serves');
  t.notMatch(cmd, /migrate/, 'CMD does not migrate (that is its own step)');
  const runtime = instructions.slice(instructions.lastIndexOf(stages.at(-1) ?? ''));
  t.ok(
    runtime.some((line) => /^ENV\s.*\bTESSERA_ADMIN_HOST=0\.0\.0\.0\b/.test(line)),
    'TESSERA_ADMIN_HOST=0.0.0.0 in the runtime stage',
  );
  t.match(
    runtime.find((line) => /^HEALTHCHECK\s/i.test(line)),
    /\/readyz/,
    'HEALTHCHECK asks /readyz',
  );
  const exposed = runtime.filter((line) => /^EXPOSE\s/i.test(line)).join(' ');
  t.notMatch(exposed, /\b3001\b/, 'the admin port is not EXPOSEd (docker run -P would publish it everywhere)');
});

t.test('docs/operations.md documents every variable compose.yaml uses', async (t) => {
  const interpolated = [...composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  t.ok(interpolated.includes('TESSERA_SECRET'), 'found the variables');
  const set = INSTANCES.flatMap((name) => Object.keys(environment(services[name])));
  for (const name of new Set([...interpolated, ...set])) {
    t.ok(operations.includes(`\`${name}\``), `${name} is in docs/operations.md`);
  }
});
