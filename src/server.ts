// Runs the server: open the core (migrating the database unless TESSERA_MIGRATE=false), serve, and
// stop cleanly on a signal.
import { isLoopbackHost, type Config } from './config.js';
import { buildAdminApp, buildApp } from './app.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { findGrant } from './oauth/grants/index.js';
import { Tessera } from './tessera.js';

export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.logLevel ?? 'info');
  const tessera = await Tessera.open(config, log, { background: true, schema: config.migrate ? 'apply' : 'check' });
  for (const client of await tessera.clients.list()) {
    for (const grant of client.grants.map(findGrant)) {
      if (grant?.rules.deprecated) {
        log.warn({ client: client.id, name: client.name }, `client is registered for the ${grant.name} grant, which RFC 9700 deprecates`);
      }
    }
  }
  // Listening beyond this machine while the issuer names it (the image's default) means clients
  // elsewhere are given a wrong issuer, and cookies go out without Secure.
  if (!isLoopbackHost(config.host) && isLoopbackHost(new URL(config.issuer).hostname)) {
    log.warn(
      { host: config.host, issuer: config.issuer },
      'listening beyond this machine with a localhost issuer: set TESSERA_ISSUER to the public https URL',
    );
  }
  const metrics = new Metrics();
  const app = await buildApp(tessera, metrics);
  const admin = await buildAdminApp(tessera, metrics);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await Promise.all([app.close(), admin.close()]);
    await tessera.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  await admin.listen({ port: config.adminPort, host: config.adminHost });
  const adminAddress = admin.server.address();
  const adminPort = typeof adminAddress === 'object' && adminAddress ? adminAddress.port : config.adminPort;
  log.info({ issuer: config.issuer, database: config.dialect, admin: `${config.adminHost}:${adminPort}` }, 'tessera is serving');
}
