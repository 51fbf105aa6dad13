import { createServer, type AddressInfo, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { EslClient } from './client.ts';
import type { EslEvent } from './event.ts';

let sim: FreeSwitchSim;
const cleanup: Array<() => unknown> = [];

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await sim.close();
});

async function connect(password = 'ClueCon', port = sim.port): Promise<EslClient> {
  const c = new EslClient({ host: '127.0.0.1', port, password, timeoutMs: 2000, reconnect: { initialMs: 10, maxMs: 50 } });
  cleanup.push(() => c.close());
  await c.start();
  return c;
}

function nextEvent(c: EslClient, pred: (e: EslEvent) => boolean): Promise<EslEvent> {
  return new Promise((resolve) => {
    const on = (e: EslEvent): void => {
      if (!pred(e)) return;
      c.off('event', on);
      resolve(e);
    };
    c.on('event', on);
  });
}

describe('EslClient', () => {
  it('authenticates and runs api commands; -ERR bodies come back as text, apiOk turns them into errors', async () => {
    const c = await connect();
    expect(c.connected).toBe(true);
    expect(await c.api('status')).toMatch(/^UP /);
    expect(await c.api(`uuid_kill ${randomUUID()}`)).toMatch(/^-ERR No such channel!/);
    await expect(c.apiOk(`uuid_kill ${randomUUID()}`)).rejects.toMatchObject({ code: 'SB_ESL_COMMAND_FAILED' });
  });

  it('rejects a wrong password with SB_ESL_AUTH and does not keep retrying', async () => {
    const c = new EslClient({ host: '127.0.0.1', port: sim.port, password: 'wrong' });
    await expect(c.start()).rejects.toMatchObject({ code: 'SB_ESL_AUTH' });
    expect(c.connected).toBe(false);
  });

  it('rejects at once when nothing listens', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as AddressInfo).port;
    await new Promise<void>((r) => blocker.close(() => r()));
    const c = new EslClient({ host: '127.0.0.1', port, password: 'ClueCon' });
    await expect(c.start()).rejects.toMatchObject({ code: 'SB_ESL_CLOSED' });
  });

  it('routes 2,000 concurrent bgapi results to their callers by Job-UUID', async () => {
    const c = await connect();
    const uuid = randomUUID();
    const r = await c.originate({ uuid, endpoint: { kind: 'loopback', extension: '7200' }, app: { park: true } });
    expect(r).toEqual({ ok: true, uuid });
    const asks = Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? uuid : randomUUID()));
    const answers = await Promise.all(asks.map((u) => c.bgapi(`uuid_exists ${u}`)));
    answers.forEach((a, i) => expect(a.trim()).toBe(i % 2 === 0 ? 'true' : 'false'));
    const jobs = sim.received.filter((cmd) => cmd.line.startsWith('bgapi uuid_exists')).map((cmd) => cmd.headers['Job-UUID']);
    expect(new Set(jobs).size).toBe(2000);
    expect(c.inFlight()).toEqual({ replies: 0, jobs: 0, executions: 0 });
  });

  it('originate reports failure causes as values', async () => {
    const c = await connect();
    sim.onOriginate(() => ({ fail: 'USER_BUSY' }));
    expect(await c.originate({ uuid: randomUUID(), endpoint: { kind: 'gateway', gateway: 'trunk', number: '+15551234567' }, app: { park: true } })).toEqual({ ok: false, cause: 'USER_BUSY' });
  });

  it('subscribes to events and CUSTOM subclasses in json, and applies filters', async () => {
    const c = await connect();
    await c.subscribe('CHANNEL_ANSWER', 'mod_audio_stream::play');
    const sub = sim.received.filter((cmd) => cmd.line.startsWith('event json')).at(-1);
    expect(sub?.line).toBe('event json BACKGROUND_JOB CHANNEL_ANSWER CUSTOM mod_audio_stream::play');
    const uuid = randomUUID();
    const play = nextEvent(c, (e) => e.subclass === 'mod_audio_stream::play');
    sim.emitEvent('CUSTOM', { 'Event-Subclass': 'mod_audio_stream::play', 'Unique-ID': uuid }, '{"file":"/tmp/x.r8"}');
    expect((await play).body).toBe('{"file":"/tmp/x.r8"}');

    await c.filter('Unique-ID', uuid);
    const other = randomUUID();
    const mine = nextEvent(c, (e) => e.name === 'CHANNEL_ANSWER');
    sim.emitEvent('CHANNEL_ANSWER', { 'Unique-ID': other });
    sim.emitEvent('CHANNEL_ANSWER', { 'Unique-ID': uuid });
    expect((await mine).uuid).toBe(uuid);
  });

  it('reconnects after the socket drops, restores subscriptions and filters, and fails work in flight with SB_ESL_CLOSED', async () => {
    const c = await connect();
    await c.subscribe('CHANNEL_ANSWER');
    sim.onOriginate(() => ({ answerAfterMs: 1e9 }));
    const pending = c.bgapi('originate {originate_timeout=1000000}loopback/7200 &park()').catch((e: unknown) => e);
    await sim.waitForCommand((cmd) => cmd.line.startsWith('bgapi originate'));
    const back = new Promise<void>((resolve) => c.once('connected', () => resolve()));
    sim.dropConnections();
    expect(await pending).toMatchObject({ code: 'SB_ESL_CLOSED' });
    await back;
    expect(c.reconnects).toBe(1);
    const uuid = randomUUID();
    const answered = nextEvent(c, (e) => e.name === 'CHANNEL_ANSWER');
    sim.emitEvent('CHANNEL_ANSWER', { 'Unique-ID': uuid });
    expect((await answered).uuid).toBe(uuid);
  });

  it('close() rejects everything pending with SB_ESL_CLOSED', async () => {
    const c = await connect();
    sim.onOriginate(() => ({ answerAfterMs: 1e9 }));
    const api = c.api('originate {originate_timeout=1000000}loopback/7200 &park()').catch((e: unknown) => e);
    await sim.waitForCommand((cmd) => cmd.line.startsWith('api originate'));
    await c.close();
    expect(await api).toMatchObject({ code: 'SB_ESL_CLOSED' });
    await expect(c.api('status')).rejects.toMatchObject({ code: 'SB_ESL_CLOSED' });
  });
});

describe('EslConnection reply order after a timeout', () => {
  it('swallows the late reply of a timed-out command instead of giving it to the next one', async () => {
    // A scripted peer: it answers the first api only after the second one was sent.
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.write('Content-Type: auth/request\n\n');
      let buf = '';
      let apis = 0;
      s.on('data', (d) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const cmd = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (cmd.startsWith('auth')) s.write('Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
          else if (cmd.startsWith('event')) s.write('Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n');
          else if (cmd.startsWith('api')) {
            apis++;
            if (apis === 2) {
              for (const body of ['first\n', 'second\n']) s.write(`Content-Type: api/response\nContent-Length: ${body.length}\n\n${body}`);
            }
          }
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
    const c = await connect('ClueCon', (server.address() as AddressInfo).port);
    await expect(c.api('first', { timeoutMs: 30 })).rejects.toMatchObject({ code: 'SB_ESL_TIMEOUT' });
    expect(await c.api('second')).toBe('second\n');
  });
});
