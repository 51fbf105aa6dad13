import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureFrames } from './captures.ts';
import { FreeSwitchSim, type SimChannel } from './index.ts';
import { parseEventFrame, RawEslPeer, RawOutboundServer, type RawFrame } from './raw-esl-client.ts';
import { fsUrlEncode } from './wire.ts';

let sim: FreeSwitchSim;
let service: RawOutboundServer;
const peers: RawEslPeer[] = [];

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  service = await RawOutboundServer.start();
});
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  await service.close();
  await sim.close();
});

async function call(opts: { linger?: boolean; domain?: string; callerName?: string } = {}): Promise<{ ch: SimChannel; fs: RawEslPeer; connect: RawFrame }> {
  const placing = sim.inboundCall({ to: '7000', from: '+15551234567', callerName: opts.callerName, domain: opts.domain, socket: { host: '127.0.0.1', port: service.port } });
  const fs = await service.accept();
  const ch = await placing;
  const connect = await fs.command('connect');
  await fs.command('myevents json');
  if (opts.linger ?? true) await fs.command('linger');
  return { ch, fs, connect };
}

/** What a frame is, in one word or two: reply text, event name (+ application), notice kind. */
function label(f: RawFrame): string {
  const type = f.headers['Content-Type'];
  if (type === 'text/disconnect-notice') return `notice:${f.headers['Content-Disposition'] ?? ''}`;
  if (type === 'text/event-json' || type === 'text/event-plain') {
    const e = parseEventFrame(f) as Record<string, string>;
    return `event:${e['Event-Name']}${e['Application'] ? `:${e['Application']}` : ''}`;
  }
  if (f.headers['Event-Name'] === 'CHANNEL_DATA') return `connect:${f.headers['Reply-Text']}`;
  return `reply:${f.headers['Reply-Text'] ?? type}`;
}

/** Profile fields that one endpoint type has and another has not (sofia vs loopback). */
const OPTIONAL = /-(Username|Caller-ID-Name|Callee-ID-Name|Callee-ID-Number|Network-Addr)$|^Channel-Presence-ID$/;

describe('outbound socket, compared with 04-outbound.bin', () => {
  it('replays the captured session: same replies and events in the same order, then the linger notice and close', async () => {
    const captured = captureFrames('04-outbound.bin');
    const { ch, fs } = await call();
    const answerUuid = 'c4b17eeb-ab5c-4cfd-9038-26f16358388c';
    await fs.command('sendmsg', { 'call-command': 'execute', 'execute-app-name': 'answer', 'event-lock': 'true', 'Event-UUID': answerUuid });
    await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === answerUuid);
    const playUuid = '09364416-2fac-490e-91cf-d3f3261f3859';
    await fs.command('sendmsg', { 'call-command': 'execute', 'execute-app-name': 'playback', 'event-lock': 'true', 'Event-UUID': playUuid, 'content-type': 'text/plain' }, 'tone_stream://%(300,0,440)');
    const played = await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === playUuid);
    expect(played.event['Application-Response']).toBe('FILE PLAYED');
    expect(played.event['variable_playback_ms']).toBe('300');
    await fs.command('sendmsg', { 'call-command': 'hangup', 'hangup-cause': 'NORMAL_CLEARING' });
    await fs.closed;

    expect(fs.frames.map(label)).toEqual(captured.map(label));
    expect(ch.hangupCause).toBe('NORMAL_CLEARING');
    const socketDone = parseEventFrame(fs.frames.find((f) => label(f) === 'event:CHANNEL_EXECUTE_COMPLETE:socket') as RawFrame) as Record<string, string>;
    expect(socketDone['Application-Response']).toBe('FILE PLAYED');
    expect(socketDone['Application-Data']).toBe(`127.0.0.1:${service.port} async full`);

    const notice = fs.frames.at(-1) as RawFrame;
    const wantNotice = captured.at(-1) as RawFrame;
    expect(notice.order).toEqual(wantNotice.order);
    expect(notice.headers).toEqual({ ...wantNotice.headers, 'Controlled-Session-UUID': ch.uuid, 'Channel-Name': ch.name });
    expect(notice.body?.length).toBe(0);
  });

  it('the connect reply is one plain header block of channel data ending with the command/reply headers', async () => {
    const captured = captureFrames('04-outbound.bin')[0] as RawFrame;
    const { ch, connect } = await call({ domain: 'acme.example.com', callerName: 'Ada Lovelace' });
    expect(connect.order.slice(-4)).toEqual(['Content-Type', 'Reply-Text', 'Socket-Mode', 'Control']);
    expect(connect.headers).toMatchObject({ 'Content-Type': 'command/reply', 'Reply-Text': '%2BOK%0A', 'Socket-Mode': 'async', 'Control': 'full' });
    expect(connect.headers['Content-Length']).toBeUndefined();
    expect(connect.raw.subarray(-2).toString()).toBe('\n\n');
    const shape = (f: RawFrame): string[] => f.order.filter((k) => !k.startsWith('variable_') && !OPTIONAL.test(k));
    expect(shape(connect)).toEqual(shape(captured));
    expect(connect.headers['Unique-ID']).toBe(ch.uuid);
    expect(connect.headers['Channel-Call-State']).toBe('RINGING');
    expect(connect.headers['Caller-Destination-Number']).toBe('7000');
    expect(connect.headers['Caller-Caller-ID-Number']).toBe(fsUrlEncode('+15551234567'));
    expect(connect.headers['Caller-Caller-ID-Name']).toBe('Ada%20Lovelace');
    expect(connect.headers['variable_domain_name']).toBe('acme.example.com');
    expect(connect.headers['variable_current_application']).toBe('socket');
  });
});

