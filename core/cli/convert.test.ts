// `switchboard convert` as a user runs it: a process, arguments as the shell would pass them.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, soxi, synth } from '../../test/support/audio-files.ts';
import { findTool } from '../../test/support/system-tools.ts';
import { PROJECT_ROOT } from '../config.ts';
import { renderBar } from './progress.ts';

const BIN = join(PROJECT_ROOT, 'bin/switchboard.js');
let dir: string;

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-convert-cli-'));
  synth(join(dir, 'greeting.wav'), { rate: 44100, channels: 2 });
  mkdirSync(join(dir, 'vm'));
  mkdirSync(join(dir, 'tty'));
  for (const n of [1, 2, 3]) {
    synth(join(dir, 'vm', `${n}.gsm`), { seconds: 0.5 });
    synth(join(dir, 'tty', `${n}.gsm`), { seconds: 0.5 });
  }
  writeFileSync(join(dir, 'vm', 'broken.gsm'), 'xx');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each run starts a CLI process (a few seconds of start-up on a busy machine): they run side by side.
describe.concurrent('switchboard convert', () => {
  it('<in> <out> with options: converts, prints what it measured; a leading - after --, quotes and spaces are plain names', async () => {
    const name = `-greeting "8k" it's.wav`;
    const r = await cli(['convert', '--rate', '8000', '--channels', '1', '--normalise', '--', 'greeting.wav', name]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // A name with a quote is shown escaped (JSON), so the line stays one line and unambiguous.
    expect(r.stdout).toMatch(/^converted .*greeting\.wav → ".*\/-greeting \\"8k\\" it's\.wav" {2}1\.00 s {2}8000 Hz {2}1 ch {2}16-bit Signed Integer PCM {2}16,044 B {2}sha256 [0-9a-f]{12}\n$/);
    expect(soxi(join(dir, name), '-r')).toBe('8000');
  });

  it('--json prints the result; an existing output is refused (--overwrite replaces it)', async () => {
    const first = await cli(['convert', '--json', 'greeting.wav', 'g.ul']);
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout) as { sha256: string; rate: number; output: string };
    expect(result).toMatchObject({ rate: 8000, output: join(dir, 'g.ul'), sha256: sha256(join(dir, 'g.ul')) });
    const again = await cli(['convert', 'greeting.wav', 'g.ul']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^SB_AUDIO_OUTPUT_EXISTS: /);
  });

  it('a bad option or format: its code and pointer, exit 1', async () => {
    const r = await cli(['convert', '--rate', '7000', 'greeting.wav', 'x.mp3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^SB_AUDIO_BAD_OPTION at \/rate: /);
  });

  it('--batch <dir> --to wav without a terminal: one plain line per file, a summary, exit 1 when a file failed', async () => {
    const r = await cli(['convert', '--batch', 'vm', '--to', 'wav', '--out-dir', 'wav']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines.filter((l) => l.startsWith('ok  '))).toHaveLength(3);
    expect(lines.find((l) => l.startsWith('FAIL'))).toMatch(/broken\.gsm {2}SB_AUDIO_TRUNCATED {2}/);
    expect(lines[4]).toBe('4 files: 3 converted, 0 skipped, 1 failed');
    expect(['1', '2', '3'].every((n) => existsSync(join(dir, 'wav', `${n}.wav`)))).toBe(true);
  });

  const script = findTool('script');
  it.runIf(script)('--batch on a terminal: a progress bar redrawn in place on stderr', async () => {
    // util-linux script(1) gives the command a pseudo-terminal, as an interactive shell would.
    const command = [process.execPath, BIN, 'convert', '--batch', 'tty', '--to', 'ul', '--glob', '[123].gsm'].map((a) => `'${a}'`).join(' ');
    const child = spawn(script as string, ['-qec', command, '/dev/null'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/\r\[#{30}\] 3\/3 {2}[0-9.]+ files\/s/);
    expect(out).toContain('3 files: 3 converted, 0 skipped, 0 failed');
  });

  it('the bar itself', () => {
    expect(renderBar(45, 100, 3, 12.34, 20)).toBe('[#########-----------]  45/100  3 failed  12.3 files/s');
    expect(renderBar(0, 0, 0, 0, 4)).toBe('[----] 0/0  0.0 files/s');
  });

  it('without sox: SB_AUDIO_CONVERTER_MISSING naming the Debian packages', async () => {
    const r = await cli(['convert', 'greeting.wav', 'nosox.wav'], { SB_AUDIO_SOX: join(dir, 'no-sox') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^SB_AUDIO_CONVERTER_MISSING: .*apt-get install sox libsox-fmt-all/);
  });
});
