// The benchmark's baseline: a bare Fastify route on the same machine, parsing the same kind of
// form body (or query string, for GET) and answering a small JSON object. Run by scripts/bench.ts as a child process.
import Fastify from 'fastify';
import formbody from '@fastify/formbody';

const app = Fastify();
await app.register(formbody);
app.post('/baseline', async (request) => ({ ok: true, fields: Object.keys((request.body as object) ?? {}).length }));
// The GET counterpart, for pages read with a query string (/authorize).
app.get('/baseline', async (request) => ({ ok: true, fields: Object.keys((request.query as object) ?? {}).length }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
