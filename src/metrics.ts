// Prometheus metrics (prom-client): requests by route and status, latency, tokens issued, failed
// and throttled sign-ins, and the version running.
// One registry per app, so that several apps in one process (tests) keep their own counts.
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

let version: string | undefined;

/** package.json's version, read once: src/ and the bundle in dist/ both sit one folder below it. */
export function tesseraVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version);
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'tessera_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly tokensIssued = new Counter({
    name: 'tessera_tokens_issued_total',
    help: 'Access tokens issued by grant type and format',
    labelNames: ['grant', 'format'] as const,
    registers: [this.registry],
  });

  readonly streamListeners = new Gauge({
    name: 'tessera_revocation_stream_listeners',
    help: 'Listeners connected to the revocation stream on this instance',
    registers: [this.registry],
  });
  readonly slowListenersCut = new Counter({
    name: 'tessera_revocation_stream_cut_off_total',
    help: 'Revocation stream listeners cut off for not reading',
    registers: [this.registry],
  });

  readonly signInFailures = new Counter({
    name: 'tessera_sign_in_failures_total',
    help: 'Sign-ins refused for a wrong username or password, by endpoint (the password grant, the sign-in page)',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly throttled = new Counter({
    name: 'tessera_throttled_total',
    help: 'Sign-in attempts refused by the login throttle (429), by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: 'tessera_build_info',
    help: 'Always 1: the version of Tessera and of Node.js this instance runs',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
    this.buildInfo.set({ version: tesseraVersion(), node: process.version }, 1);
  }
}
