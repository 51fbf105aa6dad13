// `switchboard prepare-sounds`: a folder of prompts (recorded files, or text spoken by espeak-ng)
// to 16-bit mono WAV at the calls' native rates, in the layout FreeSWITCH's mod_sndfile looks
// up (`<dir>/<rate>/<name>` first, then `<dir>/<name>`); and the bundled prompts are its output.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soxi, stat, synth } from '../../test/support/audio-files.ts';
import { findTool } from '../../test/support/system-tools.ts';
import { PROJECT_ROOT } from '../config.ts';

const BIN = join(PROJECT_ROOT, 'bin/switchboard.js');
let dir: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: dir, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const espeak = findTool('espeak-ng') !== undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-prepare-'));
  mkdirSync(join(dir, 'src'));
  // A greeting as a studio would deliver it: 44.1 kHz stereo MP3, quiet.
  synth(join(dir, 'src', 'hello.mp3'), { rate: 44100, channels: 2, seconds: 1, effects: ['synth', '1', 'sine', '440', 'gain', '-12'] });
  if (espeak) writeFileSync(join(dir, 'src', 'bye.txt'), 'Goodbye.\n');
  synth(join(dir, 'src', '.hidden.wav'));
  writeFileSync(join(dir, 'src', 'notes.md'), 'not a prompt\n');
  mkdirSync(join(dir, 'inplace'));
  synth(join(dir, 'inplace', 'welcome.wav'), { rate: 22050 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent('switchboard prepare-sounds', () => {
  it(`--rates 8000,16000: <out>/<name>.wav at the first rate and <out>/<rate>/<name>.wav for each, mono 16-bit, normalised${espeak ? '; .txt prompts spoken' : ''}`, async () => {
    const r = await cli(['prepare-sounds', 'src', '--out', 'dst', '--rates', '8000,16000', '--normalise', '-3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const names = espeak ? ['bye', 'hello'] : ['hello'];
    expect(r.stdout).toContain(`${names.length} prompts: ${names.length} prepared, 0 failed`);
    expect(r.stdout).toMatch(/^ok {4}hello\.mp3 → hello\.wav {2}8000 Hz {2}1\.0\d s; 8000\/hello\.wav, 16000\/hello\.wav$/m);
    for (const name of names) {
      for (const [file, rate] of [[`dst/${name}.wav`, '8000'], [`dst/8000/${name}.wav`, '8000'], [`dst/16000/${name}.wav`, '16000']] as const) {
        const path = join(dir, file);
        expect([soxi(path, '-r'), soxi(path, '-c'), soxi(path, '-b')], file).toEqual([rate, '1', '16']);
        expect(stat(path, 'Pk lev dB'), file).toBeCloseTo(-3, 0);
      }
    }
    expect(readdirSync(join(dir, 'dst')).sort()).toEqual(['16000', '8000', ...names.map((n) => `${n}.wav`)]);
  });

  it('in place (no --out) a WAV prompt cannot be its own output: that prompt fails, the file is kept', async () => {
    const r = await cli(['prepare-sounds', 'inplace']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}welcome\.wav {2}SB_AUDIO_SAME_FILE/m);
    expect(soxi(join(dir, 'inplace', 'welcome.wav'), '-r')).toBe('22050');
  });

  it('a rate FreeSWITCH does not use is refused', async () => {
    const r = await cli(['prepare-sounds', 'src', '--out', 'x', '--rates', '8000,7000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^SB_AUDIO_BAD_OPTION: .*7000/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

describe('the bundled prompts (flows/sounds) are prepare-sounds output of flows/sounds/prompts', () => {
  const sounds = join(PROJECT_ROOT, 'flows/sounds');
  const prompts = readdirSync(join(sounds, 'prompts')).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4)).sort();
  const wavs = readdirSync(sounds).filter((f) => f.endsWith('.wav')).map((f) => f.slice(0, -4)).sort();

  it('every sound the flows play has its prompt text, and every prompt its sound', () => {
    expect(wavs).toEqual(prompts);
    expect(prompts).toEqual(expect.arrayContaining(['welcome', 'sorry', 'menu', 'invalid', 'closed', 'leave-a-message', 'announce']));
  });

  it.each(wavs)('%s.wav: 8 kHz, mono, 16-bit, peak at -3 dBFS', (name) => {
    const path = join(sounds, `${name}.wav`);
    expect([soxi(path, '-r'), soxi(path, '-c'), soxi(path, '-b')]).toEqual(['8000', '1', '16']);
    expect(stat(path, 'Pk lev dB')).toBeCloseTo(-3, 0);
  });
});
