// WAV outputs are measured from their header chunks as they are hashed (no sox --i process per
// file): the figures must be exactly what sox --i says, for every encoding sox writes to WAV,
// whatever the read blocks; anything the walker does not know is left to sox --i.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soxInfo } from './measure.ts';
import { WavWalker } from './wav-header.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-wav-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function make(name: string, args: string[], seconds: number): string {
  const path = join(dir, name);
  execFileSync('sox', ['-n', ...args, path, 'synth', String(seconds), 'sine', '300-3000']);
  return path;
}

function walk(path: string, size: number): ReturnType<WavWalker['result']> {
  const bytes = readFileSync(path);
  const walker = new WavWalker();
  for (let i = 0; i < bytes.length; i += size) walker.push(bytes.subarray(i, i + size));
  return walker.result();
}

describe('what sox --i says, without sox', () => {
  // [name, sox output arguments, seconds]
  const cases: Array<[string, string[], number]> = [
    ['pcm16-8k', ['-r', '8000', '-c', '1', '-e', 'signed-integer', '-b', '16'], 1],
    ['pcm8-odd', ['-r', '8000', '-c', '1', '-e', 'unsigned-integer', '-b', '8'], 0.000375],
    ['pcm24-stereo-48k', ['-r', '48000', '-c', '2', '-e', 'signed-integer', '-b', '24'], 0.5],
    ['pcm32-16k', ['-r', '16000', '-c', '1', '-e', 'signed-integer', '-b', '32'], 0.3],
    ['pcm16-6ch-44k', ['-r', '44100', '-c', '6', '-e', 'signed-integer', '-b', '16'], 0.2],
    ['ulaw', ['-r', '8000', '-c', '1', '-e', 'mu-law'], 2],
    ['alaw', ['-r', '8000', '-c', '1', '-e', 'a-law'], 0.7],
  ];
  it.each(cases)('%s', async (name, args, seconds) => {
    const path = make(`${name}.wav`, args, seconds);
    const [sox] = await soxInfo('sox', [path]);
    expect(sox?.ok).toBe(true);
    for (const size of [1, 7, 4096, 1 << 20]) expect(walk(path, size), `blocks of ${size}`).toEqual((sox as { info: unknown }).info);
  });
});

describe('left to sox --i', () => {
  it('GSM in WAV, float, a text file, a file cut short or with bytes after its chunks', () => {
    expect(walk(make('gsm.wav', ['-r', '8000', '-c', '1', '-e', 'gsm-full-rate'], 1), 4096)).toBeUndefined();
    expect(walk(make('float.wav', ['-r', '8000', '-c', '1', '-e', 'floating-point', '-b', '32'], 1), 4096)).toBeUndefined();
    const text = join(dir, 'text.wav');
    writeFileSync(text, 'RIFF? no, just words\n');
    expect(walk(text, 4096)).toBeUndefined();
    const cut = make('cut.wav', ['-r', '8000', '-c', '1', '-b', '16'], 1);
    truncateSync(cut, 10_000);
    expect(walk(cut, 4096)).toBeUndefined();
    const longer = make('longer.wav', ['-r', '8000', '-c', '1', '-b', '16'], 1);
    writeFileSync(longer, Buffer.concat([readFileSync(longer), Buffer.alloc(3)]));
    expect(walk(longer, 4096)).toBeUndefined();
  });
});
