/** Every example flow in flows/, run end to end through the FreeSWITCH simulator. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../core/config.ts';
import { farEndHangsUp, nthApp, StepHarness, type StepCase } from '../test/support/step-tester.ts';

const dir = join(PROJECT_ROOT, 'flows');
const read = (name: string): string => readFileSync(join(dir, name), 'utf8');

let h: StepHarness;
beforeAll(async () => {
  h = await StepHarness.start({ env: { SB_OFFICE_TZ: 'UTC' } });
});
afterAll(async () => {
  await h?.close();
});

/** Presses `digits` once `count` playbacks have started. */
const pressAt = (count: number, digits: string): StepCase['caller'] => async (ch) => {
  await nthApp(ch, 'playback', count);
  await ch.pressDtmf(digits);
};

describe('flows/', () => {
  it('every flow file here has a test below', () => {
    const covered = ['default.yaml', 'ivr-menu.yaml', 'business-hours.yaml', 'after-hours-voicemail.yaml', 'attended-transfer.yaml', 'nova-front-desk.yaml'];
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.filter((f) => !covered.includes(f))).toEqual([]);
  });

  it('default: answers, greets, hangs up', async () => {
    const r = await h.run(read('default.yaml'));
    expect(r.result.ending).toBe('completed');
    expect(r.commands).toEqual(['execute answer', expect.stringMatching(/playback_terminators none$/), expect.stringMatching(/^execute playback .*welcome\.wav$/), 'hangup NORMAL_CLEARING']);
  });

  it('ivr-menu: 1 goes to sales', async () => {
    const r = await h.run(read('ivr-menu.yaml'), { name: 'sales', caller: pressAt(2, '1') });
    expect(r.result.steps.menu).toMatchObject({ outcome: 'ok', digits: '1' });
    expect(r.commands).toContainEqual(expect.stringMatching(/^api uuid_transfer \S+ 2001 XML default$/));
  });

  it('ivr-menu: an invalid key, then 3, goes to voicemail', async () => {
    const r = await h.run(read('ivr-menu.yaml'), {
      name: 'retry',
      caller: async (ch) => {
        await pressAt(2, '7')?.(ch, h.sim);
        await pressAt(4, '3')?.(ch, h.sim);
      },
    });
    expect(r.result.steps.menu).toMatchObject({ digits: '3', tries: 2 });
    expect(r.commands).toContainEqual(expect.stringMatching(/^execute record \/\S+\/voicemail\/[0-9a-f-]{36}\.wav 60$/));
  });

  it('ivr-menu: silence through all tries goes to the operator', async () => {
    const r = await h.run(read('ivr-menu.yaml').replace('timeout: 5', 'timeout: 0.05'));
    expect(r.result.steps.menu).toMatchObject({ outcome: 'timeout', tries: 3 });
    expect(r.commands).toContainEqual(expect.stringMatching(/^api uuid_transfer \S+ 1000 XML default$/));
  });

  const alwaysOpen = (flow: string): string => flow.replace('time: "09:00-17:00", days: mon-fri, ', 'days: mon-sun, ');
  const neverOpen = (flow: string): string => flow.replace('days: mon-fri, ', 'days: [], ');

  it('business-hours: closed → message and voicemail', async () => {
    const r = await h.run(neverOpen(read('business-hours.yaml')));
    expect(r.commands).not.toContainEqual(expect.stringMatching(/^execute bridge /));
    expect(r.commands).toContainEqual(expect.stringMatching(/playback .*closed\.wav$/));
    expect(r.commands).toContainEqual(expect.stringMatching(/^execute record .*voicemail\/.*\.wav 120 200 4$/));
  });

  it('business-hours: open → the team rings', async () => {
    const r = await h.run(alwaysOpen(read('business-hours.yaml')), { name: 'open', caller: farEndHangsUp() });
    expect(r.commands).toContainEqual(expect.stringMatching(/^execute bridge \{call_timeout=20\}user\/1001,user\/1002$/));
    expect(r.commands).not.toContainEqual(expect.stringMatching(/^execute record /));
  });

  it('business-hours: when the team does not answer, the caller reaches voicemail', async () => {
    const r = await h.run(alwaysOpen(read('business-hours.yaml')), { name: 'no answer', before: (sim) => sim.onOriginate(() => ({ fail: 'NO_ANSWER' })) });
    expect(r.commands).toContainEqual(expect.stringMatching(/^execute bridge /));
    expect(r.commands).toContainEqual(expect.stringMatching(/^execute record /));
    h.sim.onOriginate(() => ({}));
  });

  it('after-hours-voicemail: records, then reports the file in on_hangup', async () => {
    const r = await h.run(read('after-hours-voicemail.yaml'), { name: 'vm', call: { to: '7300' } });
    expect(r.result.steps.message).toMatchObject({ outcome: 'ok', file: expect.stringMatching(/voicemail\/7300\/[0-9a-f-]{36}\.wav$/) });
    expect(r.result.ending).toBe('completed');
    const hook = Object.entries(r.result.steps).find(([id]) => id.startsWith('on_hangup'))?.[1];
    expect(hook?.outcome).toMatch(/^(failed|timeout)$/); // nothing listens at the default URL
  });

  it('attended-transfer: reception busy → backup answers', async () => {
    let n = 0;
    const r = await h.run(read('attended-transfer.yaml'), { name: 'busy', before: (sim) => sim.onOriginate(() => (++n === 1 ? { fail: 'USER_BUSY' } : { answerAfterMs: 0 })), caller: farEndHangsUp() });
    expect(r.result.steps.reception).toMatchObject({ outcome: 'busy' });
    expect(r.result.steps.backup).toMatchObject({ outcome: 'ok' });
    h.sim.onOriginate(() => ({}));
  });

  it('attended-transfer: nobody answers → voicemail', async () => {
    const r = await h.run(read('attended-transfer.yaml'), { name: 'nobody', before: (sim) => sim.onOriginate(() => ({ fail: 'NO_ANSWER' })) });
    expect(r.result.steps.backup).toMatchObject({ outcome: 'no_answer' });
    expect(r.commands).toContainEqual(expect.stringMatching(/^execute record /));
    h.sim.onOriginate(() => ({}));
  });

  it('nova-front-desk: greets, the assistant hears the caller ask for a person, the call is transferred to 1001', async () => {
    const nh = await StepHarness.start({
      timeScale: 0.05,
      nova: {
        timeScale: 0.05,
        script: {
          turnDetection: { afterAudioMs: 200 },
          reply: [{ userTranscript: 'Can I talk to a person?', toolUse: { toolName: 'transfer_call', input: { destination: '1001' } }, text: 'Sure, transferring you.', audio: { ms: 400 } }],
        },
      },
    });
    try {
      const r = await nh.run(read('nova-front-desk.yaml'), {
        name: 'front desk',
        call: { to: '7500' },
        caller: async (ch, sim) => {
          const client = await nh.audio!.connected(ch.uuid);
          await client.sendSilence(250);
          await farEndHangsUp()(ch, sim);
        },
      });
      expect(r.result.steps.assistant).toMatchObject({ outcome: 'transfer', destination: '1001' });
      expect(r.result.steps.assistant?.transcript).toBe('caller: Can I talk to a person?\nbot: Sure, transferring you.');
      expect(r.commands).toContainEqual(expect.stringMatching(/playback .*welcome\.wav$/));
      expect(r.commands).toContainEqual(expect.stringMatching(/^execute bridge \{call_timeout=20\}user\/1001$/));
    } finally {
      await nh.close();
    }
  });
});
