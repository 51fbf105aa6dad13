/**
 * npm run bench -- flows
 * Compile time of 1,000 flows, and the runner's per-call overhead — from the simulated
 * channel connecting to the outbound socket to the flow's first command arriving back — at 100
 * and 500 new calls per second. The simulator runs in its own process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { compileFlow } from '../core/flow/compile.ts';
import { flowFiles, loadFlows } from '../core/flow/registry.ts';
import { silentLogger } from '../core/log.ts';
import { PluginHost } from '../core/plugins/host.ts';
import { Service } from '../core/service.ts';
import { percentile, printTable } from './report.ts';
import { SimChild } from './sim-child.ts';

const FLOWS = 1000;
const config0 = loadConfig();
const host = await PluginHost.load(config0.pluginDirs);

function flowText(i: number): string {
  return `name: flow-${i}
match: { destination: ["${7000 + i}", "+1555${String(i).padStart(4, '0')}*"] }
vars: { greeting: welcome.wav, dept: "${i % 7}" }
steps:
  - answer
  - greet: "\${vars.greeting}"
  - id: menu
    gather: { prompt: menu.wav, max_digits: 1, pattern: "^[1-3]$", tries: 3, invalid_prompt: invalid.wav }
    on: { timeout: operator, invalid: operator }
  - branch:
      cases:
        - if: { value: "\${steps.menu.digits}", equals: "1" }
          goto: sales
        - if: { time: "09:00-17:00", days: mon-fri, timezone: Europe/Berlin }
          goto: support
      else: voicemail
  - id: sales
    transfer: { to: "2001", mode: attended, timeout: 20 }
    on: { busy: voicemail, no_answer: voicemail, failed: voicemail }
  - hangup
  - id: support
    bridge: { to: [user/1001, user/1002], timeout: 20 }
    on: { no_answer: voicemail, busy: voicemail, failed: voicemail }
  - hangup
  - id: voicemail
    record: "vm/\${call.uuid}.wav"
  - hangup
  - id: operator
    transfer: "1000"
on_error:
  - play: sorry.wav
  - hangup: NORMAL_TEMPORARY_FAILURE
`;
}

// 1. Compile 1,000 flows from disk, as `switchboard validate` and a reload do.
const dir = mkdtempSync(join(tmpdir(), 'sb-bench-flows-'));
for (let i = 0; i < FLOWS; i++) writeFileSync(join(dir, `flow-${i}.yaml`), flowText(i));
for (let i = 0; i < 50; i++) compileFlow(flowText(i), 'warm.yaml', host);
const compileRuns: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  const result = loadFlows(flowFiles([dir]), host, dir);
  compileRuns.push(performance.now() - t0);
  if (!result.ok || result.plans.length !== FLOWS) throw new Error(`bench flows did not compile: ${result.diagnostics[0]?.message}`);
}
rmSync(dir, { recursive: true, force: true });
const compileMs = Math.round(Math.min(...compileRuns));

// 2. Runner overhead under load: Switchboard's own time from the answered handshake (connect,
// myevents, linger) to the flow's first command, read from each call's timing marks. The
// end-to-end figure (as the simulator sees it, including its own reply time) is printed beside it.
const flowsDir = mkdtempSync(join(tmpdir(), 'sb-bench-run-'));
writeFileSync(join(flowsDir, 'load.yaml'), 'name: load\ndefault: true\nsteps:\n  - answer\n  - hangup\n');
const sim = await SimChild.start();
const config = loadConfig({ ...process.env, SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_FLOWS_DIR: flowsDir, SB_LOG_LEVEL: 'silent' });
let overhead: number[] = [];
const service = new Service({
  config,
  logger: silentLogger,
  http: false,
  media: false,
  onFlowEnd: (call) => {
    if (call.timing.firstCommand !== undefined) overhead.push(call.timing.firstCommand - call.timing.ready);
  },
});
await service.start();
const runner: Record<string, { p50: number; p99: number; e2e_p50: number; e2e_p99: number; calls: number; cpuPerCallMs: number }> = {};
try {
  for (const cps of [100, 500]) {
    const seconds = Number(process.env.BENCH_SECONDS ?? 5);
    await sim.calls({ cps, count: Math.min(cps, 100), port: service.outboundAddress.port }); // warm-up
    overhead = [];
    const cpu0 = process.cpuUsage();
    const e2e = await sim.calls({ cps, count: cps * seconds, port: service.outboundAddress.port });
    const cpu = process.cpuUsage(cpu0);
    runner[cps] = {
      p50: round(percentile(overhead, 50)),
      p99: round(percentile(overhead, 99)),
      e2e_p50: round(percentile(e2e, 50)),
      e2e_p99: round(percentile(e2e, 99)),
      calls: overhead.length,
      cpuPerCallMs: round((cpu.user + cpu.system) / 1000 / overhead.length),
    };
  }
} finally {
  await service.close();
  await sim.close();
  rmSync(flowsDir, { recursive: true, force: true });
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

printTable('Flows', [
  [`compile ${FLOWS} flows from disk (ms, best of 5; target ≤ 1000)`, String(compileMs)],
  ...Object.entries(runner).flatMap(([cps, r]) => [
    [`runner overhead at ${cps} CPS, p50 / p99 (ms; target p99 ≤ 2 at 100)`, `${r.p50} / ${r.p99}  (${r.calls} calls, ${r.cpuPerCallMs} ms CPU per call)`],
    [`  connect → first command seen by the simulator, p50 / p99`, `${r.e2e_p50} / ${r.e2e_p99}`],
  ] as Array<[string, string]>),
]);
console.log(JSON.stringify({ bench: 'flows', compile_1000_ms: compileMs, runner_p99_ms: { 100: runner[100]?.p99, 500: runner[500]?.p99 } }));
