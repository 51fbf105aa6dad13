// Short audio files made with sox itself, and what sox says about them: for the audio tests and
// the audio benchmark. execFile with argument arrays, as everywhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';

export interface SynthOptions {
  seconds?: number;
  rate?: number;
  channels?: number;
  /** sox output options placed before the file (e.g. ['-t', 'raw', '-e', 'signed-integer', '-b', '16']). */
  format?: string[];
  /** Effects after the file (default: a 440 Hz sine at -6 dBFS). */
  effects?: string[];
}

/** Writes a test tone (or what `effects` make) to `path`. */
export function synth(path: string, o: SynthOptions = {}): string {
  const effects = o.effects ?? ['synth', String(o.seconds ?? 1), 'sine', '440', 'gain', '-6'];
  execFileSync('sox', ['-n', '-r', String(o.rate ?? 8000), '-c', String(o.channels ?? 1), ...(o.format ?? []), '--no-glob', path, ...effects], { stdio: ['ignore', 'ignore', 'pipe'] });
  return path;
}

/** `soxi <flag> <file>`: -r rate, -c channels, -b bits, -s samples, -D duration, -e encoding. */
export function soxi(path: string, flag: '-r' | '-c' | '-b' | '-s' | '-D' | '-e'): string {
  return execFileSync('soxi', [flag, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** One value of `sox <file> -n stats` (e.g. "Pk lev dB", "Length s"), for a file sox reads by its extension. */
export function stat(path: string, name: string, inputArgs: string[] = []): number {
  // stats prints on stderr.
  const r = spawnSync('sox', [...inputArgs, '--no-glob', path, '-n', 'stats'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sox stats failed on ${path}: ${r.stderr}`);
  const m = new RegExp(`^${name.replace(/ /g, '\\s')}\\s+(-?[0-9.]+)`, 'm').exec(r.stderr);
  if (!m) throw new Error(`sox stats printed no "${name}" for ${path}: ${r.stderr}`);
  return Number(m[1]);
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Resolves once a conversion's temporary output (`.sb-….<ext>`) appears in `dir`: its converter is running. */
export function tempOutputAppears(dir: string, ext: string): Promise<void> {
  return new Promise((resolve) => {
    const w = watch(dir, (_e, name) => {
      if (name?.startsWith('.sb-') && name.endsWith(`.${ext}`)) {
        w.close();
        resolve();
      }
    });
  });
}

/**
 * Resolves with the trimmed content of `dir/name` once it is there and complete (ends with a
 * newline): how a process a test started says it is running (`echo $$ > file`).
 */
export function lineAppears(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  const line = (): string | undefined => {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    return text.endsWith('\n') ? text.trim() : undefined;
  };
  return new Promise((resolve) => {
    const check = (): void => {
      const found = line();
      if (found === undefined) return;
      w.close();
      resolve(found);
    };
    const w = watch(dir, check);
    check();
  });
}
