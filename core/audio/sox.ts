import { spawn } from 'node:child_process';
import { SwitchboardError } from '../errors.ts';
import { ProcessLauncher, type ProcessEnd, type ProcessSpec } from './launcher.ts';

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

let launcher: ProcessLauncher | undefined;
/** The launcher every sox of this process is started from (one small helper process, started on first use). */
export function soxLauncher(): ProcessLauncher {
  launcher ??= new ProcessLauncher(soxEnv());
  return launcher;
}

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
export type PipeTool = ProcessSpec;

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

/**
 * Runs sox with an argument array (no shell: nothing in a file name is ever interpreted), with
 * `feed` writing to its standard input (sox reads `-`) and `take` reading its standard output
 * (sox writes `-`) when given, each pipe going straight from one process to the next (see
 * launcher.ts). Keeps sox's FAIL and WARN lines and stops them all (SIGKILL) on timeout or
 * abort. Resolves when every process has exited, so a caller may remove what they were writing.
 */
export async function runSox(bin: string, args: readonly string[], options: { timeoutMs: number; signal?: AbortSignal; feed?: PipeTool; take?: PipeTool }): Promise<SoxExit> {
  const { feed, take } = options;
  const chain = [feed, { bin, args }, take].filter((p) => p !== undefined);
  const run = soxLauncher().run(chain);

  let stopped: SoxExit['stopped'];
  const stop = (why: 'timeout' | 'aborted'): void => {
    stopped ??= why;
    run.kill();
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = (): void => stop('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop('aborted');
  const endings = await run.ended.finally(() => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  });
  const fed = feed && endings[0];
  const s = endings[feed ? 1 : 0] as ProcessEnd;
  const took = take && endings[feed ? 2 : 1];

  if (s.spawnError) {
    const err = s.spawnError;
    throw err.code === 'ENOENT' ? new SwitchboardError('SB_AUDIO_CONVERTER_MISSING', [`the audio converter "${bin}" is not installed`, SOX_PACKAGES, SOX_PACKAGES]) : new Error(`${bin} cannot run: ${err.message}`);
  }
  // One message per `sox LEVEL ` start (a file name may itself hold a newline), up to the
  // file details or progress that -S prints after it.
  // A warning may follow a progress line on the same line.
  const messages = s.stderr.split(/(?<=^|\n| )(?=sox (?:FAIL|WARN|INFO|DBUG) )/).map((m) => (m.split(/\n\n|\r/)[0] as string).trimEnd());
  const level = (l: string): string[] => messages.filter((m) => m.startsWith(`sox ${l} `)).map((m) => m.slice(`sox ${l} `.length));
  const out = [...s.tail.matchAll(/\bOut:([0-9.]+)([kMG]?)/g)].pop();
  const samplesOut = out ? Number(out[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[out[2] as string]! : undefined;
  const tool = (t: PipeTool, e: ProcessEnd): ToolExit => ({ bin: t.bin, code: e.code, signal: e.signal, messages: e.stderr.split('\n').map((l) => l.trim()).filter(Boolean), spawnError: e.spawnError?.code });
  return { code: s.code, signal: s.signal, fails: level('FAIL'), warnings: level('WARN'), samplesOut, stopped, feeder: feed && fed && tool(feed, fed), taker: take && took && tool(take, took) };
}
