import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureBytes, captureFrames, captureJsonEvents, shapeOf } from './captures.ts';
import { FreeSwitchSim } from './index.ts';
import { parseEventFrame, RawEslPeer, splitFrames, type RawFrame } from './raw-esl-client.ts';

let sim: FreeSwitchSim;
const peers: RawEslPeer[] = [];

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
});
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  await sim.close();
});

async function authed(): Promise<RawEslPeer> {
  const p = await RawEslPeer.authed(sim.port);
  peers.push(p);
  return p;
}

const jsonOf = (f: RawFrame): Record<string, string> => JSON.parse((f.body as Buffer).toString('utf8')) as Record<string, string>;
const entriesOf = (f: RawFrame): Array<[string, string]> => Object.entries(jsonOf(f));

describe('inbound ESL, compared with the captures', () => {
  it('a wrong password: -ERR invalid, the goodbye notice, then the socket closes (01-auth-failure.bin, byte for byte)', async () => {
    const p = await RawEslPeer.connect(sim.port);
    peers.push(p);
    await p.nextFrame();
    p.send('auth wrong\n\n');
    await p.closed;
    expect(p.received.equals(captureBytes('01-auth-failure.bin'))).toBe(true);
  });

  it('api and bgapi replies have the captured shape (02-api-bgapi.bin)', async () => {
    const captured = captureFrames('02-api-bgapi.bin');
    const p = await authed();
    const status = await p.command('api status');
    expect(status.order).toEqual(['Content-Type', 'Content-Length']);
    expect(status.body?.toString()).toMatch(/^UP \d+ years, \d+ days, \d+ hours, \d+ minutes, \d+ seconds, \d+ milliseconds, \d+ microseconds\nFreeSWITCH \(Version [^)]+\) is ready\n\d+ session\(s\) since startup\n[\s\S]*\n$/);
    expect((await p.command('api nosuchcmd')).raw.equals(captured[3]?.raw as Buffer)).toBe(true);
    expect((await p.command('api uuid_kill 00000000-0000-0000-0000-000000000000')).raw.equals(captured[4]?.raw as Buffer)).toBe(true);
    expect((await p.command('event json BACKGROUND_JOB')).raw.equals(captured[5]?.raw as Buffer)).toBe(true);
    const uuid = 'ce966c0b-4638-4057-ae97-dcd019913b85';
    expect((await p.command(`api originate {origination_uuid=${uuid}}loopback/7200 &park()`)).raw.equals(captured[6]?.raw as Buffer)).toBe(true);

    const job = '55ff359e-f0ed-4b64-bbd4-779d87cc6651';
    const reply = await p.command(`bgapi uuid_kill ${uuid}`, { 'Job-UUID': job });
    expect(reply.raw.equals(captured[7]?.raw as Buffer)).toBe(true);
    const { frame } = await p.nextEvent((e) => e['Event-Name'] === 'BACKGROUND_JOB');
    const want = entriesOf(captured[8] as RawFrame);
    const got = entriesOf(frame);
    expect(frame.order).toEqual(['Content-Length', 'Content-Type']);
    expect(got.map(([k]) => k)).toEqual(want.map(([k]) => k));
    for (const key of ['Event-Name', 'Event-Calling-File', 'Event-Calling-Function', 'Event-Calling-Line-Number', 'Job-UUID', 'Job-Command', 'Job-Command-Arg', 'Content-Length', '_body']) {
      expect(jsonOf(frame)[key], key).toBe(jsonOf(captured[8] as RawFrame)[key]);
    }

    sim.onOriginate(() => ({ fail: 'NORMAL_CLEARING' }));
    await p.command('bgapi originate loopback/9999/default &park()');
    const failed = await p.nextEvent((e) => e['Event-Name'] === 'BACKGROUND_JOB');
    expect(failed.event._body).toBe('-ERR NORMAL_CLEARING\n');
    expect(failed.event['Job-Command-Arg']).toBe('loopback/9999/default &park()');

    const bye = await p.command('exit');
    expect(bye.raw.equals(captured[11]?.raw as Buffer)).toBe(true);
    await p.closed;
    expect(p.frames.at(-1)?.raw.equals(captured[12]?.raw as Buffer)).toBe(true);
  });

  it('event frames are byte-exact: Content-Length first, bytes counted, no newline after the body', async () => {
    const p = await authed();
    await p.command('event json ALL');
    const uuid = randomUUID();
    await p.api(`originate {origination_uuid=${uuid},sb_note='☎ café'}loopback/7000 &park()`);
    await p.api(`uuid_kill ${uuid}`);
    await p.nextEvent((e) => e['Event-Name'] === 'CHANNEL_DESTROY');
    // Re-split everything received: any miscounted Content-Length would break the framing.
    const { frames, rest } = splitFrames(p.received);
    expect(rest.length).toBe(0);
    const events = frames.filter((f) => f.headers['Content-Type'] === 'text/event-json');
    expect(events.length).toBeGreaterThan(10);
    for (const f of events) {
      expect(f.order).toEqual(['Content-Length', 'Content-Type']);
      expect(Number(f.headers['Content-Length'])).toBe(f.body?.length);
      expect(f.body?.toString().endsWith('}')).toBe(true);
    }
  });

  it('a loopback originate fires the captured lifecycle with the captured header layout (03-events-json.bin)', async () => {
    const captured = captureJsonEvents('03-events-json.bin');
    const aLeg = captured.find((e) => e[0]?.[1] === 'CHANNEL_CREATE')?.find(([k]) => k === 'Unique-ID')?.[1];
    const capturedA = captured.filter((e) => e.some(([k, v]) => k === 'Unique-ID' && v === aLeg));
    const p = await authed();
    await p.command('event json ALL');
    const uuid = randomUUID();
    await p.api(`originate {origination_uuid=${uuid}}loopback/7000 &park()`);
    await p.api(`uuid_kill ${uuid}`);
    await p.nextEvent((e) => e['Event-Name'] === 'CHANNEL_DESTROY');
    const mine = p.frames.filter((f) => f.headers['Content-Type'] === 'text/event-json').map(entriesOf).filter((e) => e.some(([k, v]) => k === 'Unique-ID' && v === uuid));
    const names = (list: Array<Array<[string, string]>>): string[] => list.map((e) => e[0]?.[1] ?? '');
    for (const name of ['CHANNEL_CREATE', 'CHANNEL_ORIGINATE', 'CHANNEL_ANSWER', 'CHANNEL_EXECUTE', 'CHANNEL_PARK', 'CHANNEL_HANGUP', 'CHANNEL_UNPARK', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']) {
      expect(names(mine), name).toContain(name);
      expect(names(capturedA), name).toContain(name);
    }
    // Same relative order of the lifecycle events.
    const order = (list: Array<Array<[string, string]>>): string[] =>
      names(list).filter((n) => ['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_PARK', 'CHANNEL_HANGUP', 'CHANNEL_UNPARK', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY'].includes(n));
    expect(order(mine)).toEqual(order(capturedA));
    // Header layout event by event (variables aside: their set depends on the call).
    for (const name of ['CHANNEL_CREATE', 'CHANNEL_PARK', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']) {
      const want = capturedA.find((e) => e[0]?.[1] === name) as Array<[string, string]>;
      const got = mine.find((e) => e[0]?.[1] === name) as Array<[string, string]>;
      expect(shapeOf(got), name).toEqual(shapeOf(want));
    }
    const complete = mine.find((e) => e[0]?.[1] === 'CHANNEL_HANGUP_COMPLETE') as Array<[string, string]>;
    const vars = Object.fromEntries(complete);
    expect(vars['variable_hangup_cause']).toBe('NORMAL_CLEARING');
    expect(vars['variable_hangup_cause_q850']).toBe('16');
    expect(vars['variable_billsec']).toMatch(/^\d+$/);
    expect(vars['variable_last_app']).toBe('park');
  });

  it('plain passes %XX through and encodes the rest; json carries the exact value (03-events-*.bin)', async () => {
    const plain = await authed();
    const json = await authed();
    expect((await plain.command('event plain ALL')).headers['Reply-Text']).toBe('+OK event listener enabled plain');
    expect((await json.command('event json ALL')).headers['Reply-Text']).toBe('+OK event listener enabled json');
    const control = await authed();
    const uuid = '01059034-3e12-4719-9893-3ebcab80276a';
    await control.command(`bgapi originate {origination_uuid=${uuid},sb_note='100% a%zz b%25 café',sb_raw_escape=caf%E9}loopback/7000 &park()`);
    const pc = await plain.nextFrame((f) => f.headers['Content-Type'] === 'text/event-plain' && (f.body as Buffer).toString().startsWith('Event-Name: CHANNEL_CREATE'));
    const text = (pc.body as Buffer).toString('utf8');
    const capturedPlain = captureFrames('03-events-plain.bin').map((f) => f.body?.toString('utf8') ?? '');
    const capturedCreate = capturedPlain.find((b) => b.startsWith('Event-Name: CHANNEL_CREATE') && b.includes(uuid)) as string;
    for (const name of ['variable_sb_note', 'variable_sb_raw_escape', 'Caller-Callee-ID-Name', 'Channel-Name']) {
      const line = (s: string): string | undefined => s.split('\n').find((l) => l.startsWith(`${name}: `));
      expect(line(text), name).toBe(line(capturedCreate));
    }
    expect(text.endsWith('\n\n')).toBe(true);
    const jc = await json.nextEvent((e) => e['Event-Name'] === 'CHANNEL_CREATE');
    expect(jc.event['variable_sb_note']).toBe('100% a%zz b%25 café');
    expect(jc.event['variable_sb_raw_escape']).toBe('caf%E9');

    // BACKGROUND_JOB in plain: an inner Content-Length and the body after a blank line.
    const bj = await plain.nextFrame((f) => (f.body as Buffer | undefined)?.toString().startsWith('Event-Name: BACKGROUND_JOB') ?? false);
    const bjText = (bj.body as Buffer).toString('utf8');
    const capturedBj = capturedPlain.find((b) => b.startsWith('Event-Name: BACKGROUND_JOB')) as string;
    const tail = (s: string): string => s.slice(s.indexOf('Job-Command:'));
    expect(tail(bjText)).toBe(tail(capturedBj));
  });

  it('a client-chosen Job-UUID is honoured in the reply and the BACKGROUND_JOB', async () => {
    const p = await authed();
    await p.command('event json BACKGROUND_JOB');
    const job = randomUUID();
    const reply = await p.command('bgapi status', { 'Job-UUID': job });
    expect(reply.order).toEqual(['Content-Type', 'Reply-Text', 'Job-UUID']);
    expect(reply.headers['Reply-Text']).toBe(`+OK Job-UUID: ${job}`);
    const { event } = await p.nextEvent((e) => e['Event-Name'] === 'BACKGROUND_JOB');
    expect(event['Job-UUID']).toBe(job);
    expect(event['Job-Command']).toBe('status');
    expect(event['Job-Command-Arg']).toBeUndefined();
    expect(event._body).toMatch(/^UP /);
  });
});

describe('inbound ESL commands', () => {
  it('sendmsg execute to a parked channel: +OK at once, then EXECUTE and EXECUTE_COMPLETE carrying the Event-UUID', async () => {
    const p = await authed();
    await p.command('event json CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE');
    const uuid = randomUUID();
    await p.api(`originate {origination_uuid=${uuid}}loopback/7000 &park()`);
    const eventUuid = randomUUID();
    const reply = await p.command(`sendmsg ${uuid}`, { 'call-command': 'execute', 'execute-app-name': 'playback', 'event-lock': 'true', 'Event-UUID': eventUuid, 'content-type': 'text/plain' }, 'silence_stream://100');
    expect(reply.headers['Reply-Text']).toBe('+OK');
    const started = await p.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE' && e['Application-UUID'] === eventUuid);
    expect(started.event['Application']).toBe('playback');
    expect(started.event['Application-Data']).toBe('silence_stream://100');
    const done = await p.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === eventUuid);
    expect(done.event['Application-Response']).toBe('FILE PLAYED');
    expect(sim.channel(uuid)?.played.map((f) => f.file)).toEqual(['silence_stream://100']);
    expect((await p.command(`sendmsg ${randomUUID()}`, { 'call-command': 'execute' })).headers['Reply-Text']).toMatch(/^-ERR invalid session id \[/);
  });

  it('an unknown application hangs the call up with DESTINATION_OUT_OF_ORDER, as FreeSWITCH does, and fires no EXECUTE', async () => {
    const p = await authed();
    await p.command('event json CHANNEL_EXECUTE CHANNEL_HANGUP');
    const uuid = randomUUID();
    await p.api(`originate {origination_uuid=${uuid}}loopback/7000 &park()`);
    await p.command(`sendmsg ${uuid}`, { 'call-command': 'execute', 'execute-app-name': 'no_such_app', 'Event-UUID': 'e1' });
    const { event } = await p.nextEvent((e) => e['Event-Name'] === 'CHANNEL_HANGUP');
    expect(event['Hangup-Cause']).toBe('DESTINATION_OUT_OF_ORDER');
    expect(p.events().some((e) => e['Application-UUID'] === 'e1')).toBe(false);
    expect(sim.received.some((c) => c.headers['execute-app-name'] === 'no_such_app')).toBe(true);
  });

  it('filters: only matching events pass, and a Unique-ID filter also hides BACKGROUND_JOB', async () => {
    const p = await authed();
    await p.command('event json CHANNEL_ANSWER BACKGROUND_JOB');
    const mine = randomUUID();
    const filtered = await p.command(`filter Unique-ID ${mine}`);
    expect(filtered.headers['Reply-Text']).toBe(`+OK filter added. [Unique-ID]=[${mine}]`);
    sim.emitEvent('CHANNEL_ANSWER', { 'Unique-ID': randomUUID() });
    await p.command('bgapi status');
    sim.emitEvent('CHANNEL_ANSWER', { 'Unique-ID': mine });
    const { event } = await p.nextEvent((e) => e['Event-Name'] === 'CHANNEL_ANSWER');
    expect(event['Unique-ID']).toBe(mine);
    expect(p.events().filter((e) => e['Event-Name'] !== 'CHANNEL_ANSWER')).toEqual([]);
    expect((await p.command(`filter delete Unique-ID ${mine}`)).headers['Reply-Text']).toBe(`+OK filter deleted. [Unique-ID][${mine}]`);
    await p.command('bgapi status');
    await p.nextEvent((e) => e['Event-Name'] === 'BACKGROUND_JOB');
  });

  it('CUSTOM events reach only listeners of their subclass; nixevent and noevents stop them', async () => {
    const play = await authed();
    const other = await authed();
    expect((await play.command('event json CUSTOM mod_audio_stream::play')).headers['Reply-Text']).toBe('+OK event listener enabled json');
    await other.command('event json CUSTOM mod_audio_stream::connect');
    const uuid = randomUUID();
    sim.emitEvent('CUSTOM', { 'Event-Subclass': 'mod_audio_stream::play', 'Unique-ID': uuid }, '{"file":"/tmp/x.r8"}');
    const got = await play.nextFrame((f) => f.headers['Content-Type'] === 'text/event-json');
    const entries = entriesOf(got);
    expect(entries[0]).toEqual(['Event-Subclass', 'mod_audio_stream::play']);
    expect(entries[1]).toEqual(['Event-Name', 'CUSTOM']);
    expect(jsonOf(got)._body).toBe('{"file":"/tmp/x.r8"}');
    sim.emitEvent('CUSTOM', { 'Event-Subclass': 'mod_audio_stream::connect', 'Unique-ID': uuid }, '{"status":"connected"}');
    expect((await other.nextEvent()).event['Event-Subclass']).toBe('mod_audio_stream::connect');
    expect(play.events()).toHaveLength(1);
    expect((await play.command('nixevent CUSTOM mod_audio_stream::play')).headers['Reply-Text']).toBe('+OK events nixed');
    expect((await other.command('noevents')).headers['Reply-Text']).toBe('+OK no longer listening for events');
    expect((await other.command('noevents')).headers['Reply-Text']).toBe('-ERR not listening for events');
  });

  it('myevents <uuid> follows one channel, and the listener is let go when that channel hangs up', async () => {
    const p = await authed();
    const uuid = randomUUID();
    await p.api(`originate {origination_uuid=${uuid}}loopback/7000 &park()`);
    expect((await p.command(`myevents ${randomUUID()} json`)).headers['Reply-Text']).toBe('-ERR invalid uuid');
    expect((await p.command(`myevents ${uuid} json`)).headers['Reply-Text']).toBe('+OK Events Enabled');
    sim.emitEvent('CHANNEL_ANSWER', { 'Unique-ID': randomUUID() });
    await sim.channel(uuid)?.pressDtmf('7');
    const dtmf = await p.nextEvent((e) => e['Event-Name'] === 'DTMF');
    expect(dtmf.event['DTMF-Digit']).toBe('7');
    expect(p.events().every((e) => e['Unique-ID'] === uuid)).toBe(true);
    await sim.channel(uuid)?.hangup();
    await p.closed;
    const notice = p.frames.at(-1) as RawFrame;
    expect(notice.order).toEqual(['Content-Type', 'Controlled-Session-UUID', 'Content-Disposition', 'Content-Length']);
    expect(notice.headers['Content-Disposition']).toBe('disconnect');
  });

  it('replies in order and holds events back while an api command runs, like a single-threaded listener', async () => {
    const p = await authed();
    await p.command('event json ALL');
    sim.onOriginate(() => ({ answerAfterMs: 2000 }));
    const uuid = randomUUID();
    p.send(`api originate {origination_uuid=${uuid}}loopback/7000 &park()\n\napi status\n\n`);
    const first = await p.nextFrame((f) => f.headers['Content-Type'] === 'api/response');
    expect(first.body?.toString()).toBe(`+OK ${uuid}\n`);
    const i = p.frames.indexOf(first);
    // Nothing of that call was written before its api/response.
    expect(p.frames.slice(0, i).some((f) => f.body?.toString().includes(uuid))).toBe(false);
    const second = await p.nextFrame((f) => f.headers['Content-Type'] === 'api/response');
    expect(second.body?.toString()).toMatch(/^UP /);
  });

  it('answers garbage with -ERR command not found and carries on', async () => {
    const p = await authed();
    p.send(Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x0a]));
    p.send('what is this\n\nsendmsg\ncontent-length: nope\n\n');
    const r1 = await p.nextFrame((f) => f.headers['Content-Type'] === 'command/reply');
    expect(r1.headers['Reply-Text']).toBe('-ERR command not found');
    const r2 = await p.nextFrame((f) => f.headers['Content-Type'] === 'command/reply');
    expect(r2.headers['Reply-Text']).toBe('-ERR command not found');
    const r3 = await p.nextFrame((f) => f.headers['Content-Type'] === 'command/reply');
    expect(r3.headers['Reply-Text']).toBe('-ERR invalid session id []');
    expect((await p.command('event')).headers['Reply-Text']).toBe('-ERR no keywords supplied');
    expect((await p.command('linger')).headers['Reply-Text']).toBe('-ERR not controlling a session');
    expect((await p.command('filter Unique-ID')).headers['Reply-Text']).toBe('-ERR invalid syntax');
    expect(await p.api('status')).toMatch(/^UP /);
    expect(sim.received.map((c) => c.line)).toContain('what is this');
  });

  it('commands before auth are refused but the connection stays; exit says bye', async () => {
    const p = await RawEslPeer.connect(sim.port);
    peers.push(p);
    await p.nextFrame((f) => f.headers['Content-Type'] === 'auth/request');
    expect((await p.command('api status')).headers['Reply-Text']).toBe('-ERR command not found');
    expect((await p.command('auth ClueCon')).headers['Reply-Text']).toBe('+OK accepted');
  });

  it('sendRaw reaches authenticated connections as is; dropConnections resets them', async () => {
    const p = await authed();
    sim.sendRaw('Content-Type: text/event-json\nContent-Length: 2\n\n{}');
    const f = await p.nextFrame((x) => x.headers['Content-Type'] === 'text/event-json');
    expect(f.body?.toString()).toBe('{}');
    sim.dropConnections();
    await p.closed;
    expect(parseEventFrame(f)).toEqual({});
  });

  it('records every command with its connection, mode and raw bytes, and waitForCommand finds old and new ones', async () => {
    const p = await authed();
    await p.api('status');
    const old = await sim.waitForCommand((c) => c.line === 'api status');
    expect(old).toMatchObject({ mode: 'inbound', line: 'api status' });
    expect(old.raw.toString()).toBe('api status\n\n');
    const since = sim.received.length;
    const next = sim.waitForCommand((c) => c.line === 'api status', { since, timeoutMs: 2000 });
    await p.api('status');
    expect((await next).at).toBeGreaterThan(old.at);
    await expect(sim.waitForCommand((c) => c.line === 'never', { timeoutMs: 20 })).rejects.toThrow(/timed out/);
  });
});
