import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { AudioConverter, FORMATS, RATES, type ConvertResult } from '../audio/index.ts';
import { speak } from '../audio/speak.ts';
import { loadConfig, loadDotEnv } from '../config.ts';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { shown } from './convert.ts';

export interface PrepareOptions {
  /** The prompts: audio files in any format Switchboard reads, and `.txt` files spoken with espeak-ng. */
  dir: string;
  /** Where the prepared files go (default: dir). */
  out: string;
  /** The calls' native rates; the first is also written flat as the fallback. */
  rates: number[];
  voice: string;
  normalise?: boolean | number;
  trimSilence?: boolean;
}

export type PromptOutcome = { source: string; ok: true; outputs: ConvertResult[] } | { source: string; ok: false; error: { code: string; message: string } };

/**
 * Converts every prompt of a folder to 16-bit mono WAV at each native rate, so FreeSWITCH never
 * resamples while playing. FreeSWITCH (mod_sndfile) plays `<dir>/<rate>/<name>` when it exists
 * for the channel's rate, else `<dir>/<name>`: with one rate the prompt is written as
 * `<out>/<name>.wav`; with several, also as `<out>/<rate>/<name>.wav` for each.
 */
export async function prepareSounds(converter: AudioConverter, o: PrepareOptions, onPrompt?: (p: PromptOutcome) => void): Promise<PromptOutcome[]> {
  const bad = o.rates.find((r) => !(RATES as readonly number[]).includes(r));
  if (o.rates.length === 0 || bad !== undefined) throw new SwitchboardError('SB_AUDIO_BAD_OPTION', [`--rates: ${bad ?? '(none)'} is not one of ${RATES.join(', ')}`], { pointer: '/rates' });
  const entries = await readdir(o.dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new SwitchboardError('SB_AUDIO_NOT_FOUND', [o.dir, err.code === 'ENOENT' ? 'no such folder' : err.message]);
  });
  const sources = entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .filter((n) => /\.txt$/i.test(n) || FORMATS.has(/\.([^.]+)$/.exec(n)?.[1]?.toLowerCase() ?? ''))
    .sort();
  const names = new Map<string, string>();
  const outcomes: PromptOutcome[] = [];
  for (const file of sources) {
    const source = join(o.dir, file);
    const name = file.replace(/\.[^.]+$/, '');
    const outcome = await prepareOne(converter, o, source, name, names.get(name)).catch(
      (err: unknown): PromptOutcome => ({ source, ok: false, error: { code: isSwitchboardError(err) ? err.code : 'SB_AUDIO_CONVERT_FAILED', message: (err as Error).message } }),
    );
    names.set(name, file);
    outcomes.push(outcome);
    onPrompt?.(outcome);
  }
  return outcomes;
}

async function prepareOne(converter: AudioConverter, o: PrepareOptions, source: string, name: string, twin: string | undefined): Promise<PromptOutcome> {
  if (twin !== undefined) throw new SwitchboardError('SB_AUDIO_BAD_OPTION', [`${basename(source)} and ${twin} would both become ${name}.wav`]);
  let input = source;
  let spoken: string | undefined;
  try {
    if (/\.txt$/i.test(source)) {
      spoken = await mkdtemp(join(tmpdir(), 'sb-speak-'));
      input = join(spoken, `${name}.wav`);
      await speak(source, input, { voice: o.voice });
    }
    const targets = [join(o.out, `${name}.wav`), ...(o.rates.length > 1 ? o.rates.map((r) => join(o.out, String(r), `${name}.wav`)) : [])];
    const rates = [o.rates[0] as number, ...(o.rates.length > 1 ? o.rates : [])];
    const outputs: ConvertResult[] = [];
    for (const [i, output] of targets.entries()) {
      const rate = rates[i] as (typeof RATES)[number];
      outputs.push(
        await converter.convert({
          input,
          output,
          rate,
          channels: 1,
          bits: 16,
          codec: 'pcm',
          onExists: 'overwrite',
          ...(o.normalise !== undefined ? { normalise: o.normalise } : {}),
          ...(o.trimSilence ? { trimSilence: true } : {}),
        }),
      );
    }
    return { source, ok: true, outputs };
  } finally {
    if (spoken) await rm(spoken, { recursive: true, force: true });
  }
}

/** `switchboard prepare-sounds <dir> [--rates 8000,16000]` */
export function prepareSoundsCommand(): Command {
  return new Command('prepare-sounds')
    .description('convert a folder of prompts (audio files, or .txt spoken with espeak-ng) to 16-bit mono WAV at the calls\' native rate(s), so FreeSWITCH never resamples while playing')
    .argument('<dir>', 'the prompts')
    .option('--rates <list>', 'native rates, comma-separated; the first is also the flat fallback', '8000')
    .option('--out <dir>', 'where the prepared files go (default: <dir>); with several rates also <out>/<rate>/<name>.wav')
    .option('--voice <name>', 'espeak-ng voice for .txt prompts', 'en-us')
    .option('--normalise [dBFS]', 'loudest peak at -1 dBFS, or at the level given')
    .option('--trim-silence', 'cut silence at the start and the end')
    .action(async (dir: string, f: { rates: string; out?: string; voice: string; normalise?: boolean | string; trimSilence?: boolean }) => {
      loadDotEnv();
      const config = loadConfig();
      const out = resolve(f.out ?? dir);
      const converter = new AudioConverter({ sox: config.audio.sox, concurrency: config.audio.concurrency, timeoutMs: config.audio.timeoutMs, logger: createLogger('warn', process.stderr) });
      try {
        const options: PrepareOptions = {
          dir: resolve(dir),
          out,
          rates: f.rates.split(',').map((r) => Number(r.trim())),
          voice: f.voice,
          ...(f.normalise !== undefined ? { normalise: f.normalise === true ? true : Number(f.normalise) } : {}),
          ...(f.trimSilence ? { trimSilence: true } : {}),
        };
        const outcomes = await prepareSounds(converter, options, (p) => {
          if (!p.ok) process.stdout.write(`FAIL  ${shown(basename(p.source))}  ${p.error.code}  ${p.error.message}\n`);
          else {
            const [first, ...rest] = p.outputs as [ConvertResult, ...ConvertResult[]];
            const more = rest.map((r) => shown(relative(out, r.output))).join(', ');
            process.stdout.write(`ok    ${shown(basename(p.source))} → ${shown(relative(out, first.output))}  ${first.rate} Hz  ${first.duration.toFixed(2)} s${more ? `; ${more}` : ''}\n`);
          }
        });
        const failed = outcomes.filter((p) => !p.ok).length;
        process.stdout.write(`${outcomes.length} prompts: ${outcomes.length - failed} prepared, ${failed} failed\n`);
        if (failed > 0) process.exitCode = 1;
      } catch (err) {
        const e = err as { code?: string; message: string };
        process.stderr.write(`${e.code ?? 'error'}: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
