// The converter on real sox: every format both ways, every option, measured results, atomic
// output, the input left alone, the concurrency bound, abort and timeout.
import { linkSync, mkdtempSync, readdirSync, rmSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, soxi, stat, synth, tempOutputAppears } from '../../test/support/audio-files.ts';
import { silentLogger } from '../log.ts';
import { AudioConverter, soxArgs } from './converter.ts';
import { FORMATS } from './formats.ts';

let dir: string;
let converter: AudioConverter;
let stereo: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-audio-'));
  converter = new AudioConverter({ roots: [dir], concurrency: 2, logger: silentLogger });
  await converter.start();
  stereo = synth(join(dir, 'stereo-44k.wav'), { rate: 44100, channels: 2, seconds: 1 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leftovers = (d = dir): string[] => readdirSync(d).filter((f) => f.startsWith('.sb-'));

describe('formats: 44.1 kHz stereo WAV to each format and back, measured on the files', () => {
  // [extension, options, rate, channels, bits, encoding pattern]
  const cases: Array<[string, Record<string, unknown>, number, number, number, RegExp]> = [
    ['wav', { rate: 8000, channels: 1 }, 8000, 1, 16, /16-bit Signed Integer PCM/],
    ['wav', { rate: 16000, channels: 1 }, 16000, 1, 16, /16-bit Signed Integer PCM/],
    ['wav', { rate: 24000, channels: 1, bits: 24 }, 24000, 1, 24, /24-bit Signed Integer PCM/],
    ['wav', { rate: 48000, bits: 32 }, 48000, 2, 32, /32-bit Signed Integer PCM/],
    ['wav', { rate: 8000, channels: 1, codec: 'mulaw' }, 8000, 1, 8, /u-law/],
    ['wav', { rate: 8000, channels: 1, codec: 'alaw' }, 8000, 1, 8, /A-law/],
    ['wav', { codec: 'gsm' }, 8000, 1, 16, /GSM/],
    ['gsm', {}, 8000, 1, 16, /GSM/],
    ['r8', {}, 8000, 1, 16, /raw/],
    ['r16', {}, 16000, 1, 16, /raw/],
    ['r24', {}, 24000, 1, 16, /raw/],
    ['ul', {}, 8000, 1, 8, /u-law/],
    ['al', {}, 8000, 1, 8, /A-law/],
    ['mp3', { rate: 22050, channels: 1 }, 22050, 1, 16, /MPEG/],
    ['ogg', { rate: 16000 }, 16000, 2, 16, /Vorbis/],
    ['flac', { bits: 24 }, 44100, 2, 24, /FLAC/],
    ['opus', { rate: 16000, channels: 1 }, 16000, 1, 16, /Opus/],
  ];
  it.each(cases)('→ %s %j', async (ext, options, rate, channels, bits, encoding) => {
    const name = `to-${ext}-${Object.values(options).join('-') || 'default'}`;
    const out = await converter.convert({ input: stereo, output: join(dir, `${name}.${ext}`), ...options });
    expect(out).toMatchObject({ status: 'converted', format: ext, rate, channels, bits });
    expect(out.encoding).toMatch(encoding);
    // Lossy encoders pad a little; every format holds at least the second that went in.
    expect(out.duration).toBeGreaterThanOrEqual(1);
    expect(out.duration).toBeLessThan(1.1);
    expect(out.bytes).toBe(statSync(out.output).size);
    expect(out.sha256).toBe(sha256(out.output));
    // (sox cannot read Opus: opus.test.ts checks those files with opus-tools.)
    if ((!FORMATS.get(ext)?.raw || ext === 'ul' || ext === 'al') && !FORMATS.get(ext)?.via) expect(Number(soxi(out.output, '-r'))).toBe(rate);
    // And back: sox reads what it wrote (headerless formats by what their name means).
    const back = await converter.convert({ input: out.output, output: join(dir, `${name}.back.wav`) });
    expect(back).toMatchObject({ rate, channels });
    expect(Math.abs(back.duration - out.duration)).toBeLessThan(0.1);
  });

  it('mod_audio_stream L16 (.r16) in: read as 16 kHz mono, as the name says', async () => {
    const raw = synth(join(dir, 'stream.r16'), { rate: 16000, seconds: 0.5, format: ['-t', 'raw', '-e', 'signed-integer', '-b', '16'] });
    const r = await converter.convert({ input: raw, output: join(dir, 'stream.wav'), rate: 8000 });
    expect(r).toMatchObject({ rate: 8000, channels: 1, samples: 4000, duration: 0.5 });
  });

  it('leaves no temporary file behind', () => {
    expect(leftovers()).toEqual([]);
  });
});

describe('options', () => {
  it('gain: -6 dB halves the peak', async () => {
    const src = stat(stereo, 'Pk lev dB');
    const r = await converter.convert({ input: stereo, output: join(dir, 'gain.wav'), gain: -6 });
    expect(stat(r.output, 'Pk lev dB')).toBeCloseTo(src - 6, 0);
  });

  it.each([
    [true, -1],
    [-3, -3],
  ])('normalise %s: the loudest peak lands at %s dBFS', async (normalise, level) => {
    const r = await converter.convert({ input: stereo, output: join(dir, `norm${level}.wav`), normalise });
    expect(stat(r.output, 'Pk lev dB')).toBeCloseTo(level, 1);
  });

  it('trimSilence: silence at both ends is cut, the tone stays', async () => {
    const padded = synth(join(dir, 'padded.wav'), { effects: ['synth', '1', 'sine', '440', 'gain', '-6', 'pad', '1.5', '2'] });
    expect(Number(soxi(padded, '-D'))).toBeCloseTo(4.5, 2);
    const r = await converter.convert({ input: padded, output: join(dir, 'trimmed.wav'), trimSilence: true });
    expect(r.duration).toBeGreaterThan(0.95);
    expect(r.duration).toBeLessThan(1.05);
  });

  it('sox gets argument arrays: every name absolute and behind --no-glob, the format spelled out', () => {
    const args = soxArgs('/r/in.r8', FORMATS.get('r8')!, '/r/.sb-1.wav', FORMATS.get('wav')!, { input: 'in.r8', output: 'o.wav', codec: 'mulaw', normalise: true });
    expect(args).toEqual(['-q', '-R', '-t', 'raw', '-r', '8000', '-c', '1', '-e', 'signed-integer', '-b', '16', '--no-glob', '/r/in.r8', '-t', 'wav', '-e', 'mu-law', '-b', '8', '--no-glob', '/r/.sb-1.wav', 'gain', '-n', '-1']);
    expect(soxArgs('/r/in.wav', FORMATS.get('wav')!, '/r/.sb-2.gsm', FORMATS.get('gsm')!, { input: 'in.wav', output: 'o.gsm', trimSilence: true })).toEqual([
      '-q', '-R', '-t', 'wav', '--no-glob', '/r/in.wav', '-t', 'gsm', '-r', '8000', '-c', '1', '--no-glob', '/r/.sb-2.gsm',
      'channels', '1', 'rate', '8000', 'silence', '1', '0.02', '-45d', 'reverse', 'silence', '1', '0.02', '-45d', 'reverse',
    ]);
  });
});

describe('the output, the input', () => {
  it('the input is never modified, and the output appears only whole (moved into place once written and measured)', async () => {
    const before = { sha: sha256(stereo), mtime: statSync(stereo).mtimeMs };
    const target = join(dir, 'atomic.flac');
    const seen: number[] = [];
    const watcher = watch(dir, (_event, name) => {
      if (name !== 'atomic.flac') return;
      try {
        seen.push(statSync(target).size);
      } catch {
        // gone again: not our case
      }
    });
    const r = await converter.convert({ input: stereo, output: target });
    watcher.close();
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([r.bytes]));
    expect({ sha: sha256(stereo), mtime: statSync(stereo).mtimeMs }).toEqual(before);
  });

  it('onExists: error refuses before converting, skip reports the file that is there, overwrite replaces it', async () => {
    const out = join(dir, 'exists.wav');
    const first = await converter.convert({ input: stereo, output: out, rate: 8000 });
    await expect(converter.convert({ input: stereo, output: out, rate: 16000 })).rejects.toMatchObject({ code: 'SB_AUDIO_OUTPUT_EXISTS' });
    expect(sha256(out)).toBe(first.sha256);
    const skipped = await converter.convert({ input: stereo, output: out, rate: 16000, onExists: 'skip' });
    expect(skipped).toMatchObject({ status: 'skipped', rate: 8000, sha256: first.sha256 });
    const replaced = await converter.convert({ input: stereo, output: out, rate: 16000, onExists: 'overwrite' });
    expect(replaced).toMatchObject({ status: 'converted', rate: 16000 });
    expect(sha256(out)).toBe(replaced.sha256);
    expect(leftovers()).toEqual([]);
  });

  it('the input itself (or a hard link to it) is never an output, even with overwrite', async () => {
    await expect(converter.convert({ input: stereo, output: stereo, onExists: 'overwrite' })).rejects.toMatchObject({ code: 'SB_AUDIO_SAME_FILE' });
    const alias = join(dir, 'alias.wav');
    linkSync(stereo, alias);
    await expect(converter.convert({ input: stereo, output: alias, onExists: 'overwrite' })).rejects.toMatchObject({ code: 'SB_AUDIO_SAME_FILE' });
  });

  it('creates missing output folders inside the roots', async () => {
    const r = await converter.convert({ input: stereo, output: join(dir, 'new/deeper/out.gsm') });
    expect(r.output).toBe(join(dir, 'new/deeper/out.gsm'));
  });

  it('relative paths are under the first root', async () => {
    const r = await converter.convert({ input: 'stereo-44k.wav', output: 'relative.ul' });
    expect(r).toMatchObject({ input: stereo, output: join(dir, 'relative.ul') });
  });
});

describe('running', () => {
  it('never runs more sox processes than its concurrency, and does use it', async () => {
    let max = 0;
    const sample = setInterval(() => (max = Math.max(max, converter.active)), 1);
    const inputs = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => synth(join(dir, `par-${i}.wav`), { rate: 44100, channels: 2, seconds: 3 })));
    await Promise.all(inputs.map((input, i) => converter.convert({ input, output: join(dir, `par-${i}.mp3`) })));
    clearInterval(sample);
    expect(max).toBe(2);
  });

  it('an aborted conversion stops sox and leaves nothing (SB_AUDIO_ABORTED)', async () => {
    const long = synth(join(dir, 'long.wav'), { rate: 48000, channels: 2, seconds: 30 });
    const ctl = new AbortController();
    const running = converter.convert({ input: long, output: join(dir, 'aborted.mp3') }, { signal: ctl.signal });
    // Abort once sox is running (its temporary file exists).
    await tempOutputAppears(dir, 'mp3');
    ctl.abort();
    await expect(running).rejects.toMatchObject({ code: 'SB_AUDIO_ABORTED' });
    expect(leftovers()).toEqual([]);
    expect(readdirSync(dir)).not.toContain('aborted.mp3');
  });

  it('a conversion past SB_AUDIO_TIMEOUT_MS is stopped and marked transient (SB_AUDIO_TIMEOUT)', async () => {
    const slow = new AudioConverter({ roots: [dir], concurrency: 1, timeoutMs: 20, logger: silentLogger });
    const long = join(dir, 'long.wav');
    await expect(slow.convert({ input: long, output: join(dir, 'timeout.mp3') })).rejects.toMatchObject({ code: 'SB_AUDIO_TIMEOUT', context: { transient: true } });
    expect(leftovers()).toEqual([]);
  });
});
