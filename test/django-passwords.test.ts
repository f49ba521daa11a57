// Django's password hashes verified in Node exactly as Django verifies them. Every hash here is
// made by the real Django (Debian's 3.2, through test/django/hashes/django_hashes.py), and every
// verdict is compared with the one the real Django gives for the same hash and password: right,
// wrong, truncated, case-changed, past bcrypt's 72 bytes, and mutated hashes. Then the strings
// Tessera refuses (malformed, over its limits), the ones it classifies (unusable, legacy), and
// passwords.ts's dispatch between Tessera's own Argon2id and Django's hashes.
import t from 'tap';
import fc from 'fast-check';
import argon2 from 'argon2';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { classifyDjangoHash, verifyDjangoPassword, DJANGO_HASH_LIMITS } from '../src/domain/django-passwords.ts';
import { hashPassword, needsRehash, verifyPassword } from '../src/domain/passwords.ts';
import { djangoSkip, PYTHON } from './helpers/debian-python.ts';

const skip = djangoSkip();

/** Debian's Python, which has Django, bcrypt and argon2-cffi (the python3 first on PATH does not). */
const SCRIPT = fileURLToPath(new URL('./django/hashes/django_hashes.py', import.meta.url));

interface MakeSpec {
  hasher: string;
  password?: string;
  iterations?: number;
  rounds?: number;
  prefix?: '2a' | '2y';
  type?: 'i' | 'd';
  /** null: version 16 written without "v=", as argon2-cffi did before 16.0 */
  version?: 16 | null;
  memory_cost?: number;
  time_cost?: number;
  parallelism?: number;
  n?: number;
  r?: number;
  p?: number;
}
/** Django's answer for one hash and password: a boolean, or the exception it raised instead. */
type DjangoVerdict = boolean | string;

