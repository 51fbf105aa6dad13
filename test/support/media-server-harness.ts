// A real MediaServer on a free port for core/media's tests, its log lines kept (parsed) for
// assertions, and a cleanup list run after each test (servers, clients, sockets, folders).
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { MediaServer, type MediaServerOptions } from '../../core/media/index.ts';

export interface LogLine {
  level: number;
  msg: string;
  code?: string;
  status?: number;
  reason?: string;
  callId?: string;
  [k: string]: unknown;
}

export interface MediaServerHarness {
  /** Run after the current test, last added first. */
  cleanups: Array<() => Promise<void> | void>;
  start(options?: Partial<MediaServerOptions>): Promise<{ server: MediaServer; logs: LogLine[]; port: number }>;
}

/** Call at the top of a test file: `defaults` apply to every server it starts. */
export function mediaServerHarness(defaults: Partial<MediaServerOptions> & { secret: string }): MediaServerHarness {
  const cleanups: MediaServerHarness['cleanups'] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    cleanups,
    async start(options = {}) {
      const logs: LogLine[] = [];
      const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
      const server = new MediaServer({ host: '127.0.0.1', port: 0, logger, ...defaults, ...options });
      const { port } = await server.start();
      cleanups.push(() => server.close());
      return { server, logs, port };
    },
  };
}
