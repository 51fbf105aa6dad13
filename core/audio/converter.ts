import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { link, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { SOX_ENCODING, formatOf, type AudioFormat } from './formats.ts';
import { SoxInfoReader, sha256File, type InfoResult } from './measure.ts';
import { Mp3FrameWalker } from './mp3-frames.ts';
import { OggOpusWalker } from './ogg-opus.ts';
import { WavWalker } from './wav-header.ts';
import { LauncherGone } from './launcher.ts';
import { OPUS_PACKAGE, opusDecoder, opusEncoder, probeOpusTools, readOggOpus, type OpusTools } from './opus.ts';
import { problemError, requestProblems } from './request.ts';
import type { ConvertRequest } from './request.schema.ts';
import type { ConvertResult } from './result.schema.ts';
import { AudioPaths } from './roots.ts';
import { Slots } from './slots.ts';
import { SOX_PACKAGES, probeSox, runSox, type SoxCapabilities, type SoxExit, type ToolExit } from './sox.ts';

export interface AudioConverterOptions {
  /** The sox binary (SB_AUDIO_SOX). Default `sox`. */
  sox?: string;
  /** opus-tools' encoder and decoder, for `.opus` (opus.ts). Default `opusenc`, `opusdec`. */
  opusenc?: string;
  opusdec?: string;
  /** Audio roots; undefined means none (the CLI, on an operator's own files). */
  roots?: readonly string[];
  /** Conversions (sox processes) at once (SB_AUDIO_CONCURRENCY). Default: the CPU cores. */
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
 * names absolute so none reads as an option, a pipe or a URL), at most `concurrency` conversions
 * at once (each one sox, piped to opusenc or from opusdec for Opus), output written to a
 * temporary file beside the target and moved into place only once measured, the input never
 * opened for writing. Failures carry SB_AUDIO_* codes and leave nothing behind.
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
  private readonly opus: OpusTools;
  private opusProbe: ReturnType<typeof probeOpusTools> | undefined;
  private running = 0;

  constructor(options: AudioConverterOptions) {
    this.bin = options.sox ?? 'sox';
    this.opus = { opusenc: options.opusenc ?? 'opusenc', opusdec: options.opusdec ?? 'opusdec' };
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

  /**
   * Checks opus-tools once, on the first `.opus` request; SB_AUDIO_FORMAT_UNAVAILABLE (naming
   * the package) without them, and the next request checks again (they may have been installed).
   */
  private async opusReady(format: AudioFormat, pointer: string): Promise<void> {
    this.opusProbe ??= probeOpusTools(this.opus);
    const probe = await this.opusProbe;
    if (probe.ok) return;
    this.opusProbe = undefined;
    throw new SwitchboardError('SB_AUDIO_FORMAT_UNAVAILABLE', [format.label, `${probe.reason}: install the Debian package ${OPUS_PACKAGE} (apt-get install ${OPUS_PACKAGE})`], { pointer });
  }

  async convert(request: ConvertRequest, options: ConvertOptions = {}): Promise<ConvertResult> {
    const started = performance.now();
    const problems = requestProblems(request);
    if (problems[0]) throw problemError(problems[0], problems);
    const inFormat = formatOf(request.input) as AudioFormat;
    const outFormat = formatOf(request.output) as AudioFormat;
    const caps = await this.start();
    for (const [f, pointer] of [[inFormat, '/input'], [outFormat, '/output']] as const) {
      if (f.via) await this.opusReady(f, pointer);
      else if (!caps.handlers.has(f.handler)) {
        throw new SwitchboardError('SB_AUDIO_FORMAT_UNAVAILABLE', [f.label, `this sox (${caps.bin}) has no ${f.handler} handler: install the Debian package ${f.debianPackage} (or ${SOX_PACKAGES.split(' ')[1]})`], { pointer });
      }
    }

    const input = await this.paths.input(request.input);
    const inStat = await stat(input);
    if (!inStat.isFile()) throw new SwitchboardError('SB_AUDIO_NOT_AUDIO', [request.input, inFormat.label, 'not a regular file']);
    if (inStat.size === 0) throw new SwitchboardError('SB_AUDIO_EMPTY', [request.input, 'the file is empty (0 bytes)']);
    if (inFormat.raw?.bits === 16 && inStat.size % 2 !== 0) throw new SwitchboardError('SB_AUDIO_TRUNCATED', [request.input, `${inStat.size} bytes is not a whole number of 16-bit samples`]);
    if (inFormat.ext === 'gsm' && inStat.size % 33 !== 0) throw new SwitchboardError('SB_AUDIO_TRUNCATED', [request.input, `${inStat.size} bytes is not a whole number of 33-byte GSM frames`]);
    if (inFormat.via) {
      // opusdec tells nothing apart ("Failed to open"), and decodes a cut file without a word.
      const ogg = await readOggOpus(input);
      if (!ogg.ok) throw new SwitchboardError(ogg.code, ogg.code === 'SB_AUDIO_NOT_AUDIO' ? [request.input, inFormat.label, ogg.reason] : [request.input, ogg.reason]);
    }

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
      const feed = inFormat.via ? opusDecoder(this.opus.opusdec, input) : undefined;
      const take = outFormat.via ? opusEncoder(this.opus.opusenc, temp, output) : undefined;
      exit = await runSox(this.bin, soxArgs(input, inFormat, temp, outFormat, request), { timeoutMs: this.timeoutMs, signal, feed, take });
    } catch (err) {
      await rm(temp, { force: true });
      throw launcherGone(err, request);
    } finally {
      this.running--;
      release();
    }

    try {
      await this.check(exit, request, inFormat, outFormat, input, temp);
      const result = await this.describe('converted', input, temp, outFormat, started, exit.warnings.filter((w) => !/sample rate not specified|channels not specified|can't seek to fix it/.test(w)));
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
      throw launcherGone(err, request);
    }
  }

  /** Stops every conversion in progress (each fails SB_AUDIO_ABORTED and leaves nothing behind). */
  close(): void {
    this.closing.abort();
  }

  /**
   * Measures a written file: its size, its checksum, and what it holds — read from its own frames
   * or header chunks as it is hashed where a walker knows the format (Opus, MP3, WAV: see their
   * files for why), else with sox --i (run at the same time).
   */
  private async describe(status: ConvertResult['status'], input: string, path: string, format: AudioFormat, started: number, warnings: string[]): Promise<ConvertResult> {
    const walker = format.via ? new OggOpusWalker() : format.ext === 'mp3' ? new Mp3FrameWalker() : format.ext === 'wav' ? new WavWalker() : undefined;
    const [{ sha256, bytes }, read] = await Promise.all([sha256File(path, walker), walker || format.soxType === 'raw' ? undefined : this.reader.read(path)]);
    // What a walker cannot account for (an MP3 with an ID3v2 tag…) is left to sox --i.
    const info: InfoResult | undefined = walker ? (walker.info() ?? (await this.reader.read(path))) : read;
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

  /**
   * Turns how sox (and the tools at its pipe ends) ended into the right SB_AUDIO_* failure: sox
   * reports a full disk with exit code 0. In a pipe the first process that failed of itself is
   * the cause; the ones after it only lost their input, the ones before it their reader.
   */
  private async check(exit: SoxExit, request: ConvertRequest, inFormat: AudioFormat, outFormat: AudioFormat, input: string, temp: string): Promise<void> {
    if (exit.stopped === 'timeout') throw new SwitchboardError('SB_AUDIO_TIMEOUT', [request.input, this.timeoutMs], { transient: true });
    if (exit.stopped === 'aborted') throw new SwitchboardError('SB_AUDIO_ABORTED', [request.input]);
    const { feeder, taker } = exit;
    if (feeder && failed(feeder) && !lostPipe(feeder.signal, feeder.messages)) {
      await this.toolFailure(feeder, inFormat.label, request, temp);
      if (!(await stat(input).then(() => true, () => false))) throw new SwitchboardError('SB_AUDIO_NOT_FOUND', [request.input, 'no such file (removed while queued?)']);
      throw new SwitchboardError('SB_AUDIO_NOT_AUDIO', [request.input, inFormat.label, `${basename(feeder.bin)}: ${toolText(feeder)}`]);
    }
    const soxFailed = exit.signal !== null || exit.fails.length > 0 || exit.code !== 0;
    if (taker && failed(taker) && (!soxFailed || lostPipe(exit.signal, exit.fails))) {
      await this.toolFailure(taker, outFormat.label, request, temp);
      throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, `${basename(taker.bin)}: ${toolText(taker)}`]);
    }
    if (exit.signal) throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, `sox was killed (${exit.signal})`], { transient: true });
    if (soxFailed) {
      const text = exit.fails.join('; ') || `exit code ${exit.code}`;
      if (/can't open input file/.test(text)) {
        if (/No such file or directory/.test(text)) throw new SwitchboardError('SB_AUDIO_NOT_FOUND', [request.input, 'no such file (removed while queued?)']);
        throw new SwitchboardError('SB_AUDIO_NOT_AUDIO', [request.input, inFormat.label, stripName(text)]);
      }
      await writeFailure(text, stripName(text), request, temp);
      throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, `sox: ${stripName(text)}`]);
    }
    const truncated = exit.warnings.find((w) => /premature EOF|unexpected EOF|truncated/i.test(w));
    if (truncated) throw new SwitchboardError('SB_AUDIO_TRUNCATED', [request.input, stripName(truncated)]);
    if (exit.samplesOut === 0) throw noAudio(request);
  }

  /** The failures a pipe tool shares with sox: gone since the probe, killed, a write that failed. */
  private async toolFailure(tool: ToolExit, label: string, request: ConvertRequest, temp: string): Promise<void> {
    const name = basename(tool.bin);
    if (tool.spawnError === 'ENOENT') throw new SwitchboardError('SB_AUDIO_FORMAT_UNAVAILABLE', [label, `"${tool.bin}" is not installed: install the Debian package ${OPUS_PACKAGE}`]);
    if (tool.spawnError) throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, `${name} cannot run (${tool.spawnError})`]);
    if (tool.signal) throw new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, `${name} was killed (${tool.signal})`], { transient: true });
    // opusenc names the temporary file it could not write: say the output instead.
    const text = `${name}: ${toolText(tool)}`.split(temp).join(request.output);
    await writeFailure(text, text, request, temp);
  }
}