/** Runs django_hashes.py; fails with its own message (install python3-django) when Django is missing. */
async function django(request: { make?: MakeSpec[]; check?: [string, string][] }): Promise<{ made: string[]; checked: DjangoVerdict[] }> {
  const run = promisify(execFile)(PYTHON, [SCRIPT], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  run.child.stdin?.end(JSON.stringify(request));
  const { stdout } = await run;
  return JSON.parse(stdout) as { made: string[]; checked: DjangoVerdict[] };
}

const PASSWORDS = {
  ascii: 'correct horse battery staple',
  accented: 'mot de passe été à Noël',
  emoji: '🔑 clé 👩‍💻 secrète',
  // 78 UTF-8 bytes: bcrypt's cut at 72 falls inside the first key.
  long: 'a'.repeat(70) + '🔑🔑 and the end',
  empty: '',
} as const;
type PasswordName = keyof typeof PASSWORDS;

interface Reference {
  label: string;
  algorithm: string;
  password: string;
  spec: MakeSpec;
  /** Cheap: tried with every candidate password below, and mutated; a costly one (Django's own
   * costs) only with the right password and a wrong one. */
  cheap: boolean;
}

const CHEAP_ARGON2 = { memory_cost: 64, time_cost: 1, parallelism: 1 };
const CHEAP_SCRYPT = { n: 1024, r: 8, p: 1 };
const every = (names: PasswordName[], make: (password: string) => MakeSpec, label: string, cheap = true): Reference[] =>
  names.map((name) => {
    const spec = make(PASSWORDS[name]);
    return { label: `${label}, ${name} password`, algorithm: spec.hasher, password: PASSWORDS[name], spec, cheap };
  });
const ALL = Object.keys(PASSWORDS) as PasswordName[];

const REFERENCES: Reference[] = [
  ...every(ALL, (password) => ({ hasher: 'pbkdf2_sha256', password, iterations: 1000 }), 'pbkdf2_sha256, 1000 iterations'),
  ...every(['ascii'], (password) => ({ hasher: 'pbkdf2_sha256', password }), "pbkdf2_sha256, Django 3.2's 260000 iterations", false),
  ...every(
    ['accented'],
    (password) => ({ hasher: 'pbkdf2_sha256', password, iterations: 1_000_000 }),
    'pbkdf2_sha256, 1000000 iterations',
    false,
  ),
  ...every(ALL, (password) => ({ hasher: 'pbkdf2_sha1', password, iterations: 1000 }), 'pbkdf2_sha1, 1000 iterations'),
  ...every(['ascii'], (password) => ({ hasher: 'pbkdf2_sha1', password }), "pbkdf2_sha1, Django's iterations", false),
  ...every(ALL, (password) => ({ hasher: 'bcrypt_sha256', password, rounds: 4 }), 'bcrypt_sha256, cost 4'),
  ...every(['emoji'], (password) => ({ hasher: 'bcrypt_sha256', password }), "bcrypt_sha256, Django's cost 12", false),
  ...every(ALL, (password) => ({ hasher: 'bcrypt', password, rounds: 4 }), 'bcrypt, cost 4'),
  ...every(['ascii', 'long'], (password) => ({ hasher: 'bcrypt', password, rounds: 4, prefix: '2a' }), 'bcrypt $2a$'),
  ...every(['ascii', 'long'], (password) => ({ hasher: 'bcrypt', password, rounds: 4, prefix: '2y' }), 'bcrypt $2y$'),
  ...every(ALL, (password) => ({ hasher: 'argon2', password, ...CHEAP_ARGON2 }), 'argon2id, m=64 t=1 p=1'),
  ...every(['ascii', 'emoji'], (password) => ({ hasher: 'argon2', password }), "argon2id, Django's m=102400 t=2 p=8", false),
  ...every(['accented'], (password) => ({ hasher: 'argon2', password, type: 'i', ...CHEAP_ARGON2 }), 'argon2i (Django 1.10–2.x)'),
  ...every(['accented'], (password) => ({ hasher: 'argon2', password, type: 'i', version: null, ...CHEAP_ARGON2 }), 'argon2i without "v="'),
  ...every(['ascii'], (password) => ({ hasher: 'argon2', password, type: 'd', version: 16, ...CHEAP_ARGON2 }), 'argon2d, version 16'),
  ...every(ALL, (password) => ({ hasher: 'scrypt', password, ...CHEAP_SCRYPT }), 'scrypt, N=1024 r=8 p=1'),
  ...every(['emoji'], (password) => ({ hasher: 'scrypt', password }), "scrypt, Django 4's N=16384 r=8 p=5", false),
];

const LEGACY: MakeSpec[] = ['md5', 'sha1', 'unsalted_md5', 'unsalted_sha1', 'crypt'].map((hasher) => ({
  hasher,
  password: PASSWORDS.ascii,
}));

let made: Promise<{ references: (Reference & { encoded: string })[]; legacy: string[]; unusable: string }> | undefined;
/** The reference hashes, made once by Django for every test below. */
function references() {
  made ??= django({ make: [...REFERENCES.map((r) => r.spec), ...LEGACY, { hasher: 'unusable' }] }).then(({ made }) => ({
    references: REFERENCES.map((reference, i) => ({ ...reference, encoded: made[i]! })),
    legacy: made.slice(REFERENCES.length, REFERENCES.length + LEGACY.length),
    unusable: made[made.length - 1]!,
  }));
  return made;
}

/** A password that shares the first 72 UTF-8 bytes of `password` and ends otherwise. */
function sameFirst72Bytes(password: string): string {
  let prefix = '';
  for (const character of password) {
    if (Buffer.byteLength(prefix) >= 72) break;
    prefix += character;
  }
  return prefix + ' but another ending';
}

const swapCase = (text: string) => [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');

const first72Bytes = (bytes: Buffer) => bytes.subarray(0, 72);
const withoutTrailingNuls = (bytes: Buffer) => bytes.subarray(0, bytes.length - (/\0*$/.exec(bytes.toString('latin1'))?.[0].length ?? 0));

/** Whether Django takes `candidate` for `password` under this algorithm; the tests below hold Django to it too. */
function sameForDjango(algorithm: string, password: string, candidate: string): boolean {
  if (candidate === password) return true;
  // Not UTF-8: Django's str.encode() raises.
  if (/[\ud800-\udfff]/u.test(candidate)) return false;
  const [key, original] = [Buffer.from(candidate), Buffer.from(password)];
  // bcrypt hashes the first 72 bytes only (bcrypt_sha256 exists for that); pyca/bcrypt refuses a NUL byte.
  if (algorithm === 'bcrypt') return !key.includes(0) && first72Bytes(key).equals(first72Bytes(original));
  // HMAC pads a key shorter than its 64-byte block with zero bytes, so PBKDF2, and scrypt which
  // starts with it, take "x" and "x\0" alike.
  if (algorithm.startsWith('pbkdf2_') || algorithm === 'scrypt') {
    return key.length <= 64 && original.length <= 64 && withoutTrailingNuls(key).equals(withoutTrailingNuls(original));
  }
  return false;
}

/** The passwords tried against a reference hash, each with what Tessera must answer (and Django too). */
function candidates(reference: Reference): { label: string; password: string; expected: boolean }[] {
  const { password, algorithm } = reference;
  const tried = [
    { label: 'right', password },
    { label: 'wrong', password: 'not the password' },
    { label: 'truncated', password: [...password].slice(0, -1).join('') },
    { label: 'case-changed', password: swapCase(password) },
    { label: 'with a trailing space', password: password + ' ' },
    { label: 'with a NUL byte', password: password + '\0' },
    { label: 'with a lone surrogate', password: password + '\ud800' },
    ...(Buffer.byteLength(password) > 72 ? [{ label: 'sharing its first 72 bytes', password: sameFirst72Bytes(password) }] : []),
  ];
  return tried
    .slice(0, reference.cheap ? tried.length : 2)
    .filter((candidate) => candidate.label === 'right' || candidate.password !== password)
    .map((candidate) => ({ ...candidate, expected: sameForDjango(algorithm, password, candidate.password) }));
}

t.test('each hash the real Django makes verifies as Django verifies it', { skip }, async (t) => {
  const { references: hashes } = await references();
  const pairs = hashes.flatMap((reference) => candidates(reference).map((candidate) => ({ reference, candidate })));
  const { checked } = await django({ check: pairs.map(({ reference, candidate }) => [reference.encoded, candidate.password]) });
  const verdicts = await Promise.all(pairs.map(({ reference, candidate }) => verifyDjangoPassword(reference.encoded, candidate.password)));
  pairs.forEach(({ reference, candidate }, i) => {
    const name = `${reference.label}: ${candidate.label}`;
    t.equal(checked[i] === true, candidate.expected, `${name}: Django says ${JSON.stringify(checked[i])}`);
    t.equal(verdicts[i], candidate.expected, `${name}: ${candidate.expected ? 'verifies' : 'refused'}`);
  });
  for (const reference of hashes) {
    t.same(classifyDjangoHash(reference.encoded), { kind: 'supported', algorithm: reference.algorithm }, `${reference.label}: supported`);
  }
});

t.test('unusable and legacy hashes are classified, and never verify', { skip }, async (t) => {
  const { legacy, unusable, references: hashes } = await references();
  const pbkdf2 = hashes[0]!.encoded;
  const unsaltedMd5 = legacy[2]!;
  const cases: [string, string, ReturnType<typeof classifyDjangoHash>][] = [
    ["Django's unusable password", unusable, { kind: 'unusable' }],
    ['a bare "!"', '!', { kind: 'unusable' }],
    ['"!" before a real hash', '!' + pbkdf2, { kind: 'unusable' }],
    ['the empty password field', '', { kind: 'unusable' }],
    ...LEGACY.map((spec, i): [string, string, ReturnType<typeof classifyDjangoHash>] => [
      `Django's ${spec.hasher}`,
      legacy[i]!,
      { kind: 'legacy', algorithm: spec.hasher },
    ]),
    ['unsalted md5 written as md5$$…', `md5$$${unsaltedMd5}`, { kind: 'legacy', algorithm: 'unsalted_md5' }],
  ];
  for (const [name, encoded, verdict] of cases) {
    t.same(classifyDjangoHash(encoded), verdict, `${name}: ${verdict.kind}`);
    t.equal(await verifyDjangoPassword(encoded, PASSWORDS.ascii), false, `${name}: never verifies`);
  }
  // They are real: Django itself would let the legacy ones in, and Tessera will not.
  const { checked } = await django({ check: [...legacy, `md5$$${unsaltedMd5}`].map((encoded) => [encoded, PASSWORDS.ascii]) });
  t.same(
    checked,
    [...legacy, 0].map(() => true),
    'Django verifies each legacy hash with its password',
  );
});

/** The same base64 with the bits its last character does not carry set: the same bytes, spelled otherwise. */
function nonCanonical(base64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const data = base64.replace(/=+$/, '');
  const last = alphabet[alphabet.indexOf(data.at(-1)!) ^ 1]!;
  return data.slice(0, -1) + last + base64.slice(data.length);
}

t.test('malformed and over-limit hashes are refused, saying why', { skip }, async (t) => {
  const { references: hashes } = await references();
  const find = (label: string) => hashes.find((reference) => reference.label.startsWith(label))!;
  const pbkdf2 = find('pbkdf2_sha256, 1000 iterations, ascii');
  const [, , pbSalt, pbHash] = pbkdf2.encoded.split('$') as [string, string, string, string];
  const pbSha1Hash = find('pbkdf2_sha1, 1000 iterations, ascii').encoded.split('$')[3]!;
  const pb = (iterations: string, salt = pbSalt, hash = pbHash) => `pbkdf2_sha256$${iterations}$${salt}$${hash}`;
  const bcrypt = find('bcrypt, cost 4, ascii').encoded;
  const bcryptSha256 = find('bcrypt_sha256, cost 4, ascii').encoded;
  const argon = find('argon2id, m=64 t=1 p=1, ascii').encoded;
  const [argonSalt, argonHash] = argon.split('$').slice(-2) as [string, string];
  const ar = (params: string, salt = argonSalt, hash = argonHash, head = 'argon2$argon2id$v=19') => `${head}$${params}$${salt}$${hash}`;
  const scrypt = find('scrypt, N=1024 r=8 p=1, ascii').encoded;
  const [, , scSalt, , , scHash] = scrypt.split('$') as [string, string, string, string, string, string];
  const sc = (n: string, r: string, p: string, hash = scHash) => `scrypt$${n}$${scSalt}$${r}$${p}$${hash}`;
  const b64 = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');
  const unpadded = (bytes: number) => b64(bytes).replace(/=+$/, '');

  const cases: [string, string, RegExp][] = [
    ['iterations over the limit', pb('5000001'), /pbkdf2 iterations 5000001 is outside 1–5000000/],
    ['zero iterations', pb('0'), /pbkdf2 iterations 0 is outside/],
    ['iterations with a leading zero', pb('01000'), /pbkdf2 iterations is not a decimal number/],
    ['iterations in exponent notation', pb('1e3'), /not a decimal number/],
    ['iterations with a sign', pb('+1000'), /not a decimal number/],
    ['an empty salt', pb('1000', ''), /the salt is empty/],
    ['a salt of 129 characters', pb('1000', 's'.repeat(129)), /the salt is longer than 128 characters/],
    ['a salt that is not Unicode', pb('1000', 'salt\ud800'), /the salt is not valid Unicode/],
    ['three fields', `pbkdf2_sha256$1000$${pbHash}`, /4 fields separated by "\$", this one 3/],
    ['five fields', `${pbkdf2.encoded}$more`, /this one 5/],
    ['the hash without its padding', pb('1000', pbSalt, pbHash.replace(/=$/, '')), /the hash is not the base64 of 32 bytes/],
    ["pbkdf2_sha1's 20 bytes under pbkdf2_sha256", pb('1000', pbSalt, pbSha1Hash), /the hash is not the base64 of 32 bytes/],
    ['the hash in base64 spelled otherwise', pb('1000', pbSalt, nonCanonical(pbHash)), /the hash is not the base64 of 32 bytes/],
    ['the hash in URL-safe base64', pb('1000', pbSalt, '-_' + pbHash.slice(2)), /the hash is not the base64/],
    ['bcrypt cost 17', bcrypt.replace('$2b$04$', '$2b$17$'), /bcrypt cost 17 is outside 4–16/],
    ['bcrypt cost 03', bcrypt.replace('$2b$04$', '$2b$03$'), /bcrypt cost 03 is outside 4–16/],
    ['bcrypt cost 4 in one digit', bcrypt.replace('$2b$04$', '$2b$4$'), /not a bcrypt hash/],
    ['bcrypt $2x$', bcrypt.replace('$2b$', '$2x$'), /not a bcrypt hash/],
    ['bcrypt one character short', bcrypt.slice(0, -1), /not a bcrypt hash/],
    ['bcrypt with a character outside its alphabet', bcrypt.slice(0, -1) + '+', /not a bcrypt hash/],
    ['bcrypt_sha256 without its empty field', bcryptSha256.replace('$$', '$'), /not a bcrypt_sha256 hash/],
    ['argon2 m over the limit', ar('m=262145,t=1,p=1'), /argon2 m \(KiB\) 262145 is outside 8–262144/],
    ['argon2 t over the limit', ar('m=64,t=17,p=1'), /argon2 t 17 is outside 1–16/],
    ['argon2 t = 0', ar('m=64,t=0,p=1'), /argon2 t 0 is outside 1–16/],
    ['argon2 p over the limit', ar('m=512,t=1,p=17'), /argon2 p 17 is outside 1–16/],
    ['argon2 p = 0', ar('m=64,t=1,p=0'), /argon2 p 0 is outside 1–16/],
    ['argon2 m under 8·p', ar('m=8,t=1,p=2'), /argon2 m \(KiB\) 8 is outside 16–262144/],
    ['argon2 m with a leading zero', ar('m=064,t=1,p=1'), /argon2 m \(KiB\) is not a decimal number/],
    ['argon2 version 18', ar('m=64,t=1,p=1', argonSalt, argonHash, 'argon2$argon2id$v=18'), /argon2 version 18 is neither 16 nor 19/],
    ['argon2 of another type', ar('m=64,t=1,p=1', argonSalt, argonHash, 'argon2$argon2x$v=19'), /not an argon2 hash/],
    ['argon2 with associated data', ar('m=64,t=1,p=1,data=YWJj'), /not an argon2 hash/],
    ['argon2 with its parameters in another order', ar('t=1,m=64,p=1'), /not an argon2 hash/],
    ['argon2 with a padded salt', ar('m=64,t=1,p=1', b64(16)), /not an argon2 hash/],
    ['argon2 with a 4-byte salt', ar('m=64,t=1,p=1', unpadded(4)), /the argon2 salt is not the unpadded base64 of 8–64 bytes/],
    ['argon2 with an 8-byte hash', ar('m=64,t=1,p=1', argonSalt, unpadded(8)), /the argon2 hash is not the unpadded base64 of 16–64/],
    ['argon2 hash in base64 spelled otherwise', ar('m=64,t=1,p=1', argonSalt, nonCanonical(argonHash)), /the argon2 hash is not/],
    ["Tessera's own form, without Django's prefix", argon.slice('argon2'.length), /unknown algorithm ""/],
    ['scrypt N over the limit', sc(String(2 ** 21), '1', '1'), /scrypt N 2097152 is outside 2–1048576/],
    ['scrypt N not a power of two', sc('1000', '8', '1'), /scrypt N 1000 is not a power of two/],
    ['scrypt N = 1', sc('1', '8', '1'), /scrypt N 1 is outside/],
    ['scrypt r over the limit', sc('1024', '33', '1'), /scrypt r 33 is outside 1–32/],
    ['scrypt p over the limit', sc('1024', '8', '17'), /scrypt p 17 is outside 1–16/],
    ['scrypt needing 1 GiB', sc(String(2 ** 20), '8', '1'), /scrypt needs 128·N·r = 1024 MiB, over 256 MiB/],
    ['scrypt with a 32-byte hash', sc('1024', '8', '1', b64(32)), /the hash is not the base64 of 64 bytes/],
    ['scrypt with seven fields', `${scrypt}$x`, /6 fields separated by "\$", this one 7/],
    ['an unknown algorithm', 'sha256$salt$abc', /unknown algorithm "sha256"/],
    ['no algorithm at all', 'hello', /not a Django password hash/],
    ['an algorithm alone', 'argon2', /not a Django password hash/],
    ['513 characters', pb('1000', pbSalt, 'A'.repeat(480)), /longer than 512 characters/],
    ['md5 whose digest is not hex', 'md5$salt$' + 'z'.repeat(32), /not a well-formed md5 hash/],
    ['32 characters that are not an md5 digest', 'Z'.repeat(32), /not a well-formed unsalted_md5 hash/],
    ['unsalted_sha1 by name', 'unsalted_sha1$abc', /not a well-formed unsalted_sha1 hash/],
  ];
  for (const [name, encoded, reason] of cases) {
    const verdict = classifyDjangoHash(encoded);
    t.equal(verdict.kind, 'malformed', `${name}: malformed`);
    t.match(verdict.kind === 'malformed' ? verdict.reason : '', reason, `${name}: says why`);
    t.equal(await verifyDjangoPassword(encoded, PASSWORDS.ascii), false, `${name}: never verifies`);
  }

  // At the limits themselves: supported (classified only; verifying these takes seconds each).
  const { pbkdf2Iterations, bcryptCost, argon2: a, scrypt: s } = DJANGO_HASH_LIMITS;
  const atLimits = [
    pb(String(pbkdf2Iterations)),
    bcrypt.replace('$2b$04$', `$2b$${bcryptCost.max}$`),
    ar(`m=${a.memoryKiB},t=${a.time},p=${a.parallelism}`),
    sc(String(s.n), String(s.memoryBytes / 128 / s.n), String(s.p)),
    sc('2', String(s.r), '1'),
  ];
  for (const encoded of atLimits) t.equal(classifyDjangoHash(encoded).kind, 'supported', `at the limits: ${encoded.slice(0, 40)}…`);
});

// Characters a mutation puts in: the ones hashes are made of, and any code point at all.
const MUTANT = fc.oneof(fc.constantFrom(...'$0123456789=+/.,!aAzZv'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

/** A hash with one edit: a character replaced, removed or added, a cut, or two characters swapped. */
function mutationOf(encoded: string): fc.Arbitrary<string> {
  const at = fc.nat({ max: encoded.length - 1 });
  const swap = (i: number, j: number) => [...encoded].map((c, k) => (k === i ? encoded[j] : k === j ? encoded[i] : c)).join('');
  return fc
    .oneof(
      fc.tuple(at, MUTANT).map(([i, c]) => encoded.slice(0, i) + c + encoded.slice(i + 1)),
      at.map((i) => encoded.slice(0, i) + encoded.slice(i + 1)),
      fc.tuple(at, MUTANT).map(([i, c]) => encoded.slice(0, i) + c + encoded.slice(i)),
      at.map((i) => encoded.slice(0, i)),
      fc.tuple(at, at).map(([i, j]) => swap(i, j)),
    )
    .filter((mutated) => mutated !== encoded);
}

t.test('mutated hashes: Tessera answers as Django does for the right password', { skip }, async (t) => {
  const bases = (await references()).references.filter((reference) => reference.cheap);
  const seed = Date.now();
  t.comment(`mutations sampled with seed ${seed}`);
  // Besides the sampled edits, the other spellings of bcrypt's algorithm, which Django accepts.
  const respelled = bases.flatMap((base) =>
    ['$2a$', '$2y$'].map((prefix) => [base.encoded.replace('$2b$', prefix), base] as const).filter(([encoded]) => encoded !== base.encoded),
  );
  const mutated = [
    ...new Map([
      ...respelled,
      ...bases.flatMap((base, i) =>
        fc.sample(mutationOf(base.encoded), { numRuns: 40, seed: seed + i }).map((encoded) => [encoded, base] as const),
      ),
    ]),
  ];
  // Beyond Tessera's limits Django could spend minutes (bcrypt cost 31): Tessera refuses those unasked.
  const outside = (encoded: string) => {
    const verdict = classifyDjangoHash(encoded);
    return verdict.kind === 'malformed' && / is outside /.test(verdict.reason);
  };
  const asked = mutated.filter(([encoded]) => !outside(encoded));
  const { checked } = await django({ check: asked.map(([encoded, base]) => [encoded, base.password]) });
  const disagreements: string[] = [];
  let accepted = 0;
  for (const [i, [encoded, base]] of asked.entries()) {
    const ours = await verifyDjangoPassword(encoded, base.password);
    if (ours !== (checked[i] === true))
      disagreements.push(`${JSON.stringify(encoded)}: Django ${JSON.stringify(checked[i])}, Tessera ${ours}`);
    if (ours) accepted++;
  }
  for (const [encoded, base] of mutated.filter(([encoded]) => outside(encoded))) {
    t.equal(await verifyDjangoPassword(encoded, base.password), false, `over the limits, refused: ${JSON.stringify(encoded)}`);
  }
  t.comment(
    `${asked.length} mutated hashes asked of Django, ${accepted} still verify in both (such as bcrypt's $2b$ spelled $2a$ or $2y$)`,
  );
  t.ok(asked.length > 100, 'a few hundred mutations were compared');
  t.same(disagreements, [], 'no mutated hash where Tessera and Django disagree');
});

t.test('property: no mutated hash nor random string verifies a wrong password, and none throws', { skip }, async (t) => {
  const bases = (await references()).references.filter((reference) => reference.cheap);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...bases).chain((base) =>
        fc.record({
          base: fc.constant(base),
          encoded: fc.oneof(fc.constant(base.encoded), mutationOf(base.encoded)),
          password: fc.string({ unit: 'binary' }),
        }),
      ),
      async ({ base, encoded, password }) => {
        fc.pre(!sameForDjango(base.algorithm, base.password, password));
        classifyDjangoHash(encoded);
        return (await verifyDjangoPassword(encoded, password)) === false;
      },
    ),
    { numRuns: 300 },
  );
  const prefixes = [
    '',
    '!',
    'pbkdf2_sha256$',
    'pbkdf2_sha1$1000$',
    'bcrypt$$2b$',
    'bcrypt_sha256$$2b$04$',
    'argon2$argon2id$v=19$m=',
    'scrypt$1024$',
    'md5$',
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...prefixes),
      fc.string({ unit: 'binary', maxLength: 150 }),
      fc.string(),
      async (prefix, rest, password) => {
        const verdict = classifyDjangoHash(prefix + rest);
        const known = ['supported', 'unusable', 'legacy'].includes(verdict.kind) || (verdict.kind === 'malformed' && verdict.reason !== '');
        return known && (await verifyDjangoPassword(prefix + rest, password)) === false;
      },
    ),
    { numRuns: 500 },
  );
  t.pass('300 mutated hashes with wrong passwords and 500 random strings: none verified, none threw');
});

