// The launcher process that starts sox and the tools piped to it: pipes, arguments as they are,
// kill, a missing program, the launcher dying, and what happens when its parent goes away.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lineAppears } from '../../test/support/audio-files.ts';
import { LauncherGone, ProcessLauncher } from './launcher.ts';

let dir: string;
let launcher: ProcessLauncher;
/** Processes a test left running on purpose (the launcher was killed under them). */
const orphans: number[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-launcher-'));
});
afterEach(() => {
  launcher?.close();
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^\S+ \S+ Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x'));

describe('ProcessLauncher', () => {
  it('pipes each process into the next, and returns every standard error and the last standard output', async () => {
    launcher = new ProcessLauncher(process.env);
    const [first, second] = await launcher.run([{ bin: 'sh', args: ['-c', 'printf "abc"; echo first-err >&2'] }, { bin: 'tr', args: ['a-z', 'A-Z'] }], { capture: true }).ended;
    expect(first).toMatchObject({ code: 0, signal: null, stderr: 'first-err\n' });
    expect(second).toMatchObject({ code: 0, signal: null, stdout: 'ABC', stderr: '' });
  });

  it('passes arguments as they are: no shell reads them', async () => {
    launcher = new ProcessLauncher(process.env);
    const hostile = ['a b', "it's", '"q"', '$(touch pwned)', '`id`', 'x;y', 'line\nbreak', '-n', '*', ''];
    const [out] = await launcher.run([{ bin: 'printf', args: ['%s|', ...hostile] }], { capture: true }).ended;
    expect(out?.stdout).toBe(hostile.map((a) => `${a}|`).join(''));
    expect(existsSync('pwned')).toBe(false);
  });

  it('runs with the environment it was given, without node flags from NODE_OPTIONS', async () => {
    // Were NODE_OPTIONS passed on, node would refuse to start the launcher with this flag.
    launcher = new ProcessLauncher({ ...process.env, SB_LAUNCHER_TEST: 'given', NODE_OPTIONS: '--no-such-node-flag' });
    const [out] = await launcher.run([{ bin: 'sh', args: ['-c', 'printf "$SB_LAUNCHER_TEST:${NODE_OPTIONS-unset}"'] }], { capture: true }).ended;
    expect(out?.stdout).toBe('given:unset');
  });

  it('a program that is not there: spawnError ENOENT, and the rest of the chain still ends', async () => {
    launcher = new ProcessLauncher(process.env);
    const [missing, reader] = await launcher.run([{ bin: join(dir, 'no-such-program'), args: [] }, { bin: 'cat', args: [] }], { capture: true }).ended;
    expect(missing?.spawnError?.code).toBe('ENOENT');
    expect(reader).toMatchObject({ code: 0, stdout: '' });
  });

  it('arguments node refuses (a NUL byte): that run reports it, the launcher carries on', async () => {
    launcher = new ProcessLauncher(process.env);
    const pid = await launcher.run([{ bin: 'true', args: [] }]).ended.then(() => launcher.pid);
    const [first, second] = await launcher.run([{ bin: 'sleep', args: ['30'] }, { bin: 'printf', args: ['a\0b'] }]).ended;
    expect(first?.signal).toBe('SIGKILL');
    expect(second?.spawnError?.code).toBe('ERR_INVALID_ARG_VALUE');
    const [after] = await launcher.run([{ bin: 'true', args: [] }]).ended;
    expect(after?.code).toBe(0);
    expect(launcher.pid).toBe(pid);
  });

  it('kill: SIGKILL to every process of the run', async () => {
    launcher = new ProcessLauncher(process.env);
    const run = launcher.run([{ bin: 'sleep', args: ['30'] }, { bin: 'sleep', args: ['30'] }]);
    run.kill();
    const ends = await run.ended;
    expect(ends.map((e) => e.signal)).toEqual(['SIGKILL', 'SIGKILL']);
  });

  it('the launcher dying ends the runs in progress with LauncherGone; the next run starts a new launcher', async () => {
    launcher = new ProcessLauncher(process.env);
    const marker = 'dying.pid';
    const run = launcher.run([{ bin: 'sh', args: ['-c', `echo $$ > ${join(dir, marker)}; exec sleep 30`] }]);
    orphans.push(Number(await lineAppears(dir, marker)));
    const first = launcher.pid as number;
    process.kill(first, 'SIGKILL');
    await expect(run.ended).rejects.toBeInstanceOf(LauncherGone);
    const [again] = await launcher.run([{ bin: 'true', args: [] }]).ended;
    expect(again?.code).toBe(0);
    expect(launcher.pid).not.toBe(first);
  });
});

describe('ProcessLauncher and the process that owns it', () => {
  /** Runs a script with the launcher in a child node process; resolves with it once it has started. */
  const script = (name: string, body: string): ReturnType<typeof spawn> => {
    const path = join(dir, `${name}.mts`);
    writeFileSync(path, `import { ProcessLauncher } from ${JSON.stringify(new URL('./launcher.ts', import.meta.url).pathname)};\nconst launcher = new ProcessLauncher(process.env);\n${body}\n`);
    return spawn(process.execPath, ['--import', 'tsx', path], { stdio: ['ignore', 'ignore', 'inherit'] });
  };

  it('when its owner is killed, everything the launcher started is killed too', async () => {
    const marker = 'owner-gone.pid';
    const owner = script('owner', `launcher.run([{ bin: 'sh', args: ['-c', ${JSON.stringify(`echo $$ > ${join(dir, marker)}; exec sleep 30`)}] }]);`);
    const pid = Number(await lineAppears(dir, marker));
    orphans.push(pid);
    expect(alive(pid)).toBe(true);
    owner.kill('SIGKILL');
    await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
  });

  it('an idle launcher does not keep its owner running', async () => {
    const owner = script('idle', `const [end] = await launcher.run([{ bin: 'true', args: [] }]).ended;\nif (end?.code !== 0) process.exit(3);`);
    const code = await new Promise((resolve) => owner.once('exit', resolve));
    expect(code).toBe(0);
  });
});
