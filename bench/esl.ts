/**
 * npm run bench -- esl
 * Event throughput through raw modesl, Switchboard's layer and a minimal hand-written parser
 * (the physical-limit reference), api round trip, and concurrent bgapi, all against the
 * FreeSWITCH simulator running in its own process. Same run, same machine.
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import modesl from 'modesl';
import { EslClient } from '../core/esl/client.ts';
import { SimChild } from './sim-child.ts';
import { percentile, printTable } from './report.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROUNDS = 3;

/** Best of ROUNDS: events/s from the flood request to the last event counted. */
async function throughput(sim: SimChild, attach: (onEvent: () => void) => Promise<() => void>): Promise<number> {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let count = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((res) => (resolveDone = res));
    const detach = await attach(() => {
      if (++count === EVENTS) resolveDone();
    });
    const t0 = performance.now();
    void sim.flood(EVENTS, 'json');
    await done;
    const seconds = (performance.now() - t0) / 1000;
    detach();
    best = Math.max(best, EVENTS / seconds);
  }
  return Math.round(best);
}

function viaModesl(port: number) {
  return (onEvent: () => void): Promise<() => void> =>
    new Promise((resolve) => {
      const c = new modesl.Connection('127.0.0.1', port, 'ClueCon');
      c.on('error', () => {});
      c.on('esl::ready', () => {
        (c as unknown as { subscribe(e: string, cb: () => void): void }).subscribe('ALL', () => {
          c.on('esl::event::**', (e: unknown) => {
            if ((e as { type?: string }).type?.startsWith('CHANNEL_')) onEvent();
          });
          resolve(() => c.socket?.destroy());
        });
      });
    });
}

function viaSwitchboard(port: number) {
  return async (onEvent: () => void): Promise<() => void> => {
    const c = new EslClient({ host: '127.0.0.1', port, password: 'ClueCon' });
    await c.start();
    await c.subscribe('ALL');
    c.on('event', (e) => {
      if (e.name.startsWith('CHANNEL_')) onEvent();
    });
    return () => void c.close();
  };
}

/** The reference: framing by indexOf and Content-Length, JSON.parse of each body, nothing else. */
function viaMinimal(port: number) {
  return (onEvent: () => void): Promise<() => void> =>
    new Promise((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let subscribed = false;
      s.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        let pos = 0;
        for (;;) {
          const end = buf.indexOf('\n\n', pos);
          if (end === -1) break;
          const head = buf.toString('latin1', pos, end);
          const m = /Content-Length: (\d+)/.exec(head);
          const len = m ? Number(m[1]) : 0;
          if (end + 2 + len > buf.length) break;
          if (len > 0 && head.includes('text/event-json')) {
            const ev = JSON.parse(buf.toString('utf8', end + 2, end + 2 + len)) as Record<string, string>;
            if (ev['Event-Name']?.startsWith('CHANNEL_')) onEvent();
          } else if (head.includes('auth/request')) s.write('auth ClueCon\n\n');
          else if (head.includes('+OK accepted')) s.write('event json ALL\n\n');
          else if (head.includes('+OK event listener') && !subscribed) {
            subscribed = true;
            resolve(() => s.destroy());
          }
          pos = end + 2 + len;
        }
        buf = buf.subarray(pos);
      });
    });
}

async function apiRoundTrips(port: number, n: number): Promise<number[]> {
  const c = new EslClient({ host: '127.0.0.1', port, password: 'ClueCon' });
  await c.start();
  for (let i = 0; i < 200; i++) await c.api('status');
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.api('status');
    samples.push(performance.now() - t0);
  }
  await c.close();
  return samples;
}

async function bgapiBurst(port: number, n: number): Promise<number> {
  const c = new EslClient({ host: '127.0.0.1', port, password: 'ClueCon', timeoutMs: 60_000 });
  await c.start();
  await Promise.all(Array.from({ length: 200 }, () => c.bgapi(`uuid_exists ${randomUUID()}`)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => c.bgapi(`uuid_exists ${randomUUID()}`)));
  const ms = performance.now() - t0;
  await c.close();
  return ms;
}

function modeslBgapiBurst(port: number, n: number): Promise<number> {
  return new Promise((resolve) => {
    const c = new modesl.Connection('127.0.0.1', port, 'ClueCon');
    c.on('error', () => {});
    c.on('esl::ready', () => {
      const bg = c as unknown as { bgapi(cmd: string, cb: () => void): void };
      let left = n;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        bg.bgapi(`uuid_exists ${randomUUID()}`, () => {
          if (--left === 0) {
            resolve(performance.now() - t0);
            c.socket?.destroy();
          }
        });
      }
    });
  });
}

const sim = await SimChild.start();
try {
  const eventsPerS = {
    modesl: await throughput(sim, viaModesl(sim.port)),
    switchboard: await throughput(sim, viaSwitchboard(sim.port)),
    minimal: await throughput(sim, viaMinimal(sim.port)),
  };
  const rtt = await apiRoundTrips(sim.port, 5000);
  const bgapi: Record<string, number> = {};
  const modeslBgapi: Record<string, number> = {};
  for (const n of [1000, 2000, 4000]) {
    bgapi[n] = Math.round(Math.min(await bgapiBurst(sim.port, n), await bgapiBurst(sim.port, n)) * 10) / 10;
    modeslBgapi[n] = Math.round((await modeslBgapiBurst(sim.port, n)) * 10) / 10;
  }
  const p50 = Math.round(percentile(rtt, 50) * 1000) / 1000;
  const p99 = Math.round(percentile(rtt, 99) * 1000) / 1000;

  printTable('ESL layer', [
    ['json events/s, raw modesl 1.2.1', eventsPerS.modesl.toLocaleString('en')],
    ['json events/s, Switchboard', `${eventsPerS.switchboard.toLocaleString('en')}  (${(eventsPerS.switchboard / eventsPerS.modesl).toFixed(2)}× modesl, target ≥ 2×)`],
    ['json events/s, minimal parser (limit)', `${eventsPerS.minimal.toLocaleString('en')}  (Switchboard at ${Math.round((eventsPerS.switchboard / eventsPerS.minimal) * 100)} %)`],
    ['api round trip p50 / p99 (ms), sequential', `${p50} / ${p99}  (target p50 ≤ 1 ms)`],
    ...[1000, 2000, 4000].map((n) => [`${n} concurrent bgapi (ms), Switchboard / modesl`, `${bgapi[n]} / ${modeslBgapi[n]}`] as [string, string]),
    ['bgapi 4000 ÷ 1000 (target ≤ 5)', ((bgapi[4000] as number) / (bgapi[1000] as number)).toFixed(2)],
  ]);
  console.log(JSON.stringify({ bench: 'esl', events_per_s: eventsPerS, api_p50_ms: p50, api_p99_ms: p99, bgapi_ms: bgapi }));
} finally {
  await sim.close();
}
