import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FreeSwitchSim, type SimChannel } from '../../test/support/freeswitch-sim/index.ts';
import type { Call } from './call.ts';
import { EslServer } from './server.ts';

let sim: FreeSwitchSim;
let server: EslServer;
let calls: Call[];
let waiting: Array<(c: Call) => void>;
let release: () => void;
let hold: Promise<void>;

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  calls = [];
  waiting = [];
  hold = new Promise((r) => (release = r));
  server = new EslServer({
    host: '127.0.0.1',
    port: 0,
    onCall: async (call) => {
      calls.push(call);
      for (const w of waiting.splice(0)) w(call);
      await Promise.race([call.ended, hold]);
    },
  });
  await server.start();
});

afterEach(async () => {
  release();
  await server.close(200);
  await sim.close();
});

async function placeCall(opts: { to?: string; from?: string; domain?: string; context?: string } = {}): Promise<{ call: Call; channel: SimChannel }> {
  const got = new Promise<Call>((r) => waiting.push(r));
  const addr = server.address!;
  const channel = await sim.inboundCall({ to: opts.to ?? '7000', from: opts.from ?? '+15551234567', callerName: 'Ada Lovelace', context: opts.context, domain: opts.domain, socket: { host: '127.0.0.1', port: addr.port } });
  return { call: await got, channel };
}

