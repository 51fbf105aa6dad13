// Runs the FreeSWITCH simulator in its own process for benchmarks, so the figures measure the
// client on one core while the simulator has the other. Controlled over IPC.
import { FreeSwitchSim, type SimCommand } from '../test/support/freeswitch-sim/index.ts';

const sim = await FreeSwitchSim.start({ timeScale: Number(process.env.SIM_TIME_SCALE ?? '0.01') });
process.send?.({ type: 'ready', port: sim.port });
process.on('message', (msg: { type: string; count?: number; format?: 'json' | 'plain'; id?: number; cps?: number; port?: number }) => {
  if (msg.type === 'calls') {
    void placeCalls(msg.cps ?? 1, msg.count ?? 0, msg.port ?? 0).then((latencies) => process.send?.({ type: 'called', id: msg.id, latencies }));
  } else if (msg.type === 'flood') {
    void sim.floodEvents(msg.count ?? 0, { format: msg.format ?? 'json' }).then(() => process.send?.({ type: 'flooded', id: msg.id }));
  } else if (msg.type === 'close') {
    void sim.close().then(() => process.exit(0));
  }
});

/**
 * Calls at a steady rate. Per call: ms from the service's first byte on the new socket
 * (`connect`) to the flow's first command, so the connect/myevents/linger handshake, routing and
 * the runner's set-up are all inside the figure.
 */
async function placeCalls(cps: number, count: number, port: number): Promise<number[]> {
  const connected = new Map<string, number>();
  const latencies: number[] = [];
  const onCommand = (cmd: SimCommand): void => {
    if (cmd.channel === undefined) return;
    if (cmd.line === 'connect') connected.set(cmd.channel, performance.now());
    else if (cmd.headers['call-command'] !== undefined) {
      const t0 = connected.get(cmd.channel);
      if (t0 === undefined) return;
      connected.delete(cmd.channel);
      latencies.push(performance.now() - t0);
    }
  };
  sim.on('command', onCommand);
  const interval = 1000 / cps;
  const t0 = performance.now();
  const calls: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    calls.push(sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port } }).then((ch) => ch.waitForHangup({ timeoutMs: 30_000 })));
  }
  await Promise.all(calls);
  sim.off('command', onCommand);
  return latencies;
}
