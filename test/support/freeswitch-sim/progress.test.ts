// The far end ringing: CHANNEL_PROGRESS (180) and CHANNEL_PROGRESS_MEDIA (183) of an originated
// leg, per the onOriginate plan, before its answer or its failure.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from './index.ts';
import type { OriginatePlan } from './host.ts';
import { RawEslPeer } from './raw-esl-client.ts';

let sim: FreeSwitchSim;
let esl: RawEslPeer;

beforeAll(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  esl = await RawEslPeer.authed(sim.port);
  await esl.command('event json CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB');
});

afterAll(async () => {
  esl.close();
  await sim.close();
});

/** Originates with `plan` and returns the leg's event names (and call states) before it hangs up. */
async function lifecycle(plan: OriginatePlan): Promise<{ events: string[]; result: string }> {
  const uuid = randomUUID();
  sim.onOriginate((req) => (req.uuid === uuid ? plan : undefined));
  await esl.command(`bgapi originate {origination_uuid=${uuid}}sofia/gateway/trunk1/+15550001 &park()`);
  const done = await esl.nextEvent((e) => e['Event-Name'] === 'BACKGROUND_JOB' && (e['Job-Command-Arg'] ?? '').includes(uuid));
  if (!('fail' in plan)) await esl.api(`uuid_kill ${uuid}`);
  const events = esl
    .events()
    .filter((e) => e['Unique-ID'] === uuid)
    .map((e) => (e['Event-Name'] === 'CHANNEL_CALLSTATE' ? `callstate:${e['Channel-Call-State']}` : (e['Event-Name'] as string)));
  const end = events.indexOf('callstate:HANGUP');
  return { events: end < 0 ? events : events.slice(0, end), result: (done.event._body ?? '').trim() };
}

describe('ringing before the answer or the failure', () => {
  it('a delayed answer rings first: CHANNEL_PROGRESS, RINGING, then CHANNEL_ANSWER', async () => {
    const { events, result } = await lifecycle({ answerAfterMs: 200 });
    expect(result).toMatch(/^\+OK /);
    expect(events).toEqual(['CHANNEL_PROGRESS', 'callstate:RINGING', 'CHANNEL_ANSWER', 'callstate:ACTIVE']);
  });

  it('with earlyMedia also 183: CHANNEL_PROGRESS_MEDIA and the EARLY state before the answer', async () => {
    const { events } = await lifecycle({ answerAfterMs: 200, earlyMedia: true });
    expect(events).toEqual(['CHANNEL_PROGRESS', 'callstate:RINGING', 'CHANNEL_PROGRESS_MEDIA', 'callstate:EARLY', 'CHANNEL_ANSWER', 'callstate:ACTIVE']);
  });

  it('an immediate answer does not ring', async () => {
    const { events } = await lifecycle({});
    expect(events).toEqual(['CHANNEL_ANSWER', 'callstate:ACTIVE']);
  });

  it('a failure rings first only when the plan says so (NO_ANSWER after ringing, USER_BUSY at once)', async () => {
    const noAnswer = await lifecycle({ fail: 'NO_ANSWER', afterMs: 200, ringing: true });
    expect(noAnswer.result).toBe('-ERR NO_ANSWER');
    expect(noAnswer.events).toContain('CHANNEL_PROGRESS');
    expect(noAnswer.events).not.toContain('CHANNEL_ANSWER');
    const busy = await lifecycle({ fail: 'USER_BUSY' });
    expect(busy.result).toBe('-ERR USER_BUSY');
    expect(busy.events).not.toContain('CHANNEL_PROGRESS');
  });
});
