// OGG Opus through opus-tools, on real files: sox | opusenc and opusdec | sox round trips, each
// figure measured from the written file and checked against opus-tools' own opusinfo and
// opusdec; sox's options on the way; abort and timeout stopping every process of the pipe.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, soxi, stat, synth, tempOutputAppears } from '../../test/support/audio-files.ts';
import { silentLogger } from '../log.ts';
import { AudioConverter, soxArgs } from './converter.ts';
import { FORMATS } from './formats.ts';
import { OggOpusWalker } from './ogg-opus.ts';
import { readOggOpus } from './opus.ts';

let dir: string;
let converter: AudioConverter;
let stereo: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-opus-'));
  converter = new AudioConverter({ roots: [dir], concurrency: 2, logger: silentLogger });
  await converter.start();
  stereo = synth(join(dir, 'stereo-44k.wav'), { rate: 44100, channels: 2, seconds: 1 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leftovers = (): string[] => readdirSync(dir).filter((f) => f.startsWith('.sb-'));

/** What opus-tools' opusinfo says about a file: its channels, the rate it records, its length in seconds (to the millisecond). */
function opusinfo(path: string): { channels: number; rate: number; seconds: number } {
  const text = execFileSync('opusinfo', [path], { encoding: 'utf8' });
  const length = /Playback length: (\d+)m:([0-9.]+)s/.exec(text);
  return { channels: Number(/Channels: (\d+)/.exec(text)?.[1]), rate: Number(/Original sample rate: (\d+) Hz/.exec(text)?.[1]), seconds: Number(length?.[1]) * 60 + Number(length?.[2]) };
}

/** Samples per channel opusdec decodes from a file (at the rate it records). */
function decodedSamples(path: string): number {
  const wav = join(dir, 'opusdec-check.wav');
  execFileSync('opusdec', ['--quiet', path, wav], { stdio: 'ignore' });
  return Number(soxi(wav, '-s'));
}

/** Processes still running whose command line names something in the test folder. */
function processesIn(folder: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
      } catch {
        return '';
      }
    })
    .filter((cmd) => cmd.includes(folder) && !cmd.includes('vitest'));
}

describe('WAV → Opus → WAV: the rate and channels asked for, the length kept, measured on the files', () => {
  // [options, rate, channels, seconds of input]
  const cases: Array<[Record<string, unknown>, number, number, number]> = [
    [{}, 44100, 2, 1],
    [{ rate: 8000, channels: 1 }, 8000, 1, 1],
    [{ rate: 16000, channels: 1 }, 16000, 1, 2.345],
    [{ rate: 11025 }, 11025, 2, 2.345],
    [{ rate: 24000, channels: 1 }, 24000, 1, 0.5],
    [{ rate: 48000 }, 48000, 2, 1],
  ];
  it.each(cases)('%j → %i Hz, %i channels', async (options, rate, channels, seconds) => {
    const input = synth(join(dir, `in-${seconds}.wav`), { rate: 44100, channels: 2, seconds });
    const name = `rt-${rate}-${channels}-${seconds}`;
    const out = await converter.convert({ input, output: join(dir, `${name}.opus`), ...options });
    expect(out).toMatchObject({ status: 'converted', format: 'opus', rate, channels, bits: 16, encoding: 'Opus' });
    // Opus trims its pre-skip and end padding exactly: the length that went in.
    expect(Math.abs(out.duration - seconds)).toBeLessThanOrEqual(1 / rate + 1e-6);
    expect(out.bytes).toBe(statSync(out.output).size);
    expect(out.sha256).toBe(sha256(out.output));
    // opus-tools agree with what was measured from the pages.
    const info = opusinfo(out.output);
    expect(info).toMatchObject({ channels, rate });
    expect(Math.abs(info.seconds - out.duration)).toBeLessThanOrEqual(0.001);
    expect(Math.abs(decodedSamples(out.output) - out.samples)).toBeLessThanOrEqual(1);
    // And back: opusdec | sox.
    const back = await converter.convert({ input: out.output, output: join(dir, `${name}.back.wav`) });
    expect(back).toMatchObject({ rate, channels, encoding: '16-bit Signed Integer PCM' });
    expect(Math.abs(back.duration - seconds)).toBeLessThan(0.02); // within an Opus frame
    expect(Number(soxi(back.output, '-r'))).toBe(rate);
  });

  it('Opus to Opus: opusdec | sox | opusenc', async () => {
    const first = await converter.convert({ input: stereo, output: join(dir, 'twice-1.opus') });
    const second = await converter.convert({ input: first.output, output: join(dir, 'twice-2.opus'), rate: 16000, channels: 1 });
    expect(second).toMatchObject({ rate: 16000, channels: 1, duration: 1 });
    expect(opusinfo(second.output)).toMatchObject({ rate: 16000, channels: 1 });
  });

  it('leaves no temporary file behind', () => {
    expect(leftovers()).toEqual([]);
  });
});

