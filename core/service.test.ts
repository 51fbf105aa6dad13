import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from '../test/support/freeswitch-sim/index.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { Service } from './service.ts';

let sim: FreeSwitchSim;
let dir: string;
let service: Service;
let lines: Array<Record<string, unknown>>;
let simClosed = false;

beforeEach(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  simClosed = false;
  dir = mkdtempSync(join(tmpdir(), 'sb-service-'));
  writeFileSync(join(dir, 'desk.yaml'), 'name: desk\nmatch: { destination: ["7000"] }\nsteps:\n  - answer\n  - greet\n  - hangup\n');
  lines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: dir });
  service = new Service({ config, logger: createLogger('debug', sink) });
  await service.start();
});

afterEach(async () => {
  await service.close();
  if (!simClosed) await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Service', () => {
  it('runs the routed flow for a call; every log line of the call carries its call id', async () => {
    const ch = await sim.inboundCall({ to: '7000', from: '+15551234567', socket: { host: '127.0.0.1', port: service.outboundAddress.port } });
    await ch.waitForHangup();
    await expect.poll(() => lines.some((l) => l.msg === 'flow ended')).toBe(true);
    const callLines = lines.filter((l) => l.callId !== undefined);
    expect(callLines.length).toBeGreaterThan(3);
    expect(new Set(callLines.map((l) => l.callId))).toEqual(new Set([ch.uuid]));
    const flowLines = lines.filter((l) => l.flow === 'desk');
    expect(flowLines.every((l) => l.callId === ch.uuid)).toBe(true);
    expect(ch.played.map((p) => p.file.split('/').pop())).toEqual(['welcome.wav']);
  });

  it('an inbound call cannot choose its flow through a sb_flow channel variable', async () => {
    writeFileSync(join(dir, 'secret.yaml'), 'name: secret\ntrigger: outbound\nsteps:\n  - play: closed.wav\n  - hangup\n');
    expect(service.reload().ok).toBe(true);
    const ch = await sim.inboundCall({ to: '7000', from: '1000', vars: { sb_flow: 'secret' }, socket: { host: '127.0.0.1', port: service.outboundAddress.port } });
    await ch.waitForHangup();
    expect(ch.played.map((p) => p.file.split('/').pop())).toEqual(['welcome.wav']);
  });

  it('hangs up a call no flow matches with NO_ROUTE_DESTINATION', async () => {
    const ch = await sim.inboundCall({ to: '9999', from: '1000', socket: { host: '127.0.0.1', port: service.outboundAddress.port } });
    await ch.waitForHangup();
    expect(ch.hangupCause).toBe('NO_ROUTE_DESTINATION');
  });

  it('serves /health and Prometheus /metrics', async () => {
    const base = `http://127.0.0.1:${service.http?.port}`;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', esl: { connected: true }, flows: 1 });
    const ch = await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: service.outboundAddress.port } });
    await ch.waitForHangup();
    await expect.poll(async () => (await (await fetch(`${base}/metrics`)).text()).includes('switchboard_calls_total{state="completed"} 1')).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('switchboard_esl_connected 1');
    expect(metrics).toMatch(/switchboard_step_duration_seconds_count\{step="greet",outcome="ok"\} 1/);
  });

  it('reports degraded health (503) while FreeSWITCH is away', async () => {
    const lost = new Promise<void>((r) => service.esl.once('disconnected', () => r()));
    await sim.close();
    simClosed = true;
    await lost;
    const res = await fetch(`http://127.0.0.1:${service.http?.port}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'degraded', esl: { connected: false } });
  });
  it('a part that fails to close is logged and the rest still close; close() names it', async () => {
    const media = service.media as NonNullable<typeof service.media>;
    const realClose = media.close.bind(media);
    media.close = async () => {
      await realClose();
      throw new Error('disk on fire');
    };
    expect(service.esl.connected).toBe(true);
    await expect(service.close()).rejects.toThrow('could not close cleanly: media');
    expect(service.esl.connected).toBe(false);
    expect(lines.find((l) => l.msg === 'could not close cleanly; closing the rest')).toMatchObject({ part: 'media', err: 'disk on fire' });
    media.close = realClose;
  });
});
