import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { StepHarness, testStep } from '../../test/support/step-tester.ts';

// The StepHarness's recordings folder (SB_RECORDINGS_DIR), the first audio root; a folder of our own in it.
const RECORDINGS = '/tmp/switchboard-test-recordings';
const sub = `convert-audio-${process.pid}`;
const dir = join(RECORDINGS, sub);

const soxi = (file: string, flag: string): string => execFileSync('soxi', [flag, file], { encoding: 'utf8' }).trim();

beforeAll(() => {
  mkdirSync(dir, { recursive: true });
  // A 44.1 kHz stereo "greeting", one second long.
  execFileSync('sox', ['-n', '-r', '44100', '-c', '2', join(dir, 'in.wav'), 'synth', '1', 'sine', '440']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

testStep(
  'convert-audio',
  [
    {
      name: 'converts now, inside the flow, and reports what it measured on the written file; no ESL command is involved',
      options: { input: `${sub}/in.wav`, output: `${sub}/out-8k.wav`, rate: 8000, channels: 1 },
      expect: { outcome: 'ok', result: { file: join(dir, 'out-8k.wav'), seconds: 1, rate: 8000, channels: 1, bytes: 16044, status: 'converted' }, commands: ['hangup NORMAL_CLEARING'] },
    },
    {
      name: 'to: the output is the input with the new extension',
      options: { input: `${sub}/in.wav`, to: 'mp3' },
      expect: { outcome: 'ok', result: { file: join(dir, 'in.mp3'), rate: 44100, channels: 2, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown } },
    },
    { name: 'a path outside the audio roots fails the step (the flow has no on_error: the call is hung up)', options: { input: '../../../etc/passwd.wav', to: 'mp3' }, expect: { ending: 'error' } },
    { name: 'a missing input fails the step', options: { input: `${sub}/nothing-here.wav`, to: 'mp3' }, expect: { ending: 'error' } },
    { name: 'needs output or to', options: { input: 'a.wav' }, error: 'SB_FLOW_BAD_OPTION' },
    { name: 'not both', options: { input: 'a.wav', to: 'mp3', output: 'b.mp3' }, error: 'SB_FLOW_BAD_OPTION' },
    { name: 'an option the output format cannot take is a load-time error', options: { input: 'a.wav', to: 'gsm', rate: 16000 }, error: 'SB_FLOW_BAD_OPTION' },
    {
      name: 'to: opus — sox piped into opusenc; the rate asked for and the length measured on the written file',
      options: { input: `${sub}/in.wav`, to: 'opus', rate: 16000, channels: 1 },
      expect: { outcome: 'ok', result: { file: join(dir, 'in.opus'), seconds: 1, rate: 16000, channels: 1, status: 'converted' } },
    },
    { name: 'an option Opus cannot take is a load-time error', options: { input: 'a.wav', to: 'opus', bits: 16 }, error: 'SB_FLOW_BAD_OPTION' },
    { name: 'an unknown option', options: { input: 'a.wav', to: 'mp3', bitrate: 32 }, error: 'SB_FLOW_BAD_OPTION' },
    { name: 'an unknown output extension', options: { input: 'a.wav', output: 'b.xyz' }, error: 'SB_FLOW_BAD_OPTION' },
  ],
  { audio: {} },
);

describe('step convert-audio with the audio queue (real redis-server) and on_hangup', () => {
  let redis: RedisServer;
  let h: StepHarness;
  beforeAll(async () => {
    redis = await startRedisServer();
    h = await StepHarness.start({ env: { REDIS_URL: redis.url, SB_QUEUE_PREFIX: 'cvt' }, audio: { worker: true } });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('in on_hangup: converts the voicemail record just wrote, once the call is over', async () => {
    const flow = [
      'name: vm',
      'steps:',
      '  - answer',
      '  - id: vm',
      `    record: { file: "${sub}/vm-\${call.uuid}.wav", beep: false }`,
      '  - hangup',
      'on_hangup:',
      '  - id: mp3',
      '    convert-audio: { input: "${steps.vm.file}", to: mp3, normalise: true }',
    ].join('\n');
    const r = await h.run(flow, {
      name: 'voicemail',
      // What FreeSWITCH does: record writes the file at the path it was given; the caller ends with #.
      caller: async (ch) => {
        const rec = await ch.waitForApp('record');
        const path = rec.arg.split(' ')[0] as string;
        execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', path, 'synth', '2', 'sine', '300']);
        await ch.pressDtmf('#');
      },
    });
    expect(r.result.ending, JSON.stringify(r.result.steps)).toBe('completed');
    const mp3 = r.result.steps.mp3;
    expect(mp3).toMatchObject({ outcome: 'ok', rate: 8000, channels: 1, status: 'converted' });
    expect(mp3?.file).toMatch(new RegExp(`${sub}/vm-[0-9a-f-]{36}\\.mp3$`));
    // MP3 frames pad the end a little: at least the two seconds recorded, measured on the file.
    expect(mp3?.seconds as number).toBeGreaterThanOrEqual(2);
    expect(mp3?.seconds as number).toBeLessThan(2.2);
    expect(Number(soxi(mp3?.file as string, '-r'))).toBe(8000);
  });

  it('wait: false queues the job and the flow goes on at once; an audio worker converts it', async () => {
    const flow = ['name: q', 'steps:', '  - id: conv', `    convert-audio: { input: "${sub}/in.wav", output: "${sub}/queued.r16", wait: false }`, '  - hangup'].join('\n');
    const r = await h.run(flow);
    expect(r.result.ending).toBe('completed');
    const step = r.result.steps.conv;
    expect(step).toMatchObject({ outcome: 'ok', job: expect.stringMatching(/^a-/) as unknown, file: join(dir, 'queued.r16') });
    const queue = h.audioRuntime?.queue;
    await expect.poll(async () => (await queue?.get(step?.job as string))?.state, { timeout: 10_000 }).toBe('completed');
    const job = await queue?.get(step?.job as string);
    expect(job?.result).toMatchObject({ output: join(dir, 'queued.r16'), rate: 16000, channels: 1, samples: 16000, bytes: 32000 });
    expect(existsSync(join(dir, 'queued.r16'))).toBe(true);
  });
});