describe('sox still does the rest', () => {
  it('trimSilence: silence at both ends is cut before encoding', async () => {
    const padded = synth(join(dir, 'padded.wav'), { effects: ['synth', '1', 'sine', '440', 'gain', '-6', 'pad', '1.5', '2'] });
    const r = await converter.convert({ input: padded, output: join(dir, 'trimmed.opus'), trimSilence: true });
    expect(r.duration).toBeGreaterThan(0.95);
    expect(r.duration).toBeLessThan(1.05);
  });

  it('normalise -3: the decoded peak is near -3 dBFS (a lossy codec moves it a little)', async () => {
    const r = await converter.convert({ input: stereo, output: join(dir, 'norm.opus'), normalise: -3 });
    const back = await converter.convert({ input: r.output, output: join(dir, 'norm.wav') });
    expect(Math.abs(stat(back.output, 'Pk lev dB') + 3)).toBeLessThan(1);
  });

  it('the same conversion gives the same bytes (the Ogg serial number comes from the name, not chance)', async () => {
    const a = await converter.convert({ input: stereo, output: join(dir, 'same.opus'), rate: 16000 });
    const b = await converter.convert({ input: stereo, output: join(dir, 'same.opus'), rate: 16000, onExists: 'overwrite' });
    expect(b.sha256).toBe(a.sha256);
  });

  it('a name that looks like an option or holds spaces is only ever a file', async () => {
    const input = synth(join(dir, '-x y.wav'), { seconds: 0.5 });
    const r = await converter.convert({ input: '-x y.wav', output: '--help me.opus' });
    expect(r).toMatchObject({ output: join(dir, '--help me.opus'), rate: 8000, channels: 1, duration: 0.5 });
    const back = await converter.convert({ input: '--help me.opus', output: '-x y.back.wav' });
    expect(back.duration).toBeCloseTo(0.5, 2);
    expect(sha256(input)).toBe(sha256(join(dir, '-x y.wav')));
  });

  it('sox writes 24-bit WAV to its standard output for opusenc, and reads opusdec\'s from its standard input', () => {
    const opus = FORMATS.get('opus')!;
    expect(soxArgs('/r/in.wav', FORMATS.get('wav')!, '/r/.sb-1.opus', opus, { input: 'in.wav', output: 'o.opus', rate: 8000 })).toEqual([
      '-S', '-R', '-t', 'wav', '--no-glob', '/r/in.wav', '-t', 'wav', '-r', '8000', '-e', 'signed-integer', '-b', '24', '-', 'rate', '8000',
    ]);
    expect(soxArgs('/r/in.opus', opus, '/r/.sb-2.wav', FORMATS.get('wav')!, { input: 'in.opus', output: 'o.wav' })).toEqual([
      '-q', '-R', '--ignore-length', '-t', 'wav', '-', '-t', 'wav', '-e', 'signed-integer', '-b', '16', '--no-glob', '/r/.sb-2.wav',
    ]);
  });
});

describe('reading the pages', () => {
  it('a file opusenc wrote by itself: the rate it records, its channels, the exact length at 48 kHz', async () => {
    const wav = synth(join(dir, 'plain-12k.wav'), { rate: 12000, seconds: 1.5, format: ['-b', '16'] });
    const opus = join(dir, 'plain-12k.opus');
    execFileSync('opusenc', ['--quiet', wav, opus]);
    expect(await readOggOpus(opus)).toEqual({ ok: true, stream: { channels: 1, rate: 12000, samples48: 72000 } });
  });

  it('the same whatever the read blocks (page headers straddling them are carried over)', async () => {
    const bytes = readFileSync(join(dir, 'plain-12k.opus'));
    for (const size of [1, 5, 27, 300, 4096]) {
      const walker = new OggOpusWalker();
      for (let i = 0; i < bytes.length; i += size) walker.push(bytes.subarray(i, i + size));
      expect(walker.result(), `blocks of ${size}`).toEqual(await readOggOpus(join(dir, 'plain-12k.opus')));
    }
  });
});

describe('running', () => {
  it('an aborted conversion stops sox and opusenc and leaves nothing (SB_AUDIO_ABORTED)', async () => {
    const long = synth(join(dir, 'long.wav'), { rate: 48000, channels: 2, seconds: 60 });
    const ctl = new AbortController();
    const running = converter.convert({ input: long, output: join(dir, 'aborted.opus') }, { signal: ctl.signal });
    // Abort once opusenc is writing (its temporary file exists).
    await tempOutputAppears(dir, 'opus');
    ctl.abort();
    await expect(running).rejects.toMatchObject({ code: 'SB_AUDIO_ABORTED' });
    expect(leftovers()).toEqual([]);
    expect(readdirSync(dir)).not.toContain('aborted.opus');
    expect(processesIn(dir)).toEqual([]);
  });

  it('a conversion past SB_AUDIO_TIMEOUT_MS is stopped, opusdec with it (SB_AUDIO_TIMEOUT)', async () => {
    const long = await converter.convert({ input: join(dir, 'long.wav'), output: join(dir, 'long.opus') });
    const slow = new AudioConverter({ roots: [dir], concurrency: 1, timeoutMs: 20, logger: silentLogger });
    await expect(slow.convert({ input: long.output, output: join(dir, 'timeout.flac') })).rejects.toMatchObject({ code: 'SB_AUDIO_TIMEOUT', context: { transient: true } });
    expect(leftovers()).toEqual([]);
    expect(processesIn(dir)).toEqual([]);
  });
});
