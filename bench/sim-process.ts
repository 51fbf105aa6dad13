// Runs the FreeSWITCH simulator in its own process for benchmarks, so the figures measure the
// client on one core while the simulator has the other. Controlled over IPC.
import { FreeSwitchSim } from '../test/support/freeswitch-sim/index.ts';

const sim = await FreeSwitchSim.start({ timeScale: Number(process.env.SIM_TIME_SCALE ?? '0.01') });
process.send?.({ type: 'ready', port: sim.port });
process.on('message', (msg: { type: string; count?: number; format?: 'json' | 'plain'; id?: number }) => {
  if (msg.type === 'flood') {
    void sim.floodEvents(msg.count ?? 0, { format: msg.format ?? 'json' }).then(() => process.send?.({ type: 'flooded', id: msg.id }));
  } else if (msg.type === 'close') {
    void sim.close().then(() => process.exit(0));
  }
});
