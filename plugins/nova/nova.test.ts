import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionInfo, SessionScript } from '../../test/support/nova-emulator/index.ts';
import { StepHarness, type StepCase } from '../../test/support/step-tester.ts';
import { compileFlow } from '../../core/flow/compile.ts';

let h: StepHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(script: SessionScript | ((s: SessionInfo) => SessionScript)): Promise<StepHarness> {
  h = await StepHarness.start({ timeScale: 0.05, nova: { script, timeScale: 0.05 } });
  return h;
}

/**
 * The caller speaks `ms` of audio, `turns` times, each once the previous answer has been heard.
 * With `untilHangup`, it keeps speaking after each answer (bounded) until the call ends: under
 * load an utterance can land while the model still counts as speaking and not start a turn.
 */
function callerTalks(turns: number, ms = 250, untilHangup = false): NonNullable<StepCase['caller']> {
  return async (channel) => {
    const client = await (h as StepHarness).audio!.connected(channel.uuid);
    const rounds = untilHangup ? turns + 20 : turns;
    for (let i = 0; i < rounds && !channel.hungUp; i++) {
      const since = channel.executed.length;
      await client.sendSilence(ms).catch(() => undefined);
      if (i < rounds - 1) await channel.waitForApp('playback', { arg: /\.tmp\.r(8|16)$/, since, completed: true, timeoutMs: untilHangup ? 2000 : 10_000 }).catch(() => undefined);
    }
  };
}

const FRONT_DESK = `name: t
steps:
  - id: bot
    nova:
      prompt: You are the front desk of a test company. Be brief.
      tools: [datetime, hangup_call, { transfer_call: { allowed: ["1001"], default: "1001" } }]
    on: { hangup: bye, transfer: human }
  - hangup: CALL_REJECTED
  - id: human
    transfer: "\${steps.bot.destination}"
  - id: bye
    hangup: NORMAL_CLEARING
on_error:
  - play: sorry.wav
  - hangup: NORMAL_TEMPORARY_FAILURE
`;

