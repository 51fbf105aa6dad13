import { Command } from 'commander';
import { loadConfig, loadDotEnv, parseWorkerQueues } from '../config.ts';
import { EslClient } from '../esl/index.ts';
import { CallJournal } from '../history/call-journal.ts';
import { RedisCallHistory } from '../history/redis-call-history.ts';
import { createLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { BatchWorker, CallWorker, allListeners } from '../queue/index.ts';
import { CallWebhooks, WebhookWorker } from '../webhooks/index.ts';
import { startAudioWorker } from './audio-worker.ts';
import { stopOnSignals } from './stop-signals.ts';

/**
 * `switchboard worker`: dials queued outbound calls only (no flows run here): answered calls
 * connect back to SB_OUTBOUND_HOST:SB_OUTBOUND_PORT, a Switchboard service that runs them. It
 * also delivers status webhooks (of any instance's calls: they share the Redis queue).
 */
export function workerCommand(): Command {
  return new Command('worker')
    .description('dial queued outbound calls (BullMQ worker); answered calls connect back to the service at SB_OUTBOUND_HOST:PORT. With --queues audio: convert audio files (run it where they are)')
    .option('--queues <list>', 'queues to work on: calls, audio, or calls,audio (default: SB_WORKER_QUEUES, else calls)')
    .action(async (o: { queues?: string }) => {
      loadDotEnv();
      const config = loadConfig();
      const log = createLogger(config.logLevel);
      if (!config.redisUrl) {
        log.fatal('REDIS_URL is not set: the worker takes its jobs from Redis');
        process.exit(1);
      }
      const queues = (o.queues !== undefined ? parseWorkerQueues(o.queues) : config.workerQueues) ?? ['calls'];
      const audio = queues.includes('audio') ? await startAudioWorker(config, log, !queues.includes('calls')) : undefined;
      if (!queues.includes('calls')) return;
      const esl = new EslClient({ ...config.esl, logger: log, timeoutMs: config.esl.commandTimeoutMs, reconnect: { maxMs: config.esl.reconnectMaxMs } });
      await esl.start();
      const q = config.queue;
      const wh = config.webhooks;
      const metrics = new Metrics();
      const webhookWorker = new WebhookWorker({ connection: config.redisUrl, prefix: q.prefix, logger: log, metrics, secrets: wh.secrets, timeoutMs: wh.timeoutMs, concurrency: wh.concurrency });
      await webhookWorker.start();
      const webhooks = new CallWebhooks({ connection: config.redisUrl, prefix: q.prefix, logger: log, metrics, attempts: wh.attempts, backoffMs: wh.backoffMs });
      const journal = new CallJournal(new RedisCallHistory({ url: config.redisUrl, prefix: q.prefix, max: config.callHistory.max, retentionSec: config.callHistory.retentionSec, logger: log }));
      const onEvent = allListeners(journal.onJobEvent, webhooks.listener);
      const worker = new CallWorker({ connection: config.redisUrl, prefix: q.prefix, esl, outbound: config.outbound, logger: log, metrics, pacing: { cps: q.cps, maxConcurrent: q.maxConcurrent, perGateway: q.perGateway }, defaultGateway: q.defaultGateway, onEvent });
      await worker.start();
      // Batches (campaigns) are expanded into call jobs here too.
      const batchWorker = new BatchWorker({ connection: config.redisUrl, prefix: q.prefix, logger: log, onEvent });
      await batchWorker.start();
      log.info({ outbound: config.outbound, cps: q.cps, maxConcurrent: q.maxConcurrent }, 'switchboard worker is running');
      stopOnSignals(log, 'handing back the jobs in hand', async () => {
        await batchWorker.close();
        await audio?.close();
        await worker.close();
        await webhooks.close();
        await webhookWorker.close();
        await journal.close();
        await esl.close();
      }, config.shutdownTimeoutMs);
    });
}
