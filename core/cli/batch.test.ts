// `switchboard batch` as a user runs it: a real process posting a CSV file to a running service
// (REST API, Redis, the FreeSWITCH simulator), following the batch to the end or detaching.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { PROJECT_ROOT } from '../config.ts';

const run = promisify(execFile);
let rig: ApiRig;

beforeAll(async () => {
  rig = await startApiRig({ prefix: 'batchcli', env: { SB_CPS: '50' } });
}, 30_000);

afterAll(async () => {
  await rig?.close();
});

function batch(args: string[]) {
  return run(process.execPath, [join(PROJECT_ROOT, 'bin/switchboard.js'), 'batch', ...args, '--url', rig.base], {
    cwd: rig.dir,
    env: { ...process.env, SB_API_KEY: rig.key },
    timeout: 60_000,
  });
}

const dialled = (n: string): number => rig.sim.received.filter((c) => c.line.startsWith('bgapi originate') && c.line.includes(`user/${n} `)).length;

it('switchboard batch <file.csv>: lists the rejected rows, prints progress lines until every call is done, exits 0', async () => {
  const file = join(rig.dir, 'spring.csv');
  writeFileSync(file, 'to,customer\n5551001,"Smith, Jo"\n5551002,Ann\n5551003;x,Eve\n5551004,Bob\n');
  const r = await batch([file, '--flow', 'reminder', '--var', 'campaign=spring', '--name', 'spring']);
  const id = /^batch (b-[0-9a-f]{32}): 3 rows accepted, 1 rejected$/m.exec(r.stdout)?.[1];
  expect(id, r.stdout).toBeDefined();
  expect(r.stderr).toMatch(/row 3 \(line 4\) \/rows\/2\/to: .*not a dialable number/);
  const lines = r.stdout.trim().split('\n');
  expect(lines.slice(1, -1).every((l) => /^\d+\/3 done · /.test(l))).toBe(true);
  expect(lines.at(-1)).toBe('done: 3 completed, 0 failed, 0 cancelled');
  expect(['5551001', '5551002', '5551004'].map(dialled)).toEqual([1, 1, 1]);
  const job = await rig.service.queue?.get(`${id}-r1`);
  expect(job?.job.vars).toEqual({ campaign: 'spring', customer: 'Smith, Jo' });
});

it('--detach prints the batch id and returns; the batch goes on without it', async () => {
  const file = join(rig.dir, 'detach.csv');
  writeFileSync(file, 'to\n5552001\n5552002\n');
  const r = await batch([file, '--flow', 'reminder', '--detach']);
  expect(r.stdout).toMatch(/^batch b-[0-9a-f]{32}: 2 rows accepted, 0 rejected\n$/);
  const id = r.stdout.split(' ')[1]?.replace(':', '');
  await expect.poll(async () => ((await (await rig.get(`/v1/batches/${id}`)).json()) as { state: string }).state, { timeout: 15_000 }).toBe('done');
});

it('a refused batch: the code, the pointer and the message on stderr, exit 1', async () => {
  const file = join(rig.dir, 'bad.csv');
  writeFileSync(file, 'to\n5553001\n');
  const r = await batch([file, '--flow', 'nope']).catch((e: { code: number; stderr: string }) => e);
  expect((r as { code: number }).code).toBe(1);
  expect((r as { stderr: string }).stderr).toMatch(/^SB_API_BAD_REQUEST at \/flow: no flow named "nope"/);
  expect(dialled('5553001')).toBe(0);
});