describe('outbound socket lifecycle', () => {
  it('without linger FreeSWITCH leaves right after CHANNEL_HANGUP with a disconnect notice', async () => {
    const { ch, fs } = await call({ linger: false });
    await ch.hangup('USER_BUSY');
    await fs.closed;
    const labels = fs.frames.map(label);
    expect(labels.slice(-2)).toEqual(['event:CHANNEL_HANGUP', 'notice:disconnect']);
    const notice = fs.frames.at(-1) as RawFrame;
    expect(notice.order).toEqual(['Content-Type', 'Controlled-Session-UUID', 'Content-Disposition', 'Content-Length']);
    expect(notice.body?.toString()).toBe('Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n');
    expect(ch.hangupCause).toBe('USER_BUSY');
    expect(ch.vars.get('sip_hangup_disposition')).toBe('recv_bye');
  });

  it('the service closing the socket ends the socket application and the call (NORMAL_CLEARING)', async () => {
    const { ch, fs } = await call();
    fs.close();
    await ch.waitForHangup();
    expect(ch.hangupCause).toBe('NORMAL_CLEARING');
    expect(sim.channel(ch.uuid)).toBeUndefined();
    expect(ch.executed.map((e) => [e.app, e.endedAt !== undefined])).toEqual([['socket', true]]);
  });

  it('exit: +OK bye, the session disconnect notice, and the call ends', async () => {
    const { ch, fs } = await call();
    expect((await fs.command('exit')).headers['Reply-Text']).toBe('+OK bye');
    await fs.closed;
    expect(fs.frames.at(-1)?.headers['Content-Disposition']).toBe('disconnect');
    await ch.waitForHangup();
  });

  it('a refused socket connection ends the call with DESTINATION_OUT_OF_ORDER; inboundCall still resolves', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const ch = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: closedPort } });
    await ch.waitForHangup();
    expect(ch.hangupCause).toBe('DESTINATION_OUT_OF_ORDER');
  });

  it('DTMF from the caller arrives as DTMF events with digit and duration', async () => {
    const { ch, fs } = await call();
    await ch.pressDtmf('12#', { intervalMs: 50 });
    const digits: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { event } = await fs.nextEvent((e) => e['Event-Name'] === 'DTMF');
      expect(event['DTMF-Duration']).toBe('2000');
      digits.push(event['DTMF-Digit'] as string);
    }
    expect(digits).toEqual(['1', '2', '#']);
  });

  it('play_and_get_digits collects the caller\'s keys into its variable', async () => {
    const { ch, fs } = await call();
    const id = randomUUID();
    await fs.command('sendmsg', { 'call-command': 'execute', 'execute-app-name': 'play_and_get_digits', 'execute-app-arg': '1 4 2 3000 # silence_stream://200 silence_stream://50 sb_digits \\d+', 'Event-UUID': id });
    await ch.waitForApp('play_and_get_digits');
    await ch.pressDtmf('42#');
    const { event } = await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === id);
    expect(event['variable_sb_digits']).toBe('42');
    expect(ch.vars.get('read_result')).toBe('success');
  });

  it('uuid_transfer sends the leg away: the socket application returns, the socket stays until hangup', async () => {
    const { ch, fs } = await call();
    const esl = await RawEslPeer.authed(sim.port);
    peers.push(esl);
    expect(await esl.api(`uuid_transfer ${ch.uuid} 1001 XML default`)).toBe('+OK\n');
    const done = await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application'] === 'socket');
    expect(done.event['Caller-Destination-Number']).toBe('1001');
    expect(ch.transfers.map((t) => t.destination)).toEqual(['1001']);
    expect(ch.hungUp).toBe(false);
    await ch.hangup();
  });
});

