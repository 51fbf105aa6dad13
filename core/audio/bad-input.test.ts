// Every bad input of the issue, each with its exact code. Requests that can never work are
// refused before any process starts: sox is run through a spy that logs each invocation.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineAppears, sha256, soxi, synth } from '../../test/support/audio-files.ts';
import { silentLogger } from '../log.ts';
import { AudioConverter, isTransient } from './converter.ts';
import { soxLauncher } from './sox.ts';
import type { ConvertRequest } from './request.schema.ts';

let base: string;
let root: string;
let outside: string;
let spyLog: string;
let converter: AudioConverter;
let tone: string;

/** An OGG Opus file made by opus-tools itself from a 16-bit WAV. */
const opusenc = (wav: string, opus: string): void => void execFileSync('opusenc', ['--quiet', wav, opus]);

/** The sox invocations that converted something (the capability probe `sox -h` is not one). */
const conversions = (): string[] => readFileSync(spyLog, 'utf8').split('\n').filter((l) => l !== '' && l !== '-h');

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'sb-bad-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  spyLog = join(base, 'sox-calls.log');
  writeFileSync(spyLog, '');
  const spy = join(base, 'sox-spy');
  // A test stand-in that records how it was called, then is the real sox.
  writeFileSync(spy, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${spyLog}'\nexec sox "$@"\n`);
  chmodSync(spy, 0o755);
  converter = new AudioConverter({ sox: spy, roots: [root], concurrency: 2, logger: silentLogger });
  await converter.start();
  tone = synth(join(root, 'tone.wav'), { seconds: 2, format: ['-b', '16'] });
  synth(join(outside, 'secret.wav'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('bad input: each case fails with its code and leaves the input as it was', () => {
  const file = (name: string, make: (path: string) => void): string => {
    const path = join(root, name);
    make(path);
    return path;
  };
  // [case, request (paths relative to the root), code, whether sox may have been run]
  const table: Array<[string, () => ConvertRequest, string, boolean]> = [
    ['a missing file', () => ({ input: 'nope.wav', output: 'o1.mp3' }), 'SB_AUDIO_NOT_FOUND', false],
    ['an empty file (0 bytes)', () => ({ input: file('empty.wav', (p) => writeFileSync(p, '')), output: 'o2.mp3' }), 'SB_AUDIO_EMPTY', false],
    ['a WAV header without data (a recording still being written), to MP3', () => ({ input: file('header.wav', (p) => synth(p, { effects: ['trim', '0', '0'] })), output: 'o3.mp3' }), 'SB_AUDIO_EMPTY', true],
    ['a WAV cut right after its header (the header says more)', () => ({ input: file('hdr-cut.wav', (p) => (copyFileSync(tone, p), truncateSync(p, 44))), output: 'o3b.wav' }), 'SB_AUDIO_TRUNCATED', true],
    ['a truncated WAV (the header says more than there is)', () => ({ input: file('cut.wav', (p) => (copyFileSync(tone, p), truncateSync(p, 10_000))), output: 'o4.mp3' }), 'SB_AUDIO_TRUNCATED', true],
    ['a truncated raw L16 file (half a sample)', () => ({ input: file('cut.r8', (p) => writeFileSync(p, Buffer.alloc(1001))), output: 'o5.wav' }), 'SB_AUDIO_TRUNCATED', false],
    ['a truncated GSM file (part of a frame)', () => ({ input: file('cut.gsm', (p) => writeFileSync(p, Buffer.alloc(33 * 10 + 7))), output: 'o6.wav' }), 'SB_AUDIO_TRUNCATED', false],
    ['a text file renamed .wav', () => ({ input: file('text.wav', (p) => writeFileSync(p, 'this is not audio, only text\n'.repeat(20))), output: 'o7.mp3' }), 'SB_AUDIO_NOT_AUDIO', true],
    ['a text file renamed .mp3', () => ({ input: file('text.mp3', (p) => writeFileSync(p, 'hello\n'.repeat(20))), output: 'o8.wav' }), 'SB_AUDIO_NOT_AUDIO', true],
    ['a folder named .wav', () => ({ input: file('folder.wav', (p) => mkdirSync(p)), output: 'o9.mp3' }), 'SB_AUDIO_NOT_AUDIO', false],
    ['an unknown input format', () => ({ input: file('x.xyz', (p) => writeFileSync(p, 'x')), output: 'o10.wav' }), 'SB_AUDIO_UNKNOWN_FORMAT', false],
    ['an unknown output format', () => ({ input: 'tone.wav', output: 'o11.aac' }), 'SB_AUDIO_UNKNOWN_FORMAT', false],
    // Opus inputs are read page by page before opusdec runs (it would say "Failed to open" to all of them, and decode a cut file without a word).
    ['a missing .opus', () => ({ input: 'nope.opus', output: 'o12.wav' }), 'SB_AUDIO_NOT_FOUND', false],
    ['an empty .opus (0 bytes)', () => ({ input: file('empty.opus', (p) => writeFileSync(p, '')), output: 'o12b.wav' }), 'SB_AUDIO_EMPTY', false],
    ['a text file renamed .opus', () => ({ input: file('text.opus', (p) => writeFileSync(p, 'this is not audio, only text\n'.repeat(20))), output: 'o12c.wav' }), 'SB_AUDIO_NOT_AUDIO', false],
    ['a WAV renamed .opus', () => ({ input: file('wav.opus', (p) => copyFileSync(tone, p)), output: 'o12d.wav' }), 'SB_AUDIO_NOT_AUDIO', false],
    ['an OGG Vorbis file renamed .opus', () => ({ input: file('vorbis.opus', (p) => synth(p, { format: ['-t', 'vorbis'] })), output: 'o12e.wav' }), 'SB_AUDIO_NOT_AUDIO', false],
    ['an Opus file cut short (a recording still being written)', () => ({ input: file('cut.opus', (p) => (opusenc(tone, p), truncateSync(p, Math.floor(statSync(p).size * 0.7)))), output: 'o12f.wav' }), 'SB_AUDIO_TRUNCATED', false],
    ['an Opus file cut inside its first page', () => ({ input: file('cut-head.opus', (p) => (opusenc(tone, p), truncateSync(p, 20))), output: 'o12g.wav' }), 'SB_AUDIO_TRUNCATED', false],
    ['an Opus stream without audio (from a WAV header without data)', () => ({ input: file('header.opus', (p) => opusenc(synth(join(root, 'hdr16.wav'), { format: ['-b', '16'], effects: ['trim', '0', '0'] }), p)), output: 'o12h.wav' }), 'SB_AUDIO_EMPTY', false],
    ['a codec for Opus', () => ({ input: 'tone.wav', output: 'o12i.opus', codec: 'mulaw' }), 'SB_AUDIO_BAD_OPTION', false],
    ['bits for Opus', () => ({ input: 'tone.wav', output: 'o12j.opus', bits: 16 }), 'SB_AUDIO_BAD_OPTION', false],
    ['an unknown option', () => ({ input: 'tone.wav', output: 'o13.wav', speed: 2 }) as unknown as ConvertRequest, 'SB_AUDIO_BAD_OPTION', false],
    ['a rate sox would silently change (7 kHz MP3)', () => ({ input: 'tone.wav', output: 'o14.mp3', rate: 7000 }) as unknown as ConvertRequest, 'SB_AUDIO_BAD_OPTION', false],
    ['three channels', () => ({ input: 'tone.wav', output: 'o15.wav', channels: 3 }) as unknown as ConvertRequest, 'SB_AUDIO_BAD_OPTION', false],
    ['a codec the format does not have', () => ({ input: 'tone.wav', output: 'o16.mp3', codec: 'mulaw' }), 'SB_AUDIO_BAD_OPTION', false],
    ['GSM at 16 kHz', () => ({ input: 'tone.wav', output: 'o17.gsm', rate: 16000 }), 'SB_AUDIO_BAD_OPTION', false],
    ['µ-law in 16 bits', () => ({ input: 'tone.wav', output: 'o18.wav', codec: 'mulaw', bits: 16 }), 'SB_AUDIO_BAD_OPTION', false],
    ['gain and normalise together', () => ({ input: 'tone.wav', output: 'o19.wav', gain: 3, normalise: true }), 'SB_AUDIO_BAD_OPTION', false],
    ['a NUL byte in a name', () => ({ input: 'to\u0000ne.wav', output: 'o20.wav' }), 'SB_AUDIO_BAD_OPTION', false],
  ];

  const cases = table.map(([label, make, code, mayRunSox]) => [label, code, make, mayRunSox] as const);
  it.each(cases)('%s → %s', async (_label, code, make, mayRunSox) => {
    const request = make();
    const before = conversions().length;
    const inputPath = join(root, request.input);
    const fingerprint = (() => {
      try {
        return statSync(inputPath).isFile() ? sha256(inputPath) : 'not a file';
      } catch {
        return 'absent';
      }
    })();
    await expect(converter.convert(request)).rejects.toMatchObject({ code });
    if (!mayRunSox) expect(conversions().length, 'sox ran').toBe(before);
    // Nothing written, the input untouched.
    expect(readdirSync(root).filter((f) => f.startsWith('o') || f.startsWith('.sb-'))).toEqual([]);
    if (fingerprint !== 'absent' && fingerprint !== 'not a file') expect(sha256(inputPath)).toBe(fingerprint);
  });

  it('an unknown option names itself with a JSON pointer', async () => {
    await expect(converter.convert({ input: 'tone.wav', output: 'p.wav', colour: 'red' } as unknown as ConvertRequest)).rejects.toMatchObject({ code: 'SB_AUDIO_BAD_OPTION', context: { pointer: '/colour' } });
  });
});

describe('audio roots: refused before any process starts', () => {
  beforeAll(() => {
    symlinkSync(join(outside, 'secret.wav'), join(root, 'link-out.wav'));
    symlinkSync(outside, join(root, 'dir-out'));
  });
  const cases: Array<[string, () => ConvertRequest]> = [
    ['../../etc/passwd (relative, climbing out)', () => ({ input: '../../etc/passwd.wav', output: 'x.mp3' })],
    ['../ into a sibling folder', () => ({ input: '../outside/secret.wav', output: 'x.mp3' })],
    ['an absolute path elsewhere', () => ({ input: join(outside, 'secret.wav'), output: 'x.mp3' })],
    ['/etc/passwd itself', () => ({ input: '/etc/passwd.wav', output: 'x.mp3' })],
    ['a symbolic link inside the root pointing out', () => ({ input: 'link-out.wav', output: 'x.mp3' })],
    ['an output outside', () => ({ input: 'tone.wav', output: join(outside, 'x.mp3') })],
    ['an output through a linked folder pointing out', () => ({ input: 'tone.wav', output: 'dir-out/x.mp3' })],
    ['an output into a new folder under a link pointing out', () => ({ input: 'tone.wav', output: 'dir-out/new/x.mp3' })],
  ];
  it.each(cases)('%s → SB_AUDIO_OUTSIDE_ROOTS', async (_label, make) => {
    const before = conversions().length;
    await expect(converter.convert(make())).rejects.toMatchObject({ code: 'SB_AUDIO_OUTSIDE_ROOTS' });
    expect(conversions().length).toBe(before);
    expect(readdirSync(outside).sort()).toEqual(['secret.wav']);
  });
});

describe('file names are data: spaces, quotes, newlines, a leading -, a pipe, glob characters', () => {
  it.each(['with space.wav', `q'uo"te.wav`, 'new\nline.wav', '-leading-dash.wav', '|pipe.wav', 'star*.wav', '[x].wav', '$(id).wav', 'ü-ñ.wav'])('%j converts to what it holds, nothing else', async (name) => {
    const input = synth(join(root, name), { seconds: 0.5 });
    const before = sha256(input);
    // A sibling a glob would match: sox must not read it too (that would double the length).
    if (name === 'star*.wav') synth(join(root, 'star-sibling.wav'), { seconds: 0.5 });
    if (name === '[x].wav') synth(join(root, 'x.wav'), { seconds: 0.5 });
    const output = `${name}.out.mp3`;
    const r = await converter.convert({ input: name, output, rate: 8000 });
    expect(r.output).toBe(join(root, output));
    expect(r.duration).toBeGreaterThanOrEqual(0.5);
    expect(r.duration).toBeLessThan(0.7);
    expect(Number(soxi(join(root, output), '-r'))).toBe(8000);
    expect(sha256(input)).toBe(before);
  });
});

describe('the converter missing, or missing a format', () => {
  it('no sox: SB_AUDIO_CONVERTER_MISSING names the Debian packages', async () => {
    const none = new AudioConverter({ sox: join(base, 'no-such-sox'), roots: [root], logger: silentLogger });
    await expect(none.start()).rejects.toMatchObject({ code: 'SB_AUDIO_CONVERTER_MISSING', message: expect.stringContaining('apt-get install sox libsox-fmt-all') as unknown });
    await expect(none.convert({ input: 'tone.wav', output: 'y.mp3' })).rejects.toMatchObject({ code: 'SB_AUDIO_CONVERTER_MISSING' });
  });

  it('no opus-tools: an .opus input or output is SB_AUDIO_FORMAT_UNAVAILABLE naming opus-tools, before any process; other formats still convert', async () => {
    const c = new AudioConverter({ sox: join(base, 'sox-spy'), opusenc: join(base, 'no-such-opusenc'), roots: [root], logger: silentLogger });
    opusenc(tone, join(root, 'real.opus'));
    const before = conversions().length;
    await expect(c.convert({ input: 'tone.wav', output: 'no-opus-1.opus' })).rejects.toMatchObject({ code: 'SB_AUDIO_FORMAT_UNAVAILABLE', context: { pointer: '/output' }, message: expect.stringContaining('apt-get install opus-tools') as unknown });
    await expect(c.convert({ input: 'real.opus', output: 'no-opus-2.wav' })).rejects.toMatchObject({ code: 'SB_AUDIO_FORMAT_UNAVAILABLE', context: { pointer: '/input' } });
    expect(conversions().length).toBe(before);
    await expect(c.convert({ input: 'tone.wav', output: 'no-opus-3.mp3' })).resolves.toMatchObject({ status: 'converted' });
    expect(readdirSync(root).filter((f) => f.startsWith('no-opus-'))).toEqual(['no-opus-3.mp3']);
  });

  it('a tool that fails of itself: SB_AUDIO_CONVERT_FAILED naming that tool and its words, nothing left behind', async () => {
    // Stand-ins: an opusenc that answers --version as opus-tools does but refuses to encode, and
    // a sox that fails on conversions (its capability probe still answers as the real one).
    const badEnc = join(base, 'opusenc-fails');
    writeFileSync(badEnc, `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "opusenc opus-tools 0.2"; exit 0; fi\ncat > /dev/null\necho "Error: unsupported input" >&2\nexit 1\n`);
    const badSox = join(base, 'sox-fails');
    writeFileSync(badSox, `#!/bin/sh\nif [ "$1" = "-h" ]; then exec sox -h; fi\necho "sox FAIL sox: effect chain broke" >&2\nexit 2\n`);
    chmodSync(badEnc, 0o755);
    chmodSync(badSox, 0o755);
    const enc = new AudioConverter({ sox: 'sox', opusenc: badEnc, roots: [root], logger: silentLogger });
    const soxOnly = new AudioConverter({ sox: badSox, roots: [root], logger: silentLogger });
    const before = sha256(tone);
    await expect(enc.convert({ input: 'tone.wav', output: 'fails-1.opus' })).rejects.toMatchObject({ code: 'SB_AUDIO_CONVERT_FAILED', message: 'converting tone.wav failed: opusenc-fails: Error: unsupported input' });
    await expect(soxOnly.convert({ input: 'tone.wav', output: 'fails-2.wav' })).rejects.toMatchObject({ code: 'SB_AUDIO_CONVERT_FAILED', message: expect.stringMatching(/^converting tone\.wav failed: sox: .*effect chain broke/) as unknown });
    expect(readdirSync(root).filter((f) => f.includes('fails-'))).toEqual([]);
    expect(sha256(tone)).toBe(before);
  });

  it('the launcher process dying mid-conversion: SB_AUDIO_CONVERT_FAILED, worth a retry, nothing left behind', async () => {
    // A stand-in sox that says where it is, then takes its time.
    const slow = join(base, 'sox-slow');
    writeFileSync(slow, `#!/bin/sh\nif [ "$1" = "-h" ]; then exec sox -h; fi\necho $$ > '${join(base, 'slow-sox.pid')}'\nexec sleep 30\n`);
    chmodSync(slow, 0o755);
    const c = new AudioConverter({ sox: slow, roots: [root], logger: silentLogger });
    const converting = c.convert({ input: 'tone.wav', output: 'launcher-gone.wav' });
    const sox = Number(await lineAppears(base, 'slow-sox.pid'));
    process.kill(soxLauncher().pid as number, 'SIGKILL');
    const err = await converting.catch((e: unknown) => e);
    process.kill(sox, 'SIGKILL');
    expect(err).toMatchObject({ code: 'SB_AUDIO_CONVERT_FAILED', message: expect.stringContaining('the process launcher exited (SIGKILL)') as unknown });
    expect(isTransient(err)).toBe(true);
    expect(readdirSync(root).filter((f) => f.startsWith('.sb-') || f.startsWith('launcher-gone'))).toEqual([]);
    // The next conversion starts a new launcher.
    await expect(converter.convert({ input: 'tone.wav', output: 'after-launcher.wav' })).resolves.toMatchObject({ status: 'converted' });
  });

  it('a sox without its MP3 library: SB_AUDIO_FORMAT_UNAVAILABLE names libsox-fmt-mp3', async () => {
    const noMp3 = join(base, 'sox-no-mp3');
    // A stand-in whose format list lacks mp3, as a sox without libsox-fmt-mp3 prints it.
    writeFileSync(noMp3, `#!/bin/sh\nif [ "$1" = "-h" ]; then sox -h | sed 's/ mp3 / /'; else exec sox "$@"; fi\n`);
    chmodSync(noMp3, 0o755);
    const c = new AudioConverter({ sox: noMp3, roots: [root], logger: silentLogger });
    await expect(c.convert({ input: 'tone.wav', output: 'z.mp3' })).rejects.toMatchObject({ code: 'SB_AUDIO_FORMAT_UNAVAILABLE', message: expect.stringContaining('libsox-fmt-mp3') as unknown });
  });
});

// A full disk and a read-only one, for real: tmpfs mounts (root only; CI runs as root).
const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;

describe.runIf(canMount)('disk full or unwritable: failed with its cause, no partial output, the input intact', () => {
  let full: string;
  let readonly: string;
  let big: string;
  beforeAll(() => {
    full = join(root, 'full');
    readonly = join(root, 'readonly');
    mkdirSync(full);
    mkdirSync(readonly);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readonly]);
    big = synth(join(root, 'big.wav'), { rate: 44100, channels: 2, seconds: 10 });
  });
  afterAll(() => {
    spawnSync('umount', [full]);
    spawnSync('umount', [readonly]);
  });

  it.each([
    ['WAV', 'out.wav'],
    ['MP3 (sox then exits 0: the failure is in its messages)', 'out.mp3'],
  ])('disk full while writing %s → SB_AUDIO_WRITE_FAILED (ENOSPC, transient)', async (_label, name) => {
    const before = sha256(big);
    await expect(converter.convert({ input: big, output: join(full, name), ...(name.endsWith('.mp3') ? {} : { bits: 32 }) })).rejects.toMatchObject({
      code: 'SB_AUDIO_WRITE_FAILED',
      context: { cause: 'ENOSPC', transient: true },
    });
    expect(readdirSync(full)).toEqual([]);
    expect(sha256(big)).toBe(before);
  });

  it('disk full while opusenc writes (sox only loses its pipe) → SB_AUDIO_WRITE_FAILED (ENOSPC, transient)', async () => {
    // 40 s at 24 kbit/s does not fit in 64 KiB.
    const speech = synth(join(root, 'long-8k.wav'), { seconds: 40, effects: ['synth', '40', 'pinknoise', 'gain', '-10'] });
    await expect(converter.convert({ input: speech, output: join(full, 'out.opus') })).rejects.toMatchObject({ code: 'SB_AUDIO_WRITE_FAILED', context: { cause: 'ENOSPC', transient: true } });
    expect(readdirSync(full)).toEqual([]);
  });

  it('disk full while sox writes what opusdec decodes (opusdec only loses its pipe) → SB_AUDIO_WRITE_FAILED (ENOSPC)', async () => {
    const opus = join(root, 'big.opus');
    opusenc(synth(join(root, 'big16.wav'), { rate: 44100, channels: 2, seconds: 10, format: ['-b', '16'] }), opus);
    await expect(converter.convert({ input: opus, output: join(full, 'out.wav') })).rejects.toMatchObject({ code: 'SB_AUDIO_WRITE_FAILED', context: { cause: 'ENOSPC', transient: true } });
    expect(readdirSync(full)).toEqual([]);
  });

  it.each(['out.wav', 'out.opus'])('a read-only folder → SB_AUDIO_WRITE_FAILED (EROFS, not retried): %s', async (name) => {
    await expect(converter.convert({ input: tone, output: join(readonly, name) })).rejects.toMatchObject({ code: 'SB_AUDIO_WRITE_FAILED', context: { cause: 'EROFS', transient: false } });
    expect(readdirSync(readonly)).toEqual([]);
  });
});
