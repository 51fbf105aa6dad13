import { expect, it } from 'vitest';
import type { ControlCommand } from '../../core/flow/call-control.ts';
import { StepHarness, testStep, type StepCase } from '../../test/support/step-tester.ts';

let harness: StepHarness | undefined;

/** Caller script: once the call is parked (music playing), an application sends `cmd`. */
function appSends(cmd: ControlCommand): NonNullable<StepCase['caller']> {
  return async (channel, sim) => {
    await channel.waitForApp('playback');
    const h = harness as StepHarness;
    expect(h.control.isListening(channel.uuid)).toBe(true);
    expect(h.control.send(channel.uuid, cmd)).toBe(true);
    if (cmd.action === 'bridge') {
      await channel.waitForApp('bridge');
      while (channel.bridgedTo === undefined) await new Promise<void>((r) => setTimeout(r, 2));
      await sim.channel(channel.bridgedTo)?.hangup();
    }
  };
}

testStep('park', [
  {
    name: 'rings with music until the application answers',
    options: { timeout: 60 },
    caller: appSends({ action: 'answer' }),
    expect: { outcome: 'answered', includes: ['execute pre_answer', 'execute playback local_stream://moh', /^api uuid_break /, 'execute answer'] },
  },
  { name: 'gives up after the timeout', options: { timeout: 0.05 }, expect: { outcome: 'timeout' } },
  { name: 'the application hangs up', options: {}, caller: appSends({ action: 'hangup', cause: 'CALL_REJECTED' }), expect: { outcome: 'hungup', includes: ['hangup CALL_REJECTED'] } },
  { name: 'the application transfers', options: {}, caller: appSends({ action: 'transfer', to: '1001' }), expect: { outcome: 'transferred', includes: [/^api uuid_transfer \S+ 1001 XML default$/] } },
  { name: 'the application bridges', options: { answer: true }, caller: appSends({ action: 'bridge', to: 'user/1001' }), expect: { outcome: 'bridged', includes: ['execute answer', /^execute bridge .*user\/1001$/] } },
  { name: 'the caller gives up while parked', options: {}, caller: async (ch) => { await ch.waitForApp('playback'); await ch.hangup(); }, expect: { ending: 'hangup' } },
], { onHarness: (h) => (harness = h) });

it('refuses commands for calls that are not parked', async () => {
  const h = await StepHarness.start();
  try {
    expect(h.control.send('00000000-0000-0000-0000-000000000000', { action: 'answer' })).toBe(false);
  } finally {
    await h.close();
  }
});
