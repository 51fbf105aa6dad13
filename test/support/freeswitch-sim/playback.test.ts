import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FreeSwitchSim, type SimChannel } from './index.ts';
import { RawEslPeer } from './raw-esl-client.ts';

const SCALE = 0.2;
const GAP = 190 * SCALE;

let dir: string;
let wav1s: string;
let r16: string;
let r8: string;
let sim: FreeSwitchSim;
let esl: RawEslPeer;

/** A PCM WAV file: 44-byte header, `seconds` of 16-bit silence at `rate`. */
function wav(path: string, seconds: number, rate = 8000): void {
  const data = Math.round(seconds * rate) * 2;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data, 40);
  writeFileSync(path, Buffer.concat([h, Buffer.alloc(data)]));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-sim-'));
  wav1s = join(dir, 'one-second.wav');
  wav(wav1s, 1, 16000);
  r16 = join(dir, 'chunk.r16');
  writeFileSync(r16, Buffer.alloc(32000));
  r8 = join(dir, 'half.r8');
  writeFileSync(r8, Buffer.alloc(8000));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: SCALE, defaultPlaybackMs: 700 });
  esl = await RawEslPeer.authed(sim.port);
  await esl.command('event json CHANNEL_EXECUTE_COMPLETE PLAYBACK_STOP');
});
afterEach(async () => {
  esl.close();
  await sim.close();
});

async function parked(): Promise<SimChannel> {
  const uuid = randomUUID();
  expect(await esl.api(`originate {origination_uuid=${uuid}}loopback/7000 &park()`)).toBe(`+OK ${uuid}\n`);
  return sim.channel(uuid) as SimChannel;
}

async function play(ch: SimChannel, file: string): Promise<string> {
  const id = randomUUID();
  const reply = await esl.command(`sendmsg ${ch.uuid}`, { 'call-command': 'execute', 'execute-app-name': 'playback', 'execute-app-arg': file, 'event-lock': 'true', 'Event-UUID': id });
  expect(reply.headers['Reply-Text']).toBe('+OK');
  return id;
}

/** Resolves once the n-th playback (1-based) of the leg has started, or finished with `completed`. */
async function nthPlayback(ch: SimChannel, n: number, completed = false): Promise<void> {
  for (;;) {
    const plays = ch.executed.filter((e) => e.app === 'playback');
    const nth = plays[n - 1];
    if (nth && (!completed || nth.endedAt !== undefined)) return;
    await ch.waitForApp('playback', { since: nth ? ch.executed.indexOf(nth) : ch.executed.length, completed, timeoutMs: 10_000 });
  }
}

const completed = (id: string): Promise<unknown> => esl.nextEvent((e) => e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-UUID'] === id, 10_000);

describe('playback durations', () => {
  it('come from the WAV header, raw L16 size ÷ (2 × rate), stream arguments, or defaultPlaybackMs', async () => {
    const ch = await parked();
    const files = [wav1s, r16, r8, 'silence_stream://250', 'tone_stream://%(100,50,440);loops=2', join(dir, 'missing.wav')];
    const ids: string[] = [];
    for (const f of files) ids.push(await play(ch, f));
    await completed(ids.at(-1) as string);
    expect(ch.played.map((p) => [p.file, Math.round(p.durationMs), p.interrupted])).toEqual([
      [wav1s, 1000, false],
      [r16, 1000, false],
      [r8, 500, false],
      ['silence_stream://250', 250, false],
      ['tone_stream://%(100,50,440);loops=2', 300, false],
      [join(dir, 'missing.wav'), 700, false],
    ]);
    for (const p of ch.played) expect((p.endedAt as number) - p.startedAt).toBeGreaterThanOrEqual(p.durationMs * SCALE * 0.9);
    expect(ch.vars.get('playback_ms')).toBe('700');
  });
});

describe('queued playback and uuid_break, as measured on FreeSWITCH 1.11', () => {
  it('sendmsg: back to back with no gap; break all stops the current file and the queued ones still play', async () => {
    const ch = await parked();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await play(ch, wav1s));
    await nthPlayback(ch, 2);
    expect(await esl.api(`uuid_break ${ch.uuid} all`)).toBe('-ERR no reply\n');
    const stop = await esl.nextEvent((e) => e['Event-Name'] === 'PLAYBACK_STOP' && e['Playback-Status'] === 'break');
    expect(stop.event['Playback-File-Path']).toBe(wav1s);
    await completed(ids[3] as string);
    expect(ch.played.map((p) => p.interrupted)).toEqual([false, true, false, false]);
    expect(ch.played.every((p) => p.via === 'sendmsg')).toBe(true);
    for (let i = 1; i < ch.played.length; i++) {
      const gap = (ch.played[i]?.startedAt as number) - (ch.played[i - 1]?.endedAt as number);
      expect(gap).toBeLessThan(GAP);
    }
  });

  it('uuid_broadcast: ≈190 ms (× timeScale) between files; break all stops the current one and drops the rest', async () => {
    const ch = await parked();
    for (let i = 0; i < 4; i++) expect(await esl.api(`uuid_broadcast ${ch.uuid} ${wav1s} aleg`)).toBe('+OK Message Sent\n');
    await nthPlayback(ch, 2);
    await esl.api(`uuid_break ${ch.uuid} all`);
    await nthPlayback(ch, 2, true);
    // Anything still queued would run before this.
    const marker = randomUUID();
    await esl.command(`sendmsg ${ch.uuid}`, { 'call-command': 'execute', 'execute-app-name': 'set', 'execute-app-arg': 'sb_marker=1', 'Event-UUID': marker });
    await completed(marker);
    expect(ch.played.map((p) => [p.via, p.interrupted])).toEqual([
      ['broadcast', false],
      ['broadcast', true],
    ]);
    const gap = (ch.played[1]?.startedAt as number) - (ch.played[0]?.endedAt as number);
    expect(gap).toBeGreaterThanOrEqual(GAP * 0.9);
  });

  it('uuid_break without all on a broadcast stops only the current file', async () => {
    const ch = await parked();
    for (let i = 0; i < 3; i++) await esl.api(`uuid_broadcast ${ch.uuid} silence_stream://500`);
    await nthPlayback(ch, 1);
    await esl.api(`uuid_break ${ch.uuid}`);
    await nthPlayback(ch, 3, true);
    expect(ch.played.map((p) => p.interrupted)).toEqual([true, false, false]);
  });

  it('a playback terminator (default *) ends the file; other digits wait for a later read', async () => {
    const ch = await parked();
    const first = await play(ch, 'silence_stream://-1');
    await ch.waitForApp('playback');
    await ch.pressDtmf('5*');
    await completed(first);
    expect(ch.played[0]?.interrupted).toBe(true);
    expect(ch.vars.get('playback_terminator_used')).toBe('*');
    const read = randomUUID();
    await esl.command(`sendmsg ${ch.uuid}`, { 'call-command': 'execute', 'execute-app-name': 'read', 'execute-app-arg': '1 1 silence_stream://100 sb_key 1000 #', 'Event-UUID': read });
    await completed(read);
    expect(ch.vars.get('sb_key')).toBe('5');
  });

  it('hanging up mid-file ends it as interrupted and discards what was queued', async () => {
    const ch = await parked();
    await play(ch, wav1s);
    await play(ch, wav1s);
    await ch.waitForApp('playback');
    await ch.hangup();
    expect(ch.played.map((p) => p.interrupted)).toEqual([true]);
    expect(ch.executed.find((e) => e.app === 'playback')?.response).toBe('PLAYBACK ERROR');
  });
});
