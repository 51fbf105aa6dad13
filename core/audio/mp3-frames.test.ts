// MP3 outputs are measured by counting their frames as they are hashed, not with sox --i (which
// loads every sox format library, ~10 ms of CPU a process, to estimate the same figure): the
// count checked against sox --i and against sox's own decoding for the MPEG 1, 2 and 2.5 rates,
// whatever the read blocks, and sox --i still used where the frames do not say it all.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soxi, synth } from '../../test/support/audio-files.ts';
import { silentLogger } from '../log.ts';
import { AudioConverter } from './converter.ts';
import { Mp3FrameWalker } from './mp3-frames.ts';

let dir: string;
let converter: AudioConverter;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-mp3-'));
  converter = new AudioConverter({ roots: [dir], concurrency: 2, logger: silentLogger });
  await converter.start();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Samples per channel sox decodes from a file. */
function decoded(path: string, channels: number): number {
  return execFileSync('sox', [path, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-'], { maxBuffer: 64 * 1024 * 1024 }).length / 2 / channels;
}

/** The walker's figure for a file fed in blocks of `size` bytes. */
function walk(path: string, size: number): ReturnType<Mp3FrameWalker['result']> {
  const bytes = readFileSync(path);
  const walker = new Mp3FrameWalker();
  for (let i = 0; i < bytes.length; i += size) walker.push(bytes.subarray(i, i + size));
  return walker.result();
}

describe('the frame count: samples = frames × 1152 (MPEG 1) or 576 (MPEG 2, 2.5)', () => {
  // [rate, channels, seconds]
  const cases: Array<[number, number, number]> = [
    [8000, 1, 0.3],
    [8000, 1, 10],
    [11025, 2, 2.5],
    [12000, 1, 7.77],
    [16000, 1, 10],
    [22050, 2, 1],
    [24000, 1, 30],
    [32000, 2, 7.77],
    [44100, 2, 0.3],
    [44100, 1, 10],
    [48000, 2, 7.77],
  ];
  it.each(cases)('%i Hz, %i channel(s), %f s: within a frame of sox --i, and of what sox decodes', async (rate, channels, seconds) => {
    const input = synth(join(dir, `in-${rate}-${channels}-${seconds}.wav`), { rate, channels, seconds });
    const r = await converter.convert({ input, output: join(dir, `out-${rate}-${channels}-${seconds}.mp3`) });
    const frame = rate >= 32000 ? 1152 : 576;
    expect(r).toMatchObject({ rate, channels, bits: 16, encoding: 'MPEG audio (layer I, II or III)' });
    expect(r.samples % frame).toBe(0);
    // sox --i estimates: whole milliseconds, extrapolated from 25 frames, one frame short on short files.
    expect(Math.abs(r.samples - Number(soxi(r.output, '-s')))).toBeLessThanOrEqual(frame + rate / 1000);
    // sox's decoder (libmad) leaves the last frame out, and stops at its own estimate.
    const dec = decoded(r.output, channels);
    expect(r.samples).toBeGreaterThanOrEqual(dec);
    expect(r.samples - dec).toBeLessThanOrEqual(frame + rate / 1000);
    // Every frame of the input and lame's delay and padding: never less than went in.
    expect(r.duration).toBeGreaterThanOrEqual(seconds);
    // The same figure whatever the read blocks (headers straddling them are carried over).
    for (const size of [1, 3, 7, 100, 4096]) expect(walk(r.output, size)?.samples).toBe(r.samples);
  });
});

describe('where the frames do not say it all, sox --i measures', () => {
  it('an MP3 with an ID3v2 tag (sox writes one, with the exact length, when the input had comments)', async () => {
    const input = join(dir, 'commented.flac');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '--comment', 'Title=greeting', input, 'synth', '2', 'sine', '440']);
    const r = await converter.convert({ input, output: join(dir, 'commented.mp3') });
    expect(walk(r.output, 4096)).toBeUndefined();
    expect(r.samples).toBe(Number(soxi(r.output, '-s')));
    expect(r.samples).toBe(16000);
  });

  it('an existing MP3 cut inside a frame (onExists: skip measures the file that is there)', async () => {
    const input = synth(join(dir, 'whole.wav'), { seconds: 3 });
    const cut = await converter.convert({ input, output: join(dir, 'cut.mp3') });
    truncateSync(cut.output, cut.bytes - 10);
    expect(walk(cut.output, 4096)).toBeUndefined();
    const r = await converter.convert({ input, output: cut.output, onExists: 'skip' });
    expect(r).toMatchObject({ status: 'skipped', rate: 8000, channels: 1, samples: Number(soxi(cut.output, '-s')) });
  });

  it('bytes that are no MP3 frame', () => {
    const junk = join(dir, 'junk.mp3');
    execFileSync('sox', ['-n', '-r', '8000', '-t', 'wav', junk, 'synth', '0.1', 'sine', '440']);
    expect(walk(junk, 4096)).toBeUndefined();
  });
});
