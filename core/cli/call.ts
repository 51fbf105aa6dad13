import { Command } from 'commander';
import { loadConfig, loadDotEnv } from '../config.ts';
import { createLogger } from '../log.ts';
import { CallQueue, type CallJob } from '../queue/index.ts';

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** `switchboard call <to> --flow <name>`: queues one outbound call (the workers dial it). */
export function callCommand(): Command {
  return new Command('call')
    .description('queue an outbound call: a worker dials it and, once answered, runs the flow')
    .argument('<to>', 'number or endpoint to dial')
    .requiredOption('--flow <name>', 'flow the answered call runs')
    .option('--from <number>', 'caller id number')
    .option('--gateway <name>', 'SIP gateway to dial through')
    .option('--var <k=v...>', 'channel variables for the flow', (v: string, all: string[] = []) => [...all, v])
    .option('--attempts <n>', 'dial attempts in all', (v) => Number(v))
    .option('--idempotency-key <key>', 'the same key never queues a second call')
    .option('--detach', 'print the job and return at once instead of following it')
    .action(async (to: string, o: { flow: string; from?: string; gateway?: string; var?: string[]; attempts?: number; idempotencyKey?: string; detach?: boolean }) => {
      loadDotEnv();
      const config = loadConfig();
      if (!config.redisUrl) {
        process.stderr.write('REDIS_URL is not set: outbound calls go through the Redis queue\n');
        process.exitCode = 1;
        return;
      }
      const queue = new CallQueue({ connection: config.redisUrl, prefix: config.queue.prefix, logger: createLogger('warn', process.stderr) });
      try {
        const vars = Object.fromEntries((o.var ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
        const job: CallJob = { to, flow: o.flow, ...(o.from ? { from: o.from } : {}), ...(o.gateway ? { gateway: o.gateway } : {}), ...(o.var ? { vars } : {}), ...(o.attempts ? { attempts: o.attempts } : {}), ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}) };
        const { jobId, callId } = await queue.add(job);
        process.stdout.write(`queued job ${jobId}, call ${callId}\n`);
        if (o.detach) return;
        let last = '';
        for (;;) {
          const state = await queue.get(jobId);
          const line = `${state?.state ?? 'unknown'}${state?.cause ? ` (${state.cause})` : ''}`;
          if (line !== last) process.stdout.write(`${line}\n`);
          last = line;
          if (!state || FINAL.has(state.state)) {
            process.exitCode = state?.state === 'completed' ? 0 : 1;
            return;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      } catch (err) {
        const e = err as { code?: string; message: string; context?: { pointer?: string } };
        process.stderr.write(`${e.code ?? 'error'}${e.context?.pointer ? ` at ${e.context.pointer}` : ''}: ${e.message}\n`);
        process.exitCode = 1;
      } finally {
        await queue.close();
      }
    });
}
