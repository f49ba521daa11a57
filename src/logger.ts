// The one logger. Secrets never reach it: request logs carry no headers or bodies, and these
// paths are redacted should anything ever log them.
import pino, { type DestinationStream, type Logger } from 'pino';

/** For the admin command: warnings as plain lines on stderr, not JSON. */
const plainStderr = {
  write(line: string) {
    const { msg } = JSON.parse(line) as { msg?: string };
    process.stderr.write(`tessera: ${msg ?? line}\n`);
  },
};

/** `target`: stdout (JSON lines), the admin command's stderr, or a stream of JSON lines (tests read it). */
export function createLogger(level: string, target: 'stdout' | 'cli' | DestinationStream = 'stdout'): Logger {
  return pino(
    {
      level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'password',
          'client_secret',
          'client_assertion',
          'token',
          'refresh_token',
          'access_token',
        ],
        censor: '[redacted]',
      },
    },
    target === 'cli' ? plainStderr : target === 'stdout' ? pino.destination(1) : target,
  );
}
