import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { link, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { SOX_ENCODING, formatOf, type AudioFormat } from './formats.ts';
import { SoxInfoReader, sha256File } from './measure.ts';
import { problemError, requestProblems } from './request.ts';
import type { ConvertRequest } from './request.schema.ts';
import type { ConvertResult } from './result.schema.ts';
import { AudioPaths } from './roots.ts';
import { Slots } from './slots.ts';
import { SOX_PACKAGES, probeSox, runSox, type SoxCapabilities, type SoxExit } from './sox.ts';

export interface AudioConverterOptions {
  /** The sox binary (SB_AUDIO_SOX). Default `sox`. */
  sox?: string;
  /** Audio roots; undefined means none (the CLI, on an operator's own files). */
  roots?: readonly string[];
  /** sox processes at once (SB_AUDIO_CONCURRENCY). Default: the CPU cores. */
  concurrency?: number;
  /** A conversion running longer is killed (SB_AUDIO_TIMEOUT_MS). Default 600 000. */
  timeoutMs?: number;
  logger: Logger;
  /** How `sox --i` measurements are grouped while conversions run. */
  measure?: { maxBatch?: number; windowMs?: number };
}

export interface ConvertOptions {
  signal?: AbortSignal;
  /** Called with the measured result before it is moved into place (the queue records it, so a rerun can recognise its own output). */
  beforeCommit?: (result: ConvertResult) => Promise<void>;
}

const TRANSIENT_CAUSES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EAGAIN', 'EMFILE', 'ENFILE']);

/** Whether a failure may go away by itself (a full disk, a timeout, a killed process), so a retry makes sense. */
export function isTransient(err: unknown): boolean {
  if (!isSwitchboardError(err)) return true;
  return err.context.transient === true;
}

/**
 * Converts audio files with sox: requests checked before anything runs, paths confined to the
 * audio roots, sox driven with argument arrays (never a shell, `--no-glob` before each name, all
 * names absolute so none reads as an option, a pipe or a URL), at most `concurrency` sox
 * processes, output written to a temporary file beside the target and moved into place only
 * once measured, the input never opened for writing. Failures carry SB_AUDIO_* codes and leave
 * nothing behind.
 */
export class AudioConverter {
  readonly paths: AudioPaths;
  readonly concurrency: number;
  private readonly bin: string;
  private readonly timeoutMs: number;
  private readonly slots: Slots;
  private readonly reader: SoxInfoReader;
  private readonly log: Logger;
  private readonly closing = new AbortController();
  private probing: Promise<SoxCapabilities> | undefined;
  private running = 0;

  constructor(options: AudioConverterOptions) {
    this.bin = options.sox ?? 'sox';
    this.paths = new AudioPaths(options.roots);
    this.concurrency = options.concurrency ?? availableParallelism();
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.slots = new Slots(this.concurrency);
    this.log = options.logger.child({ component: 'audio' });
    // Every conversion in progress listens to it: hundreds at once are normal, not a leak.
    setMaxListeners(0, this.closing.signal);
    this.reader = new SoxInfoReader(this.bin, {
      maxBatch: options.measure?.maxBatch ?? 8 * this.concurrency,
      windowMs: options.measure?.windowMs ?? 100,
      busy: () => this.running > 0 || this.slots.waiting > 0,
    });
  }

  /** Checks sox is there and reads what it supports; SB_AUDIO_CONVERTER_MISSING (naming the package) otherwise. */
  start(): Promise<SoxCapabilities> {
    this.probing ??= probeSox(this.bin).catch((err: unknown) => {
      this.probing = undefined;
      throw err;
    });
    return this.probing;
  }

  /** sox processes running now. */
  get active(): number {
    return this.running;
  }

  async convert(request: ConvertRequest, options: ConvertOptions = {}): Promise<ConvertResult> {
    const started = performance.now();
    const problems = requestProblems(request);
    if (problems[0]) throw problemError(problems[0], problems);
    const inFormat = formatOf(request.input) as AudioFormat;
    const outFormat = formatOf(request.output) as AudioFormat;
    const caps = await this.start();
    for (const [f, pointer] of [[inFormat, '/input'], [outFormat, '/output']] as const) {
      if (!caps.handlers.has(f.handler)) {
        throw new SwitchboardError('SB_AUDIO_FORMAT_UNAVAILABLE', [f.label, `this sox (${caps.bin}) has no ${f.handler} handler: install the Debian package ${f.debianPackage} (or ${SOX_PACKAGES.split(' ')[1]})`], { pointer });
      }
    }

    const input = await this.paths.input(request.input);
    const inStat = await stat(input);
    if (!inStat.isFile()) throw new SwitchboardError('SB_AUDIO_NOT_AUDIO', [request.input, inFormat.label, 'not a regular file']);
    if (inStat.size === 0) throw new SwitchboardError('SB_AUDIO_EMPTY', [request.input, 'the file is empty (0 bytes)']);
    if (inFormat.raw?.bits === 16 && inStat.size % 2 !== 0) throw new SwitchboardError('SB_AUDIO_TRUNCATED', [request.input, `${inStat.size} bytes is not a whole number of 16-bit samples`]);
    if (inFormat.ext === 'gsm' && inStat.size % 33 !== 0) throw new SwitchboardError('SB_AUDIO_TRUNCATED', [request.input, `${inStat.size} bytes is not a whole number of 33-byte GSM frames`]);

    const output = await this.paths.output(request.output);
    const onExists = request.onExists ?? 'error';
    const existing = await stat(output).catch(() => undefined);
    if (output === input || (existing && existing.ino === inStat.ino && existing.dev === inStat.dev)) throw new SwitchboardError('SB_AUDIO_SAME_FILE', [request.output]);
    if (existing && onExists === 'error') throw new SwitchboardError('SB_AUDIO_OUTPUT_EXISTS', [request.output]);
    if (existing && onExists === 'skip') return this.describe('skipped', input, output, outFormat, started, []);

    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    setMaxListeners(0, signal);
    const release = await this.slots.acquire(signal).catch(() => {
      throw new SwitchboardError('SB_AUDIO_ABORTED', [request.input]);
    });
    const temp = join(dirname(output), `.sb-${randomBytes(6).toString('hex')}.${outFormat.ext}`);
    let exit: SoxExit;
    this.running++;
    try {
      exit = await runSox(this.bin, soxArgs(input, inFormat, temp, outFormat, request), { timeoutMs: this.timeoutMs, signal });
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    } finally {
      this.running--;
      release();
    }

    try {
      await this.check(exit, request, inFormat, temp);
      const result = await this.describe('converted', input, temp, outFormat, started, exit.warnings.filter((w) => !/sample rate not specified|channels not specified/.test(w)));
      if (result.samples === 0) throw noAudio(request);
      result.output = output;
      await options.beforeCommit?.(result);
      const committed = await commit(temp, output, onExists, request.output);
      this.log.debug({ input, output, status: committed, ms: result.ms }, 'audio converted');
      if (committed === 'skipped') return this.describe('skipped', input, output, outFormat, started, []);
      result.ms = Math.round(performance.now() - started);
      return result;
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Stops every conversion in progress (each fails SB_AUDIO_ABORTED and leaves nothing behind). */
  close(): void {
    this.closing.abort();
  }

  /** Measures a written file: sox --i for what it holds, the bytes for size and checksum. */
  private async describe(status: ConvertResult['status'], input: string, path: string, format: AudioFormat, started: number, warnings: string[]): Promise<ConvertResult> {
    const [bytes, sha256, info] = await Promise.all([stat(path).then((s) => s.size), sha256File(path), format.soxType === 'raw' ? undefined : this.reader.read(path)]);
    let rate: number;
    let channels: number;
    let bits: number;
    let encoding: string;
    let samples: number | undefined;
    if (info === undefined) {
      // Headerless L16: the name is the format; the size gives the samples.
      const raw = format.raw as NonNullable<AudioFormat['raw']>;
      ({ rate, channels, bits } = raw);
      encoding = `${raw.bits}-bit Signed Integer PCM (raw)`;
      samples = bytes / 2;
    } else if (!info.ok) {
      throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [basename(input), `the written file cannot be read back: ${info.reason}`]);
    } else {
      ({ rate, channels, bits, encoding, samples } = info.info);
      // Raw GSM records no length: 160 samples per 33-byte frame.
      if (samples === undefined && format.ext === 'gsm') samples = Math.floor(bytes / 33) * 160;
    }
    const n = samples ?? 0;
    return { status, input, output: path, format: format.ext, duration: Math.round((n / rate) * 1e6) / 1e6, samples: n, rate, channels, bits, encoding, bytes, sha256, ms: Math.round(performance.now() - started), warnings };
  }

  /** Turns how sox ended into the right SB_AUDIO_* failure (sox reports a full disk with exit code 0). */
  private async check(exit: SoxExit, request: ConvertRequest, inFormat: AudioFormat, temp: string): Promise<void> {
    if (exit.stopped === 'timeout') throw new SwitchboardError('SB_AUDIO_TIMEOUT', [request.input, this.timeoutMs], { transient: true });
    if (exit.stopped === 'aborted') throw new SwitchboardError('SB_AUDIO_ABORTED', [request.input]);
    if (exit.signal) throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, `sox was killed (${exit.signal})`], { transient: true });
    if (exit.fails.length > 0 || exit.code !== 0) {
      const text = exit.fails.join('; ') || `exit code ${exit.code}`;
      if (/can't open input file/.test(text)) {
        if (/No such file or directory/.test(text)) throw new SwitchboardError('SB_AUDIO_NOT_FOUND', [request.input, 'no such file (removed while queued?)']);
        throw new SwitchboardError('SB_AUDIO_NOT_AUDIO', [request.input, inFormat.label, stripName(text)]);
      }
      if (/output file|write failed|error writing|No space left|Read-only file system|Permission denied|quota/i.test(text)) {
        const cause = await writeCause(text, dirname(temp));
        throw new SwitchboardError('SB_AUDIO_WRITE_FAILED', [request.output, `${stripName(text)} (${cause})`], { cause, transient: TRANSIENT_CAUSES.has(cause) });
      }
      throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, stripName(text)]);
    }
    const truncated = exit.warnings.find((w) => /premature EOF|unexpected EOF|truncated/i.test(w));
    if (truncated) throw new SwitchboardError('SB_AUDIO_TRUNCATED', [request.input, stripName(truncated)]);
    if (exit.samplesOut === 0) throw noAudio(request);
  }
}

