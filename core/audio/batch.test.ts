// Which files a batch takes and where their outputs go.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.ts';
import { expandBatch, globToRegExp } from './batch.ts';
import { AudioConverter } from './converter.ts';

describe('glob patterns (matched against the path under the batch folder)', () => {
  it.each([
    ['*.gsm', 'a.gsm', true],
    ['*.gsm', 'sub/a.gsm', false],
    ['**/*.gsm', 'a.gsm', true],
    ['**/*.gsm', 'x/y/a.gsm', true],
    ['2025-*/**/*.wav', '2025-01/a/b.wav', true],
    ['2025-*/**/*.wav', '2024-01/a/b.wav', false],
    ['vm-?.wav', 'vm-1.wav', true],
    ['vm-?.wav', 'vm-10.wav', false],
    ['[ab].wav', 'b.wav', true],
    ['[!ab].wav', 'b.wav', false],
    ['*.{wav,gsm}', 'x.gsm', true],
    ['*.{wav,gsm}', 'x.mp3', false],
    ['a+b(1).wav', 'a+b(1).wav', true],
    ['a.wav', 'aXwav', false],
  ])('%s ~ %s → %s', (glob, path, matches) => {
    expect(globToRegExp(glob).test(path)).toBe(matches);
  });
});

describe('expandBatch', () => {
  let dir: string;
  let converter: AudioConverter;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-batch-'));
    converter = new AudioConverter({ roots: [dir], logger: silentLogger });
    mkdirSync(join(dir, 'vm/sub'), { recursive: true });
    for (const f of ['vm/b.gsm', 'vm/a.wav', 'vm/old.mp3', 'vm/notes.txt', 'vm/.sb-1a2b.mp3', 'vm/.hidden.gsm', 'vm/sub/c.gsm']) writeFileSync(join(dir, f), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a folder without a glob: its audio files, sorted, not hidden ones (unfinished outputs), not those already in the target format beside their outputs', async () => {
    const items = await expandBatch(converter, { batch: { dir: 'vm' }, to: 'mp3' });
    expect(items).toEqual([
      { index: 0, input: 'vm/a.wav', output: 'vm/a.mp3' },
      { index: 1, input: 'vm/b.gsm', output: 'vm/b.mp3' },
    ]);
  });

  it('with outDir, files already in the target format are converted too, and sub-folders are kept', async () => {
    const items = await expandBatch(converter, { batch: { dir: 'vm', recursive: true }, to: 'mp3', outDir: 'out' });
    expect(items.map((i) => [i.input, i.output])).toEqual([
      ['vm/a.wav', 'out/a.mp3'],
      ['vm/b.gsm', 'out/b.mp3'],
      ['vm/old.mp3', 'out/old.mp3'],
      ['vm/sub/c.gsm', 'out/sub/c.mp3'],
    ]);
  });

  it('a glob takes what it matches (a non-audio file then fails on its own)', async () => {
    const items = await expandBatch(converter, { batch: { dir: 'vm', glob: '*.{txt,gsm}' }, to: 'wav' });
    expect(items.map((i) => i.input)).toEqual(['vm/b.gsm', 'vm/notes.txt']);
  });

  it('a list of files: outputs beside each, or in outDir', async () => {
    expect(await expandBatch(converter, { batch: { files: ['vm/b.gsm', 'x/y.r8'] }, to: 'wav' })).toEqual([
      { index: 0, input: 'vm/b.gsm', output: 'vm/b.wav' },
      { index: 1, input: 'x/y.r8', output: 'x/y.wav' },
    ]);
    expect((await expandBatch(converter, { batch: { files: ['vm/b.gsm'] }, to: 'wav', outDir: 'o' }))[0]?.output).toBe('o/b.wav');
  });

  it('a folder outside the roots, or missing', async () => {
    await expect(expandBatch(converter, { batch: { dir: '/etc' }, to: 'wav' })).rejects.toMatchObject({ code: 'SB_AUDIO_OUTSIDE_ROOTS' });
    await expect(expandBatch(converter, { batch: { dir: 'nope' }, to: 'wav' })).rejects.toMatchObject({ code: 'SB_AUDIO_NOT_FOUND' });
  });
});
