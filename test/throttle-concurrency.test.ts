// The password throttle under concurrency (security review finding 1): an attempt is counted
// before its password is checked, so a burst gets no more than 10 checks; and the bounded gate
// in front of Argon2 refuses, rather than queues without end, what it cannot take.
import t from 'tap';
import { PasswordCheckGate, verifyPassword, hashPassword } from '../src/domain/passwords.ts';
import { UnavailableError } from '../src/domain/errors.ts';
import { registerClient, registerUser, startTessera, tokenRequest } from './helpers/harness.ts';

const count = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((acc, status) => ({ ...acc, [status]: (acc[status] ?? 0) + 1 }), {});

t.test('40 simultaneous wrong passwords for one username: at most 10 are checked', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera, 'dave', 'dave password 123');
  const client = await registerClient(tessera, { grants: ['password'] });
  const burst = await Promise.all(
    Array.from({ length: 40 }, (_, i) => tokenRequest(app, client, { grant_type: 'password', username, password: `guess ${i}` })),
  );
  const statuses = count(burst.map((res) => res.statusCode));
  t.comment(`40 simultaneous wrong passwords: ${JSON.stringify(statuses)}`);
  t.ok((statuses[400] ?? 0) <= 10, 'at most 10 were checked against the password (400 invalid_grant)');
  t.equal((statuses[400] ?? 0) + (statuses[429] ?? 0), 40, 'every other attempt is throttled (429)');
  for (const res of burst.filter((r) => r.statusCode === 429)) {
    t.equal(res.body_.error, 'temporarily_unavailable');
    t.match(res.headers['retry-after'], /^[1-9]\d*$/);
  }
  t.equal(
    (await tokenRequest(app, client, { grant_type: 'password', username, password })).statusCode,
    429,
    'even the right password is refused now',
  );
});

t.test('simultaneous attempts from many addresses still stop at 10 for the username', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username } = await registerUser(tessera, 'erin', 'erin password 123');
  const client = await registerClient(tessera, { grants: ['password'] });
  const burst = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      app.inject({
        method: 'POST',
        url: '/token',
        remoteAddress: `198.51.100.${i + 1}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'password',
          username,
          password: `guess ${i}`,
          client_id: client.id,
          client_secret: client.secret!,
        }).toString(),
      }),
    ),
  );
  const statuses = count(burst.map((res) => res.statusCode));
  t.comment(`30 simultaneous wrong passwords from 30 addresses: ${JSON.stringify(statuses)}`);
  t.ok((statuses[400] ?? 0) <= 10, 'at most 10 checked');
  t.equal((statuses[400] ?? 0) + (statuses[429] ?? 0), 30);
});

t.test('concurrent right passwords are never refused for one another', async (t) => {
  const { app, tessera } = await startTessera(t);
  const { username, password } = await registerUser(tessera, 'fay', 'fay password 1234');
  const client = await registerClient(tessera, { grants: ['password'] });
  const burst = await Promise.all(
    Array.from({ length: 30 }, () => tokenRequest(app, client, { grant_type: 'password', username, password })),
  );
  t.same(count(burst.map((res) => res.statusCode)), { 200: 30 }, 'a successful check gives its count back');
});

t.test('the gate in front of Argon2: a bounded number run, a bounded number wait, the rest are refused', async (t) => {
  const gate = new PasswordCheckGate(2, 3);
  const hash = await hashPassword('gate password 1234');
  let running = 0;
  let most = 0;
  const check = () =>
    gate.run(async () => {
      most = Math.max(most, ++running);
      try {
        return await verifyPassword(hash, 'gate password 1234');
      } finally {
        running--;
      }
    });
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, check));
  const refused = outcomes.filter((o) => o.status === 'rejected');
  t.equal(most, 2, 'never more than 2 checks at once');
  t.equal(outcomes.filter((o) => o.status === 'fulfilled' && o.value === true).length, 5, '2 ran at once and 3 waited their turn');
  t.equal(refused.length, 3, 'the rest were refused at once');
  for (const outcome of refused) {
    const reason = (outcome as PromiseRejectedResult).reason as unknown;
    t.ok(reason instanceof UnavailableError && reason.retryAfter === 1, 'refused as temporarily unavailable, retry after 1 s');
  }
  t.equal(await check(), true, 'the gate is free again afterwards');
});
