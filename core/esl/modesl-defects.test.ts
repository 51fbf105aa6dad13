/**
 * Regression tests for the modesl 1.2.1 defects core/esl fixes (see README.md). Each case runs
 * the scenario twice against the FreeSWITCH simulator: with raw modesl in a child process (the
 * control, proving the defect is real and the test would fail without the fix) and through
 * Switchboard's layer.
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { runModeslChild } from '../../test/support/modesl-child.ts';
import { isSwitchboardError } from '../errors.ts';
import { EslClient } from './client.ts';
import { EslConnection } from './connection.ts';
import type { EslEvent } from './event.ts';
import { EslServer } from './server.ts';
import type { Call } from './call.ts';

let sim: FreeSwitchSim;
const cleanup: Array<() => unknown> = [];

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await sim.close();
});

async function client(): Promise<EslClient> {
  const c = new EslClient({ host: sim.host, port: sim.port, password: 'ClueCon', reconnect: { initialMs: 20, maxMs: 100 } });
  await c.start();
  cleanup.push(() => c.close());
  return c;
}

async function rawConnection(): Promise<{ conn: EslConnection; events: EslEvent[]; problems: string[] }> {
  const conn = new EslConnection(sim.host, sim.port, 'ClueCon');
  const events: EslEvent[] = [];
  const problems: string[] = [];
  conn.setHooks({ event: (e) => events.push(e), problem: (p) => problems.push(p.message) });
  await conn.ready;
  cleanup.push(() => conn.destroy());
  return { conn, events, problems };
}

function until<T>(fn: () => T | undefined, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      const v = fn();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - t0 > timeoutMs) return reject(new Error('condition not met in time'));
      setImmediate(tick);
    };
    tick();
  });
}

const connectThen = (body: string): string => `const c = new esl.Connection('127.0.0.1', PORT, 'ClueCon', () => { ${body} });`;

describe('modesl defect: a malformed % sequence in a plain event kills the process', () => {
  const raw = { 'Event-Name': 'CHANNEL_CREATE', 'Unique-ID': randomUUID(), variable_sb_raw_escape: 'caf%E9', variable_sb_note: '100% a%zz' };

  it('control: raw modesl with `event plain ALL` dies with URIError', async () => {
    const child = runModeslChild(connectThen("c.events('plain', 'ALL', () => log('subscribed'));"), { PORT: String(sim.port) });
    await child.waitForLine((l) => l === 'subscribed');
    sim.emitEvent('CHANNEL_CREATE', raw);
    const r = await child.exited;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('URIError');
  });

  it('Switchboard decodes it tolerantly and keeps going', async () => {
    const { conn, events } = await rawConnection();
    await conn.request('event plain ALL');
    sim.emitEvent('CHANNEL_CREATE', raw);
    sim.emitEvent('CHANNEL_ANSWER', { 'Event-Name': 'CHANNEL_ANSWER', 'Unique-ID': raw['Unique-ID'] });
    await until(() => events.find((e) => e.name === 'CHANNEL_ANSWER'));
    const created = events.find((e) => e.name === 'CHANNEL_CREATE');
    expect(created?.variable('sb_raw_escape')).toBe('caf%E9');
    expect(created?.variable('sb_note')).toBe('100% a%zz');
  });
});

describe('modesl defect: replies reach the wrong caller after execute() or disconnect()', () => {
  it('control: raw modesl hands the sendmsg reply of execute() to the next sendRecv', async () => {
    const child = runModeslChild(
      connectThen(`
        c.execute('answer', '', '${randomUUID()}');
        c.sendRecv('event json CHANNEL_ANSWER', (e) => { log('reply:' + e.getHeader('Reply-Text')); process.exit(0); });
      `),
      { PORT: String(sim.port) },
    );
    const line = await child.waitForLine((l) => l.startsWith('reply:'));
    expect(line).not.toBe('reply:+OK event listener enabled json');
  });

  it('Switchboard gives every command its own reply', async () => {
    const { conn } = await rawConnection();
    const exec = conn.executeApp(randomUUID(), 'answer', undefined).catch((e: Error) => e);
    const reply = await conn.request('event json CHANNEL_ANSWER');
    expect(reply.headers['Reply-Text']).toBe('+OK event listener enabled json');
    const err = await exec;
    expect(isSwitchboardError(err, 'SB_ESL_COMMAND_FAILED')).toBe(true);
  });

  it('Switchboard: disconnect() waits for replies already owed, then rejects later commands', async () => {
    const { conn } = await rawConnection();
    const status = conn.api('status');
    const closing = conn.disconnect();
    expect(await status).toContain('UP ');
    await closing;
    await expect(conn.api('status')).rejects.toMatchObject({ code: 'SB_ESL_CLOSED' });
  });
});

describe('modesl defect: a newline in an argument injects a second command', () => {
  const uuid = randomUUID();
  const hostile = `${uuid} sb_x a\n\napi hupall MANAGER_REQUEST`;

  it('control: raw modesl sends `api hupall` as a second command', async () => {
    const child = runModeslChild(connectThen(`c.api('uuid_setvar', ${JSON.stringify(hostile)}, () => {}); setTimeout(() => process.exit(0), 2000);`), { PORT: String(sim.port) });
    const injected = await sim.waitForCommand((c) => c.line.startsWith('api hupall'), { timeoutMs: 5000 });
    expect(injected.line).toBe('api hupall MANAGER_REQUEST');
    child.kill();
  });

  it('Switchboard refuses it before anything is written', async () => {
    const c = await client();
    const before = sim.received.length;
    await expect(c.api(`uuid_setvar ${hostile}`)).rejects.toMatchObject({ code: 'SB_ESL_UNSAFE_VALUE' });
    expect(await c.api('status')).toContain('UP ');
    expect(sim.received.slice(before).map((r) => r.line)).toEqual(['api status']);
  });
});

describe('modesl defect: pending api/bgapi/execute never settle when the connection closes', () => {
  it('control: raw modesl never calls back a bgapi in flight when the socket is reset', async () => {
    sim.onOriginate(() => ({ answerAfterMs: 1e9 }));
    const child = runModeslChild(
      connectThen(`
        c.on('error', () => {}); // without a listener modesl would crash on the reset instead
        c.bgapi('originate', '{originate_timeout=1000000}loopback/7200 &park()', () => log('settled'));
        c.socket.on('close', () => setTimeout(() => { log('closed, pending never settled'); process.exit(0); }, 200));
        log('sent');
      `),
      { PORT: String(sim.port) },
    );
    await child.waitForLine((l) => l === 'sent');
    await sim.waitForCommand((c) => c.line.startsWith('bgapi originate'));
    sim.dropConnections();
    const r = await child.exited;
    expect(r.stdout.split('\n')).toContain('closed, pending never settled');
    expect(r.stdout.split('\n')).not.toContain('settled');
  });

  it('Switchboard rejects api, bgapi and execute with SB_ESL_CLOSED', async () => {
    sim.onOriginate(() => ({ answerAfterMs: 1e9 }));
    const c = await client();
    const api = c.api('originate {originate_timeout=1000000}loopback/7200 &park()').catch((e: unknown) => e);
    const bg = c.bgapi('originate {originate_timeout=1000000}loopback/7201 &park()').catch((e: unknown) => e);
    await sim.waitForCommand((cmd) => cmd.line.startsWith('bgapi originate'));
    sim.dropConnections();
    expect(await api).toMatchObject({ code: 'SB_ESL_CLOSED' });
    expect(await bg).toMatchObject({ code: 'SB_ESL_CLOSED' });
    expect(c.inFlight()).toEqual({ replies: 0, jobs: 0, executions: 0 });
  });
});

describe('modesl defect: the outbound Server crashes on ECONNRESET from a channel socket', () => {
  it('control: modesl.Server dies when FreeSWITCH resets a channel socket', async () => {
    const child = runModeslChild(`
      const s = new esl.Server({ port: 0, host: '127.0.0.1' }, () => log('port:' + s.server.address().port));
      s.on('connection::ready', (conn) => log('call'));
    `);
    const port = Number((await child.waitForLine((l) => l.startsWith('port:'))).slice(5));
    await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port } });
    await child.waitForLine((l) => l === 'call');
    sim.dropConnections();
    const r = await child.exited;
    expect(r.code).not.toBe(0);
  });

  it('Switchboard logs it, frees the call, and takes the next call', async () => {
    const calls: Call[] = [];
    const server = new EslServer({ host: '127.0.0.1', port: 0, onCall: async (call) => { calls.push(call); await call.ended; } });
    const addr = await server.start();
    cleanup.push(() => server.close(100));
    await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: addr.port } });
    await until(() => calls[0]);
    sim.dropConnections();
    await calls[0]?.ended;
    expect(calls[0]?.isGone).toBe(true);
    await sim.inboundCall({ to: '7001', from: '1001', socket: { host: '127.0.0.1', port: addr.port } });
    await until(() => calls[1]);
    expect(calls[1]?.data.destination).toBe('7001');
  });
});

describe('modesl defect: listeners leak per command', () => {
  it('control: raw modesl keeps a listener for every execute that never completes', async () => {
    const child = runModeslChild(
      connectThen(`
        const uuid = '${randomUUID()}';
        const before = c.listeners('esl::event::CHANNEL_EXECUTE_COMPLETE::' + uuid).length;
        for (let i = 0; i < 50; i++) c.execute('answer', '', uuid, () => {});
        c.api('status', () => log('leaked:' + (c.listeners('esl::event::CHANNEL_EXECUTE_COMPLETE::' + uuid).length - before)));
      `),
      { PORT: String(sim.port) },
    );
    const line = await child.waitForLine((l) => l.startsWith('leaked:'));
    child.kill();
    expect(Number(line.slice(7))).toBe(50);
  });

  it('Switchboard holds nothing once commands are answered, however many ran', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));
    const { conn } = await rawConnection();
    await conn.request('event json BACKGROUND_JOB');
    const socket = conn.socket as net.Socket;
    const listenersBefore = socket.listenerCount('data') + socket.listenerCount('close');
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 2000; i++) {
      work.push(conn.api('status'));
      work.push(conn.bgapi(`uuid_exists ${randomUUID()}`));
      work.push(conn.executeApp(randomUUID(), 'answer', undefined).catch(() => null));
    }
    await Promise.all(work);
    expect(conn.inFlight()).toEqual({ replies: 0, jobs: 0, executions: 0 });
    expect(socket.listenerCount('data') + socket.listenerCount('close')).toBe(listenersBefore);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});

describe('modesl defect: Nagle adds ~40 ms per round trip (no setNoDelay)', () => {
  it('control: raw modesl never disables Nagle; Switchboard does on inbound and outbound sockets', async () => {
    const spy = vi.spyOn(net.Socket.prototype, 'setNoDelay');
    cleanup.push(() => spy.mockRestore());
    const noDelayOn = (socket: unknown): boolean => spy.mock.contexts.some((ctx, i) => ctx === socket && spy.mock.calls[i]?.[0] !== false);
    const modesl = (await import('modesl')).default;
    const raw = await new Promise<net.Socket>((resolve) => {
      const c = new modesl.Connection(sim.host, sim.port, 'ClueCon');
      c.on('esl::ready', () => resolve(c.socket as net.Socket));
    });
    expect(noDelayOn(raw)).toBe(false);
    raw.destroy();

    const { conn } = await rawConnection();
    expect(noDelayOn(conn.socket)).toBe(true);

    const server = new EslServer({ host: '127.0.0.1', port: 0, onCall: (call) => call.hangup() });
    const addr = await server.start();
    cleanup.push(() => server.close(100));
    const ch = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: addr.port } });
    await ch.waitForHangup({ timeoutMs: 5000 });
    const accepted = spy.mock.contexts.filter((ctx) => ctx instanceof net.Socket && ctx.localPort === addr.port);
    expect(accepted.length).toBeGreaterThan(0);
  });
});

describe('modesl defect: a malformed JSON or XML event body crashes the parser', () => {
  const xmlFrame = (body: string): string => `Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-xml\n\n${body}`;
  const jsonFrame = (body: string): string => `Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-json\n\n${body}`;

  it('control: raw modesl dies on a malformed XML event body', async () => {
    const child = runModeslChild(connectThen("c.events('xml', 'ALL', () => log('subscribed'));"), { PORT: String(sim.port) });
    await child.waitForLine((l) => l === 'subscribed');
    sim.sendRaw(xmlFrame('<event><headers><Event-Name>CHANNEL_CREATE</Event-Name>'));
    const r = await child.exited;
    expect(r.code).not.toBe(0);
  });

  it('Switchboard reports the frame as a problem and delivers the next event', async () => {
    const { conn, events, problems } = await rawConnection();
    await conn.request('event json ALL');
    sim.sendRaw(jsonFrame('{"Event-Name": "CHANNEL_CREATE", '));
    sim.sendRaw(xmlFrame('<event><headers><Event-Name>CHANNEL_CREATE</Event-Name>'));
    sim.sendRaw(jsonFrame('[1,2,3]'));
    sim.emitEvent('CHANNEL_ANSWER', { 'Event-Name': 'CHANNEL_ANSWER', 'Unique-ID': randomUUID() });
    await until(() => events.find((e) => e.name === 'CHANNEL_ANSWER'));
    expect(problems).toHaveLength(3);
    expect(await conn.api('status')).toContain('UP ');
  });
});
