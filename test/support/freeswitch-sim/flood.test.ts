import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from './index.ts';
import { parseEventFrame, RawEslPeer, splitFrames } from './raw-esl-client.ts';

let sim: FreeSwitchSim;
beforeEach(async () => {
  sim = await FreeSwitchSim.start();
});
afterEach(async () => {
  await sim.close();
});

/** Counts event frames as they arrive, without keeping them (a flood is large). */
async function counter(format: 'json' | 'plain', subscription = 'ALL'): Promise<{ peer: RawEslPeer; seen: () => { count: number; names: Set<string>; seqs: number[] }; reached: (n: number) => Promise<void> }> {
  const peer = await RawEslPeer.authed(sim.port);
  await peer.command(`event ${format} ${subscription}`);
  const socket = peer.socket;
  socket.removeAllListeners('data');
  let buf: Buffer = Buffer.alloc(0);
  let count = 0;
  const names = new Set<string>();
  const seqs: number[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  socket.on('data', (chunk: Buffer) => {
    const { frames, rest } = splitFrames(buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk);
    buf = rest;
    for (const f of frames) {
      if (!f.headers['Content-Type']?.startsWith('text/event-')) continue;
      count++;
      // Parse a sample in full: every frame must be a well-formed event.
      if (count % 997 === 1) {
        const e = parseEventFrame(f) as Record<string, string>;
        names.add(e['Event-Name'] as string);
        seqs.push(Number(e['Event-Sequence']));
      }
    }
    if (waiting && count >= waiting.n) waiting.resolve();
  });
  return {
    peer,
    seen: () => ({ count, names, seqs }),
    reached: (n) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${count} of ${n} events arrived`)), 30_000);
        waiting = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        if (count >= n) waiting.resolve();
      }),
  };
}

describe('floodEvents', () => {
  it.each(['json', 'plain'] as const)('delivers exactly N well-formed %s channel events, honouring backpressure', async (format) => {
    const c = await counter(format);
    const N = 50_000;
    const { delivered } = await sim.floodEvents(N);
    expect(delivered).toBe(N);
    await c.reached(N);
    const { count, names, seqs } = c.seen();
    expect(count).toBe(N);
    expect(names.size).toBeGreaterThan(3);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    c.peer.close();
  });

  it('sends only what a subscription accepts, and only to the chosen connection', async () => {
    const answers = await counter('json', 'CHANNEL_ANSWER');
    const other = await counter('json');
    const { delivered } = await sim.floodEvents(1_000, { connId: sim.connections.find((c) => c.mode === 'inbound')?.id });
    expect(delivered).toBe(1_000);
    await answers.reached(1_000);
    expect([...answers.seen().names]).toEqual(['CHANNEL_ANSWER']);
    expect(other.seen().count).toBe(0);
    answers.peer.close();
    other.peer.close();
  });
});
