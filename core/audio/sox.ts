import { spawn, type ChildProcess } from 'node:child_process';
import { SwitchboardError } from '../errors.ts';

/** What the installed sox can do, from `sox -h`. */
export interface SoxCapabilities {
  bin: string;
  version: string;
  /** Format handlers (`AUDIO FILE FORMATS:`): wav, gsm, mp3, vorbis, flac … */
  handlers: ReadonlySet<string>;
  effects: ReadonlySet<string>;
}

/** How a sox process ended (and the tools at the ends of its pipe, if any). */
export interface SoxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** `sox FAIL …` lines: sox reports some failures (a full disk) this way and still exits 0. */
  fails: string[];
  warnings: string[];
  /** Samples sox passed to the output, from its final progress line (when run with -S): 0 when the input held no audio. */
  samplesOut: number | undefined;
  /** Why we stopped it, if we did. */
  stopped: 'timeout' | 'aborted' | undefined;
  /** The processes feeding sox's input and taking its output, when there are. */
  feeder?: ToolExit | undefined;
  taker?: ToolExit | undefined;
}

/**
 * sox's environment (and its pipe partners'): SOX_OPTS would add global options behind our back,
 * and messages are parsed, so they must not be translated.
 */
let env: NodeJS.ProcessEnv | undefined;
function soxEnv(): NodeJS.ProcessEnv {
  if (!env) {
    const { SOX_OPTS: _ignored, ...rest } = process.env;
    env = { ...rest, LC_ALL: 'C' };
  }
  return env;
}

export const SOX_PACKAGES = 'sox libsox-fmt-all';

/**
 * Runs `sox -h` and reads the handlers and effects it lists. Throws SB_AUDIO_CONVERTER_MISSING,
 * naming the Debian package, when sox is not there.
 */
export async function probeSox(bin: string): Promise<SoxCapabilities> {
  const out = await new Promise<string>((resolve, reject) => {
    let text = '';
    const child = spawn(bin, ['-h'], { stdio: ['ignore', 'pipe', 'pipe'], env: soxEnv() });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', () => resolve(text));
  }).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'ENOENT' ? `the audio converter "${bin}" is not installed (or not on PATH; SB_AUDIO_SOX names it)` : `the audio converter "${bin}" cannot run: ${err.message}`;
    throw new SwitchboardError('SB_AUDIO_CONVERTER_MISSING', [why, SOX_PACKAGES, SOX_PACKAGES], { cause: err.code });
  });
  const list = (label: string): Set<string> => new Set((new RegExp(`^${label}:(.*)$`, 'm').exec(out)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map((s) => s.replace(/[*+#]$/, '')));
  const handlers = list('AUDIO FILE FORMATS');
  if (handlers.size === 0) throw new SwitchboardError('SB_AUDIO_CONVERTER_MISSING', [`"${bin}" is not sox (no format list in its -h output)`, SOX_PACKAGES, SOX_PACKAGES]);
  return { bin, version: /SoX v(\S+)/.exec(out)?.[1] ?? 'unknown', handlers, effects: list('EFFECTS') };
}

/** A process on the other end of a pipe with sox, for a format sox cannot read or write itself (opus.ts). */
export interface PipeTool {
  bin: string;
  args: readonly string[];
}

/** How such a process ended. */
export interface ToolExit {
  bin: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Its standard error, line by line. */
  messages: string[];
  /** Why it could not be started (ENOENT: not installed). */
  spawnError: string | undefined;
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  tail: string;
  spawnError: NodeJS.ErrnoException | undefined;
}

/** Collects a process's standard error and waits for it to be gone ('close' follows a failed start too). */
function ended(child: ChildProcess): Promise<Ended> {
  return new Promise((resolve) => {
    // The head holds the messages, the tail the final progress line (-S).
    let stderr = '';
    let tail = '';
    let spawnError: NodeJS.ErrnoException | undefined;
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
      tail = (tail + d).slice(-4096);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) spawnError = err;
    });
    child.once('close', (code, signal) => resolve({ code, signal, stderr, tail, spawnError }));
  });
}

/**
 * Runs sox with an argument array (no shell: nothing in a file name is ever interpreted), with
 * `feed` writing to its standard input (sox reads `-`) and `take` reading its standard output
 * (sox writes `-`) when given: each pipe goes straight from one process to the next, and the
 * parent lets go of its ends, so a process sees the other die. Keeps sox's FAIL and WARN lines
 * and stops them all (SIGKILL) on timeout or abort. Resolves when every process has exited, so
 * a caller may remove what they were writing.
 */
export async function runSox(bin: string, args: readonly string[], options: { timeoutMs: number; signal?: AbortSignal; feed?: PipeTool; take?: PipeTool }): Promise<SoxExit> {
  const { feed, take } = options;
  const feeder = feed && spawn(feed.bin, feed.args, { stdio: ['ignore', 'pipe', 'pipe'], env: soxEnv() });
  const sox = spawn(bin, args, { stdio: [feeder?.stdout ?? 'ignore', take ? 'pipe' : 'ignore', 'pipe'], env: soxEnv() });
  const taker = take && spawn(take.bin, take.args, { stdio: [sox.stdout ?? 'ignore', 'ignore', 'pipe'], env: soxEnv() });
  feeder?.stdout?.destroy();
  if (taker) sox.stdout?.destroy();
  const processes = [feeder, sox, taker].filter((c) => c !== undefined);
  const endings = Promise.all([ended(sox), feeder && ended(feeder), taker && ended(taker)]);

  let stopped: SoxExit['stopped'];
  const stop = (why: 'timeout' | 'aborted'): void => {
    stopped ??= why;
    for (const p of processes) p.kill('SIGKILL');
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = (): void => stop('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop('aborted');
  const [s, fed, took] = await endings.finally(() => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  });

  if (s.spawnError) {
    const err = s.spawnError;
    throw err.code === 'ENOENT' ? new SwitchboardError('SB_AUDIO_CONVERTER_MISSING', [`the audio converter "${bin}" is not installed`, SOX_PACKAGES, SOX_PACKAGES]) : err;
  }
  // One message per `sox LEVEL ` start (a file name may itself hold a newline), up to the
  // file details or progress that -S prints after it.
  // A warning may follow a progress line on the same line.
  const messages = s.stderr.split(/(?<=^|\n| )(?=sox (?:FAIL|WARN|INFO|DBUG) )/).map((m) => (m.split(/\n\n|\r/)[0] as string).trimEnd());
  const level = (l: string): string[] => messages.filter((m) => m.startsWith(`sox ${l} `)).map((m) => m.slice(`sox ${l} `.length));
  const out = [...s.tail.matchAll(/\bOut:([0-9.]+)([kMG]?)/g)].pop();
  const samplesOut = out ? Number(out[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[out[2] as string]! : undefined;
  const tool = (t: PipeTool, e: Ended): ToolExit => ({ bin: t.bin, code: e.code, signal: e.signal, messages: e.stderr.split('\n').map((l) => l.trim()).filter(Boolean), spawnError: e.spawnError?.code });
  return { code: s.code, signal: s.signal, fails: level('FAIL'), warnings: level('WARN'), samplesOut, stopped, feeder: feed && fed && tool(feed, fed), taker: take && took && tool(take, took) };
}
