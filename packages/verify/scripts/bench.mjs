// How fast the verifier answers, against bare jose: `node packages/verify/scripts/bench.mjs` (after a
// build). A local issuer serves the metadata and the key set; the same ES256 key signs every token.
// Prints the cost per verification of jose.jwtVerify, of the kit on tokens it has not seen, and of
// the kit on tokens it has (from its cache), and the ratios.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { createVerifier } from '../dist/index.js';

const TOKENS = 5000;
const ROUNDS = 9;
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const server = createServer((req, res) => {
  const body = req.url === '/jwks' ? { keys: [jwk] } : { issuer, jwks_uri: `${issuer}/jwks` };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const now = Math.floor(Date.now() / 1000);
const sign = () =>
  new SignJWT({
    iss: issuer,
    sub: 'alice',
    aud: 'api',
    client_id: 'app',
    scope: 'read write',
    iat: now,
    exp: now + 3600,
    jti: randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
    .sign(privateKey);
const batches = [];
for (let round = 0; round <= ROUNDS; round++) batches.push(await Promise.all(Array.from({ length: TOKENS }, sign)));

/** Microseconds per token, each verified one after the other. */
async function time(verify, tokens) {
  const started = process.hrtime.bigint();
  for (const token of tokens) await verify(token);
  return Number(process.hrtime.bigint() - started) / 1000 / tokens.length;
}

const options = { issuer, audience: 'api', typ: 'at+jwt', algorithms: ['ES256'] };
const bare = (token) => jwtVerify(token, publicKey, options);
// The default cache (10 000 tokens) holds a batch: the cached pass follows the fresh one.
const verifier = createVerifier({ issuer, audience: 'api' });
const kit = (token) => verifier.verify(token);

// Round 0 warms both up; then each round verifies a batch the kit has not seen.
await time(bare, batches[0]);
await time(kit, batches[0]);
const results = { bare: [], fresh: [], cached: [] };
for (let round = 1; round <= ROUNDS; round++) {
  // jose keeps nothing, so one batch serves both; which goes first alternates, so that neither
  // always meets the warmer (or the busier) machine.
  const tokens = batches[round];
  const pair = [async () => results.bare.push(await time(bare, tokens)), async () => results.fresh.push(await time(kit, tokens))];
  for (const run of round % 2 ? pair : pair.reverse()) await run();
  results.cached.push(await time(kit, tokens));
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const [b, f, c] = [median(results.bare), median(results.fresh), median(results.cached)];
console.log(`jose.jwtVerify            ${b.toFixed(1)} µs`);
console.log(`kit, a token not seen     ${f.toFixed(1)} µs  (${((f / b - 1) * 100).toFixed(1)} % more than jose)`);
console.log(`kit, a token seen before  ${c.toFixed(2)} µs  (${(b / c).toFixed(0)}× faster than jose)`);
verifier.close();
server.close();