function noAudio(request: ConvertRequest): SwitchboardError {
  return new SwitchboardError('SB_AUDIO_EMPTY', [request.input, request.trimSilence ? 'nothing but silence' : 'no samples (a header without data, or a recording still being written)']);
}

/** sox's arguments: input format (spelled out for headerless files), output format, effects. */
export function soxArgs(input: string, inFormat: AudioFormat, output: string, outFormat: AudioFormat, o: ConvertRequest): string[] {
  // -S (lossy outputs only: elsewhere the output's own sample count tells): the final progress
  // line says how many samples reached the encoder, 0 for an input without audio.
  // -R: the same dither noise on every run, so converting the same file again gives the same bytes.
  const args = [outFormat.lossy ? '-S' : '-q', '-R', ...formatArgs(inFormat), '--no-glob', input];
  const codec = o.codec ?? outFormat.codecs[0];
  const rate = outFormat.raw?.rate ?? o.rate ?? (codec === 'gsm' ? 8000 : outFormat.fixedRate);
  const channels = outFormat.raw ? 1 : (o.channels ?? (codec === 'gsm' ? 1 : outFormat.fixedChannels));
  args.push('-t', outFormat.soxType);
  if (rate !== undefined) args.push('-r', String(rate));
  if (channels !== undefined) args.push('-c', String(channels));
  if (outFormat.raw) {
    if (outFormat.soxType === 'raw') args.push('-e', outFormat.raw.encoding, '-b', String(outFormat.raw.bits));
  } else {
    if (outFormat.ext === 'wav' && codec !== undefined) {
      if (codec === 'pcm') {
        const bits = o.bits ?? 16;
        args.push('-e', bits === 8 ? 'unsigned-integer' : 'signed-integer', '-b', String(bits));
      } else {
        args.push('-e', SOX_ENCODING[codec]);
        if (codec !== 'gsm') args.push('-b', '8');
      }
    } else if (outFormat.bits) {
      args.push('-b', String(o.bits ?? outFormat.bits[0]));
    }
  }
  args.push('--no-glob', output);
  // Mixing and resampling first, so a level set below is the level of what is written.
  if (channels !== undefined) args.push('channels', String(channels));
  if (rate !== undefined) args.push('rate', String(rate));
  if (o.trimSilence) args.push('silence', '1', '0.02', '-45d', 'reverse', 'silence', '1', '0.02', '-45d', 'reverse');
  if (o.normalise !== undefined && o.normalise !== false) args.push('gain', '-n', String(o.normalise === true ? -1 : o.normalise));
  if (o.gain !== undefined) args.push('gain', String(o.gain));
  return args;
}

