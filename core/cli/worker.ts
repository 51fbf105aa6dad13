import { Command } from 'commander';
import { loadConfig, loadDotEnv } from '../config.ts';
import { EslClient } from '../esl/index.ts';
import { createLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { CallWorker } from '../queue/index.ts';

/**
 * `switchboard worker`: dials queued outbound calls only (no flows run here): answered calls
 * connect back to SB_OUTBOUND_HOST:SB_OUTBOUND_PORT, a Switchboard service that runs them.
 */
export function workerCommand(): Command {
  return new Command('worker')
    .description('dial queued outbound calls (BullMQ worker); answered calls connect back to the service at SB_OUTBOUND_HOST:PORT')
    .action(async () => {
      loadDotEnv();
      const config = loadConfig();
      const log = createLogger(config.logLevel);
      if (!config.redisUrl) {
        log.fatal('REDIS_URL is not set: the worker takes its jobs from Redis');
        process.exit(1);
      }
      const esl = new EslClient({ ...config.esl, logger: log, timeoutMs: config.esl.commandTimeoutMs, reconnect: { maxMs: config.esl.reconnectMaxMs } });
      await esl.start();
      const q = config.queue;
      const worker = new CallWorker({ connection: config.redisUrl, prefix: q.prefix, esl, outbound: config.outbound, logger: log, metrics: new Metrics(), pacing: { cps: q.cps, maxConcurrent: q.maxConcurrent, perGateway: q.perGateway }, defaultGateway: q.defaultGateway });
      await worker.start();
      log.info({ outbound: config.outbound, cps: q.cps, maxConcurrent: q.maxConcurrent }, 'switchboard worker is running');
      const stop = async (signal: string): Promise<void> => {
        log.info({ signal }, 'stopping: handing back the jobs in hand');
        await worker.close();
        await esl.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    });
}
