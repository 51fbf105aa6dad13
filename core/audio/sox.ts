import { spawn } from 'node:child_process';
import { SwitchboardError } from '../errors.ts';

/** What the installed sox can do, from `sox -h`. */
export interface SoxCapabilities {
  bin: string;
  version: string;
  /** Format handlers (`AUDIO FILE FORMATS:`): wav, gsm, mp3, vorbis, flac … */
  handlers: ReadonlySet<string>;
  effects: ReadonlySet<string>;
}

/** How one sox process ended. */
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
}

/**
 * sox's environment: SOX_OPTS would add global options behind our back, and messages are parsed,
 * so they must not be translated.
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

/**
 * Runs sox with an argument array (no shell: nothing in a file name is ever interpreted), keeps
 * its FAIL and WARN lines, and stops it (SIGKILL) on timeout or abort. Resolves when the process
 * has exited, so a caller may remove what it was writing.
 */
export function runSox(bin: string, args: readonly string[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<SoxExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: soxEnv() });
    // The head holds the messages, the tail the final progress line (-S).
    let stderr = '';
    let tail = '';
    let stopped: SoxExit['stopped'];
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
      tail = (tail + d).slice(-4096);
    });
    const stop = (why: 'timeout' | 'aborted'): void => {
      stopped ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    const onAbort = (): void => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop('aborted');
    const done = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(err.code === 'ENOENT' ? new SwitchboardError('SB_AUDIO_CONVERTER_MISSING', [`the audio converter "${bin}" is not installed`, SOX_PACKAGES, SOX_PACKAGES]) : err);
    });
    child.once('close', (code, signal) => {
      done();
      // One message per `sox LEVEL ` start (a file name may itself hold a newline), up to the
      // file details or progress that -S prints after it.
      // A warning may follow a progress line on the same line.
      const messages = stderr.split(/(?<=^|\n| )(?=sox (?:FAIL|WARN|INFO|DBUG) )/).map((m) => (m.split(/\n\n|\r/)[0] as string).trimEnd());
      const level = (l: string): string[] => messages.filter((m) => m.startsWith(`sox ${l} `)).map((m) => m.slice(`sox ${l} `.length));
      const out = [...tail.matchAll(/\bOut:([0-9.]+)([kMG]?)/g)].pop();
      const samplesOut = out ? Number(out[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[out[2] as string]! : undefined;
      resolve({ code, signal, fails: level('FAIL'), warnings: level('WARN'), samplesOut, stopped });
    });
  });
}