t.test("verifyPassword: Tessera's own Argon2id and Django's hashes; needsRehash: all but Tessera's current own", { skip }, async (t) => {
  const { references: hashes, legacy, unusable } = await references();
  const own = await hashPassword('tessera password 1234');
  t.equal(await verifyPassword(own, 'tessera password 1234'), true, "Tessera's own hash, right password");
  t.equal(await verifyPassword(own, 'tessera password 1235'), false, "Tessera's own hash, wrong password");
  t.equal(needsRehash(own), false, "Tessera's own current hash is kept");
  for (const reference of hashes.filter((r) => r.cheap && r.password !== '')) {
    t.equal(await verifyPassword(reference.encoded, reference.password), true, `${reference.label}: right password`);
    t.equal(await verifyPassword(reference.encoded, 'x' + reference.password), false, `${reference.label}: wrong password`);
  }
  for (const reference of hashes) t.equal(needsRehash(reference.encoded), true, `${reference.label}: replaced at the next sign-in`);
  const cannot: [string, string][] = [
    ['unusable', unusable],
    ['legacy md5', legacy[0]!],
    ['malformed', 'pbkdf2_sha256$0$salt$hash'],
    ['an Argon2 string not of the form argon2 makes', '$argon2id$garbage'],
  ];
  for (const [name, encoded] of cannot) {
    t.equal(await verifyPassword(encoded, PASSWORDS.ascii), false, `${name}: the right password does not sign in`);
    t.equal(needsRehash(encoded), true, `${name}: needs rehash`);
  }
  t.equal(await verifyPassword(undefined, PASSWORDS.ascii), false, 'no hash (unknown user): false');
  const weaker = await argon2.hash('tessera password 1234', { type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 });
  t.equal(await verifyPassword(weaker, 'tessera password 1234'), true, 'an Argon2id hash of other parameters still verifies');
  t.equal(needsRehash(weaker), true, '… and is replaced');
  const argon2i = await argon2.hash('tessera password 1234', { type: argon2.argon2i });
  t.equal(needsRehash(argon2i), true, 'an Argon2i hash is replaced');
});
