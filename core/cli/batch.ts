import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { loadConfig, loadDotEnv } from '../config.ts';
import type { BatchAccepted, BatchStatus, RejectedRow } from '../queue/index.ts';

interface Options {
  flow: string;
  from?: string;
  gateway?: string;
  name?: string;
  var?: string[];
  attempts?: string;
  strict?: boolean;
  idempotencyKey?: string;
  detach?: boolean;
  url?: string;
}

interface ApiError {
  code: string;
  message: string;
  pointer?: string;
  problems?: Array<Partial<RejectedRow>>;
}

class Refused extends Error {}

function describeRow(r: Partial<RejectedRow>): string {
  return `  ${r.row !== undefined ? `row ${r.row}` : ''}${r.line !== undefined ? ` (line ${r.line})` : ''} ${r.pointer ?? ''}: ${r.message ?? ''}`;
}

/** One line of progress: a bar on a terminal, plain counts otherwise. */
function progressLine(s: BatchStatus, tty: boolean): string {
  const c = s.counts;
  const parts = [`${c.done}/${s.total} done`, `${c.pending + c.queued} waiting`, `${c.dialing} dialing`, `${c.answered} answered`, `${c.completed} completed`, `${c.failed} failed`];
  if (c.retrying > 0) parts.push(`${c.retrying} retrying`);
  if (c.cancelled > 0) parts.push(`${c.cancelled} cancelled`);
  if (s.state === 'paused') parts.push('PAUSED');
  const text = parts.join(' · ');
  if (!tty) return text;
  const width = 30;
  const filled = s.total > 0 ? Math.round((c.done / s.total) * width) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
}

/**
 * `switchboard batch <file.csv> --flow <name>`: uploads a CSV batch to the running service's
 * REST API (SB_API_KEY), lists the rejected rows, then shows progress until every call has
 * ended (a bar on a terminal, a line per change otherwise), or with --detach prints the batch id.
 */
export function batchCommand(): Command {
  return new Command('batch')
    .description('start a batch (campaign) of outbound calls from a CSV file (header row: to, then vars) and follow it until done')
    .argument('<file.csv>', 'CSV file: a header row naming the columns (to, optionally from and callerName, every other column a channel variable)')
    .requiredOption('--flow <name>', 'flow the answered calls run')
    .option('--from <number>', 'caller id number (a "from" column overrides it per row)')
    .option('--gateway <name>', 'SIP gateway to dial through')
    .option('--name <label>', 'a name for the batch')
    .option('--var <k=v...>', 'channel variables shared by every row', (v: string, all: string[] = []) => [...all, v])
    .option('--attempts <n>', 'dial attempts per row')
    .option('--strict', 'refuse the whole batch if any row is invalid (default: queue the valid rows, list the others)')
    .option('--idempotency-key <key>', 'the same key never starts a second batch')
    .option('--detach', 'print the batch id and return at once instead of following it')
    .option('--url <url>', 'the service\'s HTTP address (default: from SB_HTTP_HOST/SB_HTTP_PORT)')
    .action(async (file: string, o: Options) => {
      loadDotEnv();
      const config = loadConfig();
      const base = o.url ?? `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${config.http.port}`;
      const key = process.env.SB_API_KEY;
      const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
      const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
        let res: Response;
        try {
          res = await fetch(`${base}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
        } catch (err) {
          throw new Refused(`cannot reach Switchboard at ${base}: ${(err as Error).message}`);
        }
        const body = (await res.json()) as T | ApiError;
        if (res.status >= 400) {
          const e = body as ApiError;
          const rows = (e.problems ?? []).map(describeRow).join('\n');
          throw new Refused(`${e.code}${e.pointer ? ` at ${e.pointer}` : ''}: ${e.message}${res.status === 401 ? ' (set SB_API_KEY to a key the service knows)' : ''}${rows ? `\n${rows}` : ''}`);
        }
        return body as T;
      };
      try {
        const csv = await readFile(file, 'utf8').catch((err: Error) => {
          throw new Refused(`cannot read ${file}: ${err.message}`);
        });
        const query = new URLSearchParams({ flow: o.flow });
        for (const [k, v] of [['from', o.from], ['gateway', o.gateway], ['name', o.name], ['attempts', o.attempts]] as const) if (v !== undefined) query.set(k, v);
        for (const kv of o.var ?? []) query.set(`vars.${kv.slice(0, kv.indexOf('='))}`, kv.slice(kv.indexOf('=') + 1));
        if (o.strict) query.set('strict', 'true');
        const headers = { 'content-type': 'text/csv', ...(o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}) };
        const made = await call<BatchAccepted>(`/v1/batches?${query}`, { method: 'POST', headers, body: csv });
        process.stdout.write(`batch ${made.batchId}: ${made.accepted} rows accepted, ${made.rejected.length} rejected${made.created ? '' : ' (already started with this idempotency key)'}\n`);
        for (const r of made.rejected) process.stderr.write(`${describeRow(r)}\n`);
        if (o.detach) return;

        const tty = process.stdout.isTTY === true;
        let last = '';
        for (;;) {
          const s = await call<BatchStatus>(`/v1/batches/${made.batchId}`);
          const line = progressLine(s, tty);
          if (line !== last) process.stdout.write(tty ? `\r${line}` : `${line}\n`);
          last = line;
          if (s.finishedAt !== undefined) {
            const c = s.counts;
            process.stdout.write(`${tty ? '\n' : ''}${s.state}: ${c.completed} completed, ${c.failed} failed, ${c.cancelled} cancelled\n`);
            process.exitCode = s.state === 'done' ? 0 : 1;
            return;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      } catch (err) {
        process.stderr.write(`${err instanceof Refused ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    });
}