describe('originate into an outbound socket', () => {
  it.each([
    ["'&socket(127.0.0.1:PORT async full)'", 'async', 'full'],
    ['&socket(127.0.0.1:PORT async full)', 'static', 'single-channel'],
  ])('%s → Socket-Mode %s, Control %s', async (app, mode, control) => {
    const esl = await RawEslPeer.authed(sim.port);
    peers.push(esl);
    const uuid = randomUUID();
    const reply = esl.command(`bgapi originate {origination_uuid=${uuid},origination_caller_id_number=+15550001111}sofia/gateway/trunk1/+15551234567 ${app.replace('PORT', String(service.port))}`);
    const fs = await service.accept();
    expect((await reply).headers['Reply-Text']).toMatch(/^\+OK Job-UUID: /);
    const connect = await fs.command('connect');
    expect(connect.headers['Socket-Mode']).toBe(mode);
    expect(connect.headers['Control']).toBe(control);
    expect(connect.headers['Unique-ID']).toBe(uuid);
    expect(connect.headers['variable_origination_uuid']).toBe(uuid);
    expect(connect.headers['Call-Direction']).toBe('outbound');
    expect(connect.headers['Answer-State']).toBe('answered');
    // originate flips caller and callee on the answered leg (CALL_UPDATE): the dialled party is the "caller".
    expect(connect.headers['Caller-Caller-ID-Number']).toBe(fsUrlEncode('+15551234567'));
    expect(connect.headers['Caller-Orig-Caller-ID-Number']).toBe(fsUrlEncode('+15550001111'));
    const linger = await fs.command('linger');
    if (control === 'full') {
      expect(linger.headers['Reply-Text']).toBe('+OK will linger');
    } else {
      // Without `full` most commands are refused on the socket.
      expect(linger.headers['Reply-Text']).toBe('-ERR command not found');
      expect((await fs.command('myevents json')).headers['Reply-Text']).toBe('+OK Events Enabled');
    }
    await sim.channel(uuid)?.hangup();
  });

  it('originate fails with the cause the far end gives, after the plan\'s delay', async () => {
    const esl = await RawEslPeer.authed(sim.port);
    peers.push(esl);
    sim.onOriginate((req) => (req.endpoint.endsWith('1001') ? { fail: 'USER_BUSY', afterMs: 100 } : { answerAfterMs: 100 }));
    expect(await esl.api('originate user/1001 &park()')).toBe('-ERR USER_BUSY\n');
    expect(await esl.api('originate error/no_route_destination &park()')).toBe('-ERR NO_ROUTE_DESTINATION\n');
    expect(await esl.api('originate {originate_timeout=1}user/1002 &park()')).toMatch(/^\+OK /);
    sim.onOriginate(() => ({ answerAfterMs: 5000 }));
    expect(await esl.api('originate {originate_timeout=1}user/1002 &park()')).toBe('-ERR NO_ANSWER\n');
    expect(await esl.api('originate nosuch/1002 &park()')).toBe('-ERR CHAN_NOT_IMPLEMENTED\n');
    expect(await esl.api('originate user/1002')).toMatch(/^-USAGE: /);
  });
});