function formatArgs(f: AudioFormat): string[] {
  if (!f.raw) return ['-t', f.soxType];
  const args = ['-t', f.soxType, '-r', String(f.raw.rate), '-c', '1'];
  if (f.soxType === 'raw') args.push('-e', f.raw.encoding, '-b', String(f.raw.bits));
  return args;
}

/** `formats: can't open input file `/x/a.wav': WAVE: RIFF header not found` → `WAVE: RIFF header not found`: the name is said elsewhere. */
function stripName(text: string): string {
  return text.replace(/^[a-z0-9]+: /, '').replace(/(?:can't open (?:input|output) file )?`[^']*':? ?/g, '').trim() || text;
}

/** The errno behind a write failure: from sox's words, else from the free space left. */
async function writeCause(text: string, dir: string): Promise<string> {
  if (/No space left/i.test(text)) return 'ENOSPC';
  if (/quota/i.test(text)) return 'EDQUOT';
  if (/Read-only file system/i.test(text)) return 'EROFS';
  if (/Permission denied/i.test(text)) return 'EACCES';
  // lame says "File write failed: Unknown error -1" when the disk is full.
  const fs = await statfs(dir).catch(() => undefined);
  if (fs && fs.bavail * fs.bsize < 64 * 1024) return 'ENOSPC';
  return 'EIO';
}

/**
 * Moves the measured temporary file into place. overwrite: rename (atomic replace). error and
 * skip: link, which fails if the name exists, so a file that appeared meanwhile is never
 * replaced; filesystems without hard links fall back to check-then-rename.
 */
async function commit(temp: string, output: string, onExists: 'error' | 'overwrite' | 'skip', shown: string): Promise<'converted' | 'skipped'> {
  const exists = async (): Promise<'skipped'> => {
    await unlink(temp);
    if (onExists === 'skip') return 'skipped';
    throw new SwitchboardError('SB_AUDIO_OUTPUT_EXISTS', [shown]);
  };
  try {
    if (onExists === 'overwrite') {
      await rename(temp, output);
      return 'converted';
    }
    try {
      await link(temp, output);
      await unlink(temp);
      return 'converted';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return await exists();
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
      if (await stat(output).then(() => true, () => false)) return await exists();
      await rename(temp, output);
      return 'converted';
    }
  } catch (err) {
    if (isSwitchboardError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new SwitchboardError('SB_AUDIO_WRITE_FAILED', [shown, `${(err as Error).message} (${code})`], { cause: code, transient: TRANSIENT_CAUSES.has(code) });
  }
}