describe('step nova', () => {
  it('a conversation: the caller is heard, the model answers with its voice, calls a tool, and ends the call through its outcome', async () => {
    const hh = await harness({
      turnDetection: { afterAudioMs: 200 },
      reply: [
        { userTranscript: 'What time is it?', toolUse: { toolName: 'datetime', input: {} }, text: (t) => `It is ${(JSON.parse(t.toolResult ?? '{}') as { time?: string }).time ?? '?'}.`, audio: { ms: 600 } },
        { userTranscript: 'Thanks, goodbye.', toolUse: { toolName: 'hangup_call', input: { reason: 'caller said goodbye' } }, text: 'Goodbye!', audio: { ms: 400 } },
      ],
    });
    const gauge = hh.metrics.novaSessions;
    const inc = vi.spyOn(gauge, 'inc');
    const r = await hh.run(FRONT_DESK, { name: 'talk', caller: callerTalks(2, 250, true) });
    expect(inc).toHaveBeenCalledTimes(1);
    expect((await gauge.get()).values[0]?.value).toBe(0); // and decremented when the step ended
    const bot = r.result.steps.bot;
    expect(bot).toMatchObject({ outcome: 'hangup', tool: 'hangup_call' });
    expect(bot?.transcript).toMatch(/caller: What time is it\?\nbot: It is \d\d:\d\d\./);
    expect(bot?.transcript).toContain('bot: Goodbye!');
    expect(r.commands).toContainEqual(expect.stringMatching(/^api uuid_audio_stream \S+ start ws:\/\/127\.0\.0\.1:\d+\/audio\/\S+ mono (8|16)k \{"callId":/));
    expect(r.commands.at(-1)).toBe('hangup NORMAL_CLEARING');
    expect(r.channel.played.filter((p) => /\.tmp\.r(8|16)$/.test(p.file)).length).toBeGreaterThanOrEqual(3);
    const session = hh.nova!.sessions[0]!;
    await session.waitForClose({ timeoutMs: 5000 });
    expect(session.audioInBytes).toBeGreaterThan(0);
    expect(session.toolResults.length).toBe(2);
  });

  it('transfer_call: the model hands over to a person, the flow transfers to the destination it chose', async () => {
    const hh = await harness({
      turnDetection: { afterAudioMs: 200 },
      reply: [{ userTranscript: 'A human please.', toolUse: { toolName: 'transfer_call', input: { destination: '1001' } }, text: 'Transferring you now.', audio: { ms: 300 } }],
    });
    const r = await hh.run(FRONT_DESK, { name: 'transfer', caller: callerTalks(1) });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'transfer', destination: '1001' });
    expect(r.commands).toContainEqual(expect.stringMatching(/^api uuid_transfer \S+ 1001 XML default$/));
  });

  it('Nova throttling mid-call: the error is logged once and the flow\'s on_error apologises and hangs up', async () => {
    const hh = await harness({ turnDetection: { afterAudioMs: 200 }, reply: 'echo', failure: { exception: 'throttlingException', afterInputEvents: 6 } });
    const r = await hh.run(FRONT_DESK, { name: 'throttled', caller: callerTalks(1, 1000) });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'error', code: 'SB_NOVA_THROTTLED' });
    expect(r.timeline.filter((e) => e.kind === 'error')).toHaveLength(1);
    expect(r.commands).toContainEqual(expect.stringMatching(/playback .*sorry\.wav$/));
    expect(r.commands.at(-1)).toBe('hangup NORMAL_TEMPORARY_FAILURE');
  });

  it('the caller hangs up mid-conversation: the Nova stream and the audio stream are closed', async () => {
    const hh = await harness({ turnDetection: { afterAudioMs: 200 }, reply: 'echo' });
    const r = await hh.run(FRONT_DESK, {
      name: 'gone',
      caller: async (ch) => {
        await callerTalks(1)?.(ch, hh.sim);
        await ch.waitForApp('playback', { arg: /\.tmp\.r(8|16)$/, timeoutMs: 10_000 });
        await ch.hangup();
      },
    });
    expect(r.result.ending).toBe('hangup');
    const session = hh.nova!.sessions[0]!;
    await session.waitForClose({ timeoutMs: 5000 });
    expect(session.closed).toBe(true);
    await expect.poll(() => hh.media!.streams.size).toBe(0);
  });

  it('a stalled model fails the step with SB_NOVA_STALLED and on_error runs', async () => {
    const hh = await harness({ turnDetection: { afterAudioMs: 200 }, reply: 'echo', failure: { stall: true, afterInputEvents: 3 } });
    const flow = FRONT_DESK.replace('Be brief.', 'Be brief.\n      stall_timeout: 0.5');
    const r = await hh.run(flow, {
      name: 'stall',
      caller: async (ch) => {
        const client = await hh.audio!.connected(ch.uuid);
        await client.sendTone(2000, 440);
      },
    });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'error', code: 'SB_NOVA_STALLED' });
    expect(r.commands.at(-1)).toBe('hangup NORMAL_TEMPORARY_FAILURE');
  });

  it('the audio websocket drops: the step fails with SB_MEDIA_CLOSED and the call does not go silent', async () => {
    const hh = await harness({ turnDetection: { afterAudioMs: 200 }, reply: 'echo' });
    const r = await hh.run(FRONT_DESK, {
      name: 'ws drop',
      caller: async (ch) => {
        const client = await hh.audio!.connected(ch.uuid);
        client.terminate();
      },
    });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'error', code: 'SB_MEDIA_CLOSED' });
    expect(r.commands).toContainEqual(expect.stringMatching(/playback .*sorry\.wav$/));
  });

  it('a tool the step does not offer: the model gets an error result and the conversation goes on', async () => {
    const hh = await harness({
      turnDetection: { afterAudioMs: 200 },
      reply: [{ userTranscript: 'Weather?', toolUse: { toolName: 'weather', input: {} }, text: 'I cannot tell the weather.', audio: { ms: 200 } }],
    });
    const flow = FRONT_DESK.replace('Be brief.', 'Be brief.\n      max_duration: 1');
    const r = await hh.run(flow, { name: 'unknown tool', caller: callerTalks(1) });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'timeout' });
    expect(r.result.steps.bot?.transcript).toContain('bot: I cannot tell the weather.');
    expect(JSON.stringify(hh.nova!.sessions[0]!.toolResults[0])).toContain('there is no tool named weather');
  });

  it.each([
    ['times out', {}, 'no answer within 100 ms'],
    ['throws', { fail: true }, 'the backend is down'],
  ])('a tool that %s: the model gets an error result, the call goes on', async (_label, input, message) => {
    h = await StepHarness.start({
      timeScale: 0.05,
      pluginDirs: [new URL('../../test/fixtures/plugins', import.meta.url).pathname],
      nova: { timeScale: 0.05, script: { turnDetection: { afterAudioMs: 200 }, reply: [{ userTranscript: 'Check it.', toolUse: { toolName: 'slow_tool', input }, text: 'Sorry, that did not work.', audio: { ms: 200 } }] } },
    });
    const flow = FRONT_DESK.replace('tools: [datetime,', 'max_duration: 1\n      tools: [slow_tool, datetime,');
    const r = await h.run(flow, { name: 'tool failure', caller: callerTalks(1) });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'timeout' });
    expect(r.result.steps.bot?.transcript).toContain('bot: Sorry, that did not work.');
    expect(JSON.stringify(h.nova!.sessions[0]!.toolResults[0])).toContain(message);
  });

  it('renews the Nova session at a pause, replaying the conversation as history', async () => {
    const hh = await harness((s) =>
      s.index === 0
        ? { turnDetection: { afterAudioMs: 200 }, reply: [{ userTranscript: 'Hello?', text: 'Hello there.', audio: { ms: 200 } }] }
        : { turnDetection: { afterAudioMs: 200 }, reply: [{ userTranscript: 'Still there?', toolUse: { toolName: 'hangup_call', input: {} }, text: 'Bye.', audio: { ms: 200 } }] },
    );
    const flow = FRONT_DESK.replace('Be brief.', 'Be brief.\n      renew_after: 0.01');
    const r = await hh.run(flow, {
      name: 'renew',
      caller: async (ch) => {
        const client = await hh.audio!.connected(ch.uuid);
        await client.sendSilence(250);
        await hh.nova!.waitForSession((s) => s.index === 1, { timeoutMs: 10_000 });
        await client.sendSilence(250);
      },
    });
    expect(r.result.steps.bot).toMatchObject({ outcome: 'hangup', renewals: 1 });
    const second = hh.nova!.sessions[1]!;
    expect(second.history.map((m) => m.text)).toEqual(['Hello?', 'Hello there.']);
  });
});

describe('step nova: load-time checks', () => {
  it('refuses a voice the model does not have, an unknown tool, bad tool options and a spoken greeting on v1', async () => {
    h = await StepHarness.start();
    const { diagnostics } = compileFlow(
      `name: t
steps:
  - nova:
      voice: greta
      model: amazon.nova-2-sonic-v1:0
      prompt: x
      tools: [datetime, weather, { transfer_call: {} }]
  - nova: { prompt: x, greeting: { text: Hello } }
`,
      'flows/t.yaml',
      h.host,
    );
    expect(diagnostics.map((d) => [d.code, d.line, d.message.replace(/\(.*$/, '').trim()])).toEqual([
      ['SB_FLOW_BAD_OPTION', 4, 'step "nova": voice "greta" is not a voice of amazon.nova-2-sonic-v1:0'],
      ['SB_FLOW_BAD_OPTION', 4, 'step "nova": unknown tool "weather"'],
      ['SB_FLOW_BAD_OPTION', 4, "step \"nova\": tool \"transfer_call\": options must have required property 'allowed'"],
      ['SB_FLOW_BAD_OPTION', 8, 'step "nova": greeting: { text } needs a model that can speak first'],
    ]);
  });
});