describe('Call on an outbound socket', () => {
  it('exposes typed channel data, FusionPBX domain included', async () => {
    const { call, channel } = await placeCall({ to: '7001', domain: 'acme.example.com', context: 'acme.example.com' });
    expect(call.id).toBe(channel.uuid);
    expect(call.data).toMatchObject({ destination: '7001', callerNumber: '+15551234567', callerName: 'Ada Lovelace', context: 'acme.example.com', domain: 'acme.example.com', direction: 'inbound' });
    expect(call.state).toBe('ringing');
  });

  it('sends connect, myevents json and linger before handing over the call', async () => {
    await placeCall();
    const lines = sim.received.filter((c) => c.mode === 'outbound').map((c) => c.line);
    expect(lines.slice(0, 3)).toEqual(['connect', 'myevents json', 'linger']);
  });

  it('execute resolves on the EXECUTE_COMPLETE carrying its own Event-UUID, with the argument in a body', async () => {
    const { call, channel } = await placeCall();
    await call.answer();
    expect(channel.answered).toBe(true);
    expect(call.state).toBe('answered');
    const { response } = await call.playback('tone_stream://%(300,0,440)');
    const sent = sim.received.filter((c) => c.headers['execute-app-name'] === 'playback').at(-1);
    expect(sent?.body).toBe('tone_stream://%(300,0,440)');
    expect(sent?.headers['event-lock']).toBe('true');
    expect(typeof response).toBe('string');
    expect(channel.played.at(-1)?.file).toBe('tone_stream://%(300,0,440)');
  });

  it('runs queued executions in order, each resolving with its own completion', async () => {
    const { call, channel } = await placeCall();
    await call.answer();
    const order: string[] = [];
    await Promise.all(['silence_stream://100', 'silence_stream://200', 'silence_stream://300'].map((f) => call.playback(f).then(() => order.push(f))));
    expect(order).toEqual(['silence_stream://100', 'silence_stream://200', 'silence_stream://300']);
    expect(channel.played.map((p) => p.file)).toEqual(order);
  });

  it('sets and reads channel variables', async () => {
    const { call, channel } = await placeCall();
    await call.setVar('sb_plain', 'value');
    await call.setVar('sb_quoted', "O'Brien, Jr");
    expect(channel.vars.get('sb_plain')).toBe('value');
    expect(channel.vars.get('sb_quoted')).toBe("O'Brien, Jr");
    expect(await call.getVar('sb_plain')).toBe('value');
    expect(await call.getVar('sb_never_set')).toBeUndefined();
  });

  it('yields DTMF digits as an async iterator', async () => {
    const { call, channel } = await placeCall();
    await call.answer();
    const digits: string[] = [];
    const reading = (async () => {
      for await (const d of call.dtmf()) {
        digits.push(d);
        if (d === '#') break;
      }
    })();
    await channel.pressDtmf('12#');
    await reading;
    expect(digits).toEqual(['1', '2', '#']);
  });

  it('waitFor times out with SB_CALL_TIMEOUT and aborts with SB_CALL_ABORTED, leaving no waiter behind', async () => {
    const { call } = await placeCall();
    await expect(call.waitFor('CHANNEL_BRIDGE', { timeoutMs: 20 })).rejects.toMatchObject({ code: 'SB_CALL_TIMEOUT' });
    const ac = new AbortController();
    const w = call.waitFor('CHANNEL_BRIDGE', { signal: ac.signal });
    ac.abort();
    await expect(w).rejects.toMatchObject({ code: 'SB_CALL_ABORTED' });
    expect(call.pendingWaits()).toBe(0);
  });

  it('after the caller hangs up, every command rejects with SB_CALL_GONE and nothing is left pending', async () => {
    const { call, channel } = await placeCall();
    await call.answer();
    const playing = call.playback('silence_stream://100000').then(
      (r) => r.response,
      (e: unknown) => e,
    );
    await channel.waitForApp('playback');
    const dtmf = (async () => {
      const got: string[] = [];
      for await (const d of call.dtmf()) got.push(d);
      return got;
    })();
    await channel.hangup('NORMAL_CLEARING');
    const info = await call.ended;
    expect(info.cause).toBe('NORMAL_CLEARING');
    await playing;
    expect(await dtmf).toEqual([]);
    await expect(call.playback('x.wav')).rejects.toMatchObject({ code: 'SB_CALL_GONE' });
    await expect(call.setVar('a', 'b')).rejects.toMatchObject({ code: 'SB_CALL_GONE' });
    await expect(call.answer()).rejects.toMatchObject({ code: 'SB_CALL_GONE' });
    expect(call.pendingWaits()).toBe(0);
  });

  it('hangup(cause) ends the call with that cause', async () => {
    const { call, channel } = await placeCall();
    await call.hangup('USER_BUSY');
    await channel.waitForHangup();
    expect(channel.hangupCause).toBe('USER_BUSY');
    expect(call.isGone).toBe(true);
    await call.hangup(); // idempotent
  });

  it('transfer, break, audio stream and bridge send well-formed commands', async () => {
    const { call } = await placeCall();
    await call.answer();
    await call.startAudioStream('ws://127.0.0.1:9/audio/x?token=t', { rate: 16000, metadata: '{"callId":"x"}' });
    await call.stopAudioStream();
    await call.break(true);
    const lines = sim.received.filter((c) => c.line.startsWith('api uuid_')).map((c) => c.line);
    expect(lines).toContain(`api uuid_audio_stream ${call.id} start ws://127.0.0.1:9/audio/x?token=t mono 16k {"callId":"x"}`);
    expect(lines).toContain(`api uuid_audio_stream ${call.id} stop`);
    expect(lines).toContain(`api uuid_break ${call.id} all`);
    await expect(call.startAudioStream('http://evil example')).rejects.toMatchObject({ code: 'SB_ESL_UNSAFE_VALUE' });
    await call.transfer('1001', { context: 'default' });
    expect(sim.received.at(-1)?.line).toBe(`api uuid_transfer ${call.id} 1001 XML default`);
  });

  it('bridge reports success, and the failure cause of an unanswered leg', async () => {
    const { call } = await placeCall();
    await call.answer();
    sim.onOriginate(() => ({ fail: 'USER_BUSY' }));
    const busy = await call.bridge([{ endpoint: { kind: 'user', user: '1001' } }], { timeoutSec: 20 });
    expect(busy).toEqual({ ok: false, cause: 'USER_BUSY' });
    const sent = sim.received.filter((c) => c.headers['execute-app-name'] === 'bridge').at(-1);
    expect(sent?.body).toBe('{call_timeout=20}user/1001');
  });
});