/** A process that ended badly. */
function failed(t: ToolExit): boolean {
  return t.spawnError !== undefined || t.signal !== null || t.code !== 0;
}

/** Whether a process failed only because the one it wrote to went away. */
function lostPipe(signal: NodeJS.Signals | null, messages: readonly string[]): boolean {
  return signal === 'SIGPIPE' || messages.some((m) => /Broken pipe|Connection reset by peer/.test(m));
}

/** A tool's messages, without the notices opus-tools print even with --quiet. */
function toolText(t: ToolExit): string {
  return t.messages.filter((m) => !/^Skipping chunk|^Cannot seek/.test(m)).join('; ') || `exit code ${t.code}`;
}

/** SB_AUDIO_WRITE_FAILED when a failure's words are about writing the output. */
async function writeFailure(text: string, shown: string, request: ConvertRequest, temp: string): Promise<void> {
  if (!/output file|write failed|error writing|No space left|Read-only file system|Permission denied|quota/i.test(text)) return;
  const cause = await writeCause(text, dirname(temp));
  throw new SwitchboardError('SB_AUDIO_WRITE_FAILED', [request.output, `${shown} (${cause})`], { cause, transient: TRANSIENT_CAUSES.has(cause) });
}

/** A run cut short by the launcher process dying: worth another try. */
function launcherGone(err: unknown, request: ConvertRequest): unknown {
  return err instanceof LauncherGone ? new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [request.input, err.message], { transient: true }) : err;
}

