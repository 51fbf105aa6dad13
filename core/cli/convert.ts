import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { AudioConverter, AudioPaths, AudioQueue, audioRoots, checkRequest, expandBatch, runBatch, type AudioRequest, type ConvertOptions, type ConvertResult, type ItemOutcome } from '../audio/index.ts';
import { loadConfig, loadDotEnv, type Config } from '../config.ts';
import { isSwitchboardError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { progress } from './progress.ts';

interface Flags {
  batch?: string;
  to?: string;
  glob?: string;
  recursive?: boolean;
  outDir?: string;
  rate?: number;
  channels?: number;
  bits?: number;
  codec?: string;
  gain?: number;
  normalise?: boolean | string;
  trimSilence?: boolean;
  overwrite?: boolean;
  skipExisting?: boolean;
  queue?: boolean;
  detach?: boolean;
  json?: boolean;
}

/** A name as the terminal should show it: control characters and quotes escaped. */
export function shown(path: string): string {
  return /[\u0000-\u001f"\u007f]/.test(path) ? JSON.stringify(path) : path;
}

export function describeResult(r: ConvertResult): string {
  return `${r.duration.toFixed(2)} s  ${r.rate} Hz  ${r.channels} ch  ${r.encoding}  ${r.bytes.toLocaleString('en')} B  sha256 ${r.sha256.slice(0, 12)}`;
}

function itemLine(o: ItemOutcome): string {
  if (!o.ok) return `FAIL  ${shown(o.input)}  ${o.error.code}  ${o.error.message}`;
  return `${o.result.status === 'skipped' ? 'skip' : 'ok  '}  ${shown(o.input)} → ${shown(o.result.output)}  ${describeResult(o.result)}`;
}

function fail(err: unknown): void {
  const e = err as { code?: string; message: string; context?: { pointer?: string } };
  process.stderr.write(`${isSwitchboardError(err) ? e.code : 'error'}${e.context?.pointer ? ` at ${e.context.pointer}` : ''}: ${e.message}\n`);
  process.exitCode = 1;
}

/** The request the flags describe; paths are made absolute here, against the working directory. */
function requestOf(input: string | undefined, output: string | undefined, f: Flags): AudioRequest {
  const options: Record<string, unknown> = {
    ...(f.rate !== undefined ? { rate: f.rate } : {}),
    ...(f.channels !== undefined ? { channels: f.channels } : {}),
    ...(f.bits !== undefined ? { bits: f.bits } : {}),
    ...(f.codec !== undefined ? { codec: f.codec } : {}),
    ...(f.gain !== undefined ? { gain: f.gain } : {}),
    ...(f.normalise !== undefined ? { normalise: f.normalise === true ? true : Number(f.normalise) } : {}),
    ...(f.trimSilence ? { trimSilence: true } : {}),
    ...(f.overwrite ? { onExists: 'overwrite' } : f.skipExisting ? { onExists: 'skip' } : {}),
  };
  if (f.batch !== undefined) {
    if (input !== undefined) throw new Error('--batch takes a folder: give no input/output arguments');
    const batch = { dir: resolve(f.batch), ...(f.glob !== undefined ? { glob: f.glob } : {}), ...(f.recursive ? { recursive: true } : {}) };
    return checkRequest({ batch, to: f.to, ...(f.outDir !== undefined ? { outDir: resolve(f.outDir) } : {}), ...options });
  }
  if (input === undefined || output === undefined) throw new Error('give <input> <output>, or --batch <dir> --to <format>');
  return checkRequest({ input: resolve(input), output: resolve(output), ...(options as ConvertOptions) });
}

/** `switchboard convert`: sox on this machine (an operator's own files: no audio roots), or through the audio queue with --queue. */
export function convertCommand(): Command {
  return new Command('convert')
    .description('convert audio files with sox: <input> <output>, or a folder with --batch <dir> --to <format>')
    .argument('[input]', 'file to convert (its extension names its format)')
    .argument('[output]', 'where the result goes (written atomically; its extension names the format)')
    .option('--batch <dir>', 'convert the audio files of a folder')
    .option('--to <format>', 'batch: output format (wav, gsm, r8, r16, r24, r32, r48, ul, al, mp3, ogg, flac)')
    .option('--glob <pattern>', 'batch: only files matching this, relative to the folder ("*.gsm", "2025-*/**/*.wav")')
    .option('--recursive', 'batch: sub-folders too')
    .option('--out-dir <dir>', 'batch: where outputs go, sub-folders kept (default: beside each input)')
    .option('--rate <hz>', 'sample rate, e.g. 8000', Number)
    .option('--channels <n>', '1 or 2', Number)
    .option('--bits <n>', 'PCM bit depth (WAV, FLAC)', Number)
    .option('--codec <codec>', 'WAV codec: pcm, mulaw, alaw, gsm')
    .option('--gain <dB>', 'gain in dB', Number)
    .option('--normalise [dBFS]', 'loudest peak at -1 dBFS, or at the level given')
    .option('--trim-silence', 'cut silence at the start and the end')
    .option('--overwrite', 'replace outputs that exist')
    .option('--skip-existing', 'keep outputs that exist (reported as skipped)')
    .option('--queue', 'queue it for an audio worker (REDIS_URL; paths inside SB_AUDIO_ROOTS) and follow it')
    .option('--detach', 'with --queue: print the job id and return')
    .option('--json', 'print results as JSON')
    .action(async (input: string | undefined, output: string | undefined, flags: Flags) => {
      loadDotEnv();
      const config = loadConfig();
      let request: AudioRequest;
      try {
        request = requestOf(input, output, flags);
      } catch (err) {
        fail(err);
        return;
      }
      if (flags.queue) await viaQueue(config, request, flags);
      else await locally(config, request, flags);
    });
}

async function locally(config: Config, request: AudioRequest, flags: Flags): Promise<void> {
  const converter = new AudioConverter({ sox: config.audio.sox, concurrency: config.audio.concurrency, timeoutMs: config.audio.timeoutMs, logger: createLogger('warn', process.stderr) });
  // Ctrl-C: every sox is stopped and its unfinished output removed.
  const onSigint = (): void => converter.close();
  process.once('SIGINT', onSigint);
  try {
    await converter.start();
    if (!('batch' in request)) {
      const r = await converter.convert(request);
      process.stdout.write(flags.json ? `${JSON.stringify(r)}\n` : `${r.status === 'skipped' ? 'skipped (exists)' : 'converted'} ${shown(r.input)} → ${shown(r.output)}  ${describeResult(r)}\n`);
      return;
    }
    const items = await expandBatch(converter, request);
    const p = progress({ tty: process.stderr.isTTY === true && !flags.json, out: process.stdout, err: process.stderr, total: items.length });
    const outcomes = await runBatch(converter, request, items, {
      parallel: 4 * converter.concurrency,
      attempts: config.audio.attempts,
      onItem: (o) => p.item(!o.ok, itemLine(o)),
    });
    p.end();
    const failed = outcomes.filter((o) => !o.ok).length;
    const skipped = outcomes.filter((o) => o.ok && o.result.status === 'skipped').length;
    if (flags.json) process.stdout.write(`${JSON.stringify({ total: items.length, converted: items.length - failed - skipped, skipped, failed, items: outcomes })}\n`);
    else process.stdout.write(`${items.length} files: ${items.length - failed - skipped} converted, ${skipped} skipped, ${failed} failed\n`);
    if (failed > 0) process.exitCode = 1;
  } catch (err) {
    fail(err);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function viaQueue(config: Config, request: AudioRequest, flags: Flags): Promise<void> {
  if (!config.redisUrl) {
    process.stderr.write('REDIS_URL is not set: --queue sends the work through Redis to an audio worker\n');
    process.exitCode = 1;
    return;
  }
  const queue = new AudioQueue({ connection: config.redisUrl, prefix: config.queue.prefix, logger: createLogger('warn', process.stderr), paths: new AudioPaths(audioRoots(config)), attempts: config.audio.attempts });
  try {
    const { jobId, kind } = await queue.add(request);
    process.stderr.write(`queued ${kind} job ${jobId}\n`);
    if (flags.detach) {
      process.stdout.write(`${jobId}\n`);
      return;
    }
    const p = kind === 'batch' ? progress({ tty: process.stderr.isTTY === true && !flags.json, out: process.stderr, err: process.stderr }) : undefined;
    for (;;) {
      const job = await queue.get(jobId, { items: 'none' });
      if (!job) throw new Error(`job ${jobId} disappeared`);
      if (p) {
        p.total(job.progress.total);
        p.set(job.progress.done, job.progress.failed);
      }
      if (job.state === 'completed' || job.state === 'failed') {
        p?.end();
        const full = kind === 'batch' ? await queue.get(jobId, { items: 'failed' }) : job;
        if (flags.json) process.stdout.write(`${JSON.stringify(full)}\n`);
        else if (job.state === 'failed') process.stderr.write(`${job.error?.code ?? 'failed'}: ${job.error?.message ?? ''}\n`);
        else if (job.result) process.stdout.write(`converted ${shown(job.result.input)} → ${shown(job.result.output)}  ${describeResult(job.result)}\n`);
        else if (job.summary) {
          for (const o of full?.items ?? []) process.stdout.write(`${itemLine(o)}\n`);
          process.stdout.write(`${job.summary.total} files: ${job.summary.converted} converted, ${job.summary.skipped} skipped, ${job.summary.failed} failed\n`);
        }
        if (job.state === 'failed' || (job.summary?.failed ?? 0) > 0) process.exitCode = 1;
        return;
      }
      await sleep(250);
    }
  } catch (err) {
    fail(err);
  } finally {
    await queue.close();
  }
}
