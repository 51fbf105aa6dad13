import { Command } from 'commander';
import { loadConfig } from '../config.ts';
import type { TimelineEntry } from '../flow/runner.ts';
import { describeTimeline } from './timeline-format.ts';
import { createLogger } from '../log.ts';
import { Service } from '../service.ts';

const dim = (s: string): string => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function line(at: number, who: string, text: string): void {
  process.stdout.write(`${dim(`+${String(at).padStart(5)} ms`)}  ${who.padEnd(10)} ${text}\n`);
}

/**
 * The real service on its embedded defaults, against the bundled FreeSWITCH simulator: one
 * simulated call through the flows in flows/, its timeline printed as it happens.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run the service against the bundled FreeSWITCH simulator and place one call you can watch')
    .option('--to <number>', 'destination number dialled', '7000')
    .option('--from <number>', 'caller id number', '+15551234567')
    .option('--speed <factor>', 'play sounds faster than real time (2 = twice as fast)', '1')
    .action(async (opts: { to: string; from: string; speed: string }) => {
      const started = performance.now();
      const at = (): number => Math.round(performance.now() - started);
      // Loaded here, not at the top: only the demo needs the simulator.
      const { FreeSwitchSim } = await import('../../test/support/freeswitch-sim/index.ts');
      const sim = await FreeSwitchSim.start({ timeScale: 1 / Math.max(0.01, Number(opts.speed) || 1) });
      const config = loadConfig({ ...process.env, SB_ESL_HOST: sim.host, SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_LOG_LEVEL: process.env.SB_LOG_LEVEL ?? 'warn' });
      const service = new Service({
        config,
        logger: createLogger(config.logLevel, process.stderr),
        onTimeline: (_call, e: TimelineEntry) => line(at(), 'flow', e.kind.startsWith('flow') ? bold(describeTimeline(e)) : describeTimeline(e)),
      });
      await service.start();
      const http = service.http?.port;
      process.stdout.write(`${bold('Switchboard demo')}: FreeSWITCH simulator on ${sim.host}:${sim.port}, outbound socket ${service.outboundAddress.address}:${service.outboundAddress.port}${http ? `, health at http://127.0.0.1:${http}/health` : ''}\n`);
      process.stdout.write(`flows: ${service.flows.all().map((p) => `${p.name} (${p.file})`).join(', ')}\n\n`);
      sim.on('command', (cmd) => {
        if (cmd.mode !== 'outbound') return;
        const app = cmd.headers['execute-app-name'];
        const arg = cmd.body ?? cmd.headers['execute-app-arg'];
        const text = app ? `sendmsg execute ${app}${arg ? ` ${arg}` : ''}` : cmd.headers['call-command'] === 'hangup' ? `sendmsg hangup ${cmd.headers['hangup-cause'] ?? ''}` : cmd.line;
        line(at(), 'esl →', dim(text));
      });
      line(at(), 'caller', `${opts.from} dials ${opts.to}`);
      const channel = await sim.inboundCall({ to: opts.to, from: opts.from, callerName: 'Demo Caller', socket: { host: service.outboundAddress.address, port: service.outboundAddress.port } });
      await channel.waitForHangup({ timeoutMs: 120_000 });
      line(at(), 'caller', `call ended: ${channel.hangupCause ?? 'NORMAL_CLEARING'}`);
      await service.close();
      await sim.close();
      process.stdout.write(`\nDone. Run it for real with: npm start (see README: Configuration).\n`);
    });
}