function noAudio(request: ConvertRequest): SwitchboardError {
  return new SwitchboardError('SB_AUDIO_EMPTY', [request.input, request.trimSilence ? 'nothing but silence' : 'no samples (a header without data, or a recording still being written)']);
}

/** sox's arguments: input format (spelled out for headerless files), output format, effects. */
export function soxArgs(input: string, inFormat: AudioFormat, output: string, outFormat: AudioFormat, o: ConvertRequest): string[] {
  // -S (lossy outputs only: elsewhere the output's own sample count tells): the final progress
  // line says how many samples reached the encoder, 0 for an input without audio.
  // -R: the same dither noise on every run, so converting the same file again gives the same bytes.
  const args = [outFormat.lossy ? '-S' : '-q', '-R', ...formatArgs(inFormat), ...fileArgs(input, inFormat)];
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
    } else if (outFormat.via) {
      // What opusenc reads (8/16/24-bit or float WAV); 24 bits, so sox adds no dither before the encoder.
      args.push('-e', 'signed-integer', '-b', '24');
    }
  }
  args.push(...fileArgs(output, outFormat));
  // Mixing and resampling first, so a level set below is the level of what is written.
  if (channels !== undefined) args.push('channels', String(channels));
  if (rate !== undefined) args.push('rate', String(rate));
  if (o.trimSilence) args.push('silence', '1', '0.02', '-45d', 'reverse', 'silence', '1', '0.02', '-45d', 'reverse');
  if (o.normalise !== undefined && o.normalise !== false) args.push('gain', '-n', String(o.normalise === true ? -1 : o.normalise));
  if (o.gain !== undefined) args.push('gain', String(o.gain));
  return args;
}

/** A file's name for sox: behind --no-glob; `-` for a format reached through a pipe. */
function fileArgs(path: string, f: AudioFormat): string[] {
  return f.via ? ['-'] : ['--no-glob', path];
}

function formatArgs(f: AudioFormat): string[] {
  // A WAV header written to a pipe cannot be fixed up afterwards: its length is a guess.
  if (f.via) return ['--ignore-length', '-t', f.soxType];
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