describe('bridge', () => {
  it('bridges to the answering leg (CHANNEL_BRIDGE / UNBRIDGE) and reports the far end\'s failure otherwise', async () => {
    const { ch, fs } = await call();
    const seen: Array<Record<string, unknown>> = [];
    sim.onOriginate((req) => {
      seen.push({ endpoint: req.endpoint, app: req.app, timeout: req.vars.call_timeout });
      return req.endpoint === 'user/1001' ? { fail: 'USER_BUSY' } : { answerAfterMs: 100, hangupAfterMs: 200 };
    });
    const busy = randomUUID();
    await fs.command('sendmsg', { 'call-command': 'execute', 'execute-app-name': 'bridge', 'execute-app-arg': '{call_timeout=20}user/1001', 'Event-UUID': busy });
    const failed = await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === busy);
    expect(failed.event['variable_originate_disposition']).toBe('USER_BUSY');
    expect(failed.event['variable_DIALSTATUS']).toBe('BUSY');

    const ok = randomUUID();
    await fs.command('sendmsg', { 'call-command': 'execute', 'execute-app-name': 'bridge', 'execute-app-arg': 'user/1001|sofia/gateway/gw1/+15551234567', 'Event-UUID': ok });
    const bridged = await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_BRIDGE');
    const bLeg = bridged.event['Bridge-B-Unique-ID'] as string;
    expect(bridged.event['Bridge-A-Unique-ID']).toBe(ch.uuid);
    expect(bridged.event['Other-Leg-Unique-ID']).toBe(bLeg);
    expect(ch.answered).toBe(true);
    await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_UNBRIDGE');
    const done = await fs.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === ok);
    expect(done.event['variable_originate_disposition']).toBe('SUCCESS');
    expect(done.event['variable_last_bridge_hangup_cause']).toBe('NORMAL_CLEARING');
    expect(seen).toEqual([
      { endpoint: 'user/1001', app: 'bridge', timeout: '20' },
      { endpoint: 'user/1001', app: 'bridge', timeout: undefined },
      { endpoint: 'sofia/gateway/gw1/+15551234567', app: 'bridge', timeout: undefined },
    ]);
    expect(ch.hungUp).toBe(false);
  });
});

describe('mod_audio_stream api', () => {
  it('validates like the module and records the stream on the channel', async () => {
    const { ch } = await call();
    const esl = await RawEslPeer.authed(sim.port);
    peers.push(esl);
    const actions: string[] = [];
    sim.on('audioStream', (a) => actions.push(`${a.action}:${a.uuid === ch.uuid}`));
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} start ws://127.0.0.1:9/audio mono 16k {"callId":"x"}`)).toBe('+OK Success\n');
    expect(ch.audioStream).toMatchObject({ url: 'ws://127.0.0.1:9/audio', mix: 'mono', rate: 16000, metadata: '{"callId":"x"}' });
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} start ws://127.0.0.1:9/audio mono 16k`)).toBe('-ERR Operation Failed\n');
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} stop {"bye":true}`)).toBe('+OK Success\n');
    expect(ch.audioStream?.sentTexts).toEqual(['{"bye":true}']);
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} start http://x mono 8k`)).toBe('-ERR Operation Failed\n');
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} start ws://x quad 8k`)).toBe('-ERR Operation Failed\n');
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} start ws://x mono 11k`)).toBe('-ERR Operation Failed\n');
    expect(await esl.api(`uuid_audio_stream ${ch.uuid} start ws://x`)).toMatch(/^-USAGE: /);
    expect(await esl.api(`uuid_audio_stream ${randomUUID()} stop`)).toBe('-ERR Operation Failed\n');
    expect(actions).toEqual(['start:true', 'stop:true']);
  });
});
