/**
 * StepTester: a plugin author's table of cases, run against the FreeSWITCH simulator — options
 * in, ESL commands and outcome out (like ESLint's RuleTester).
 *
 *   testStep('play', [
 *     { name: 'plays a file', options: 'welcome.wav', expect: { outcome: 'ok', commands: ['execute answer', /^execute playback .*welcome.wav$/] } },
 *     { name: 'typo in an option', options: { fiel: 'x.wav' }, error: 'SB_FLOW_BAD_OPTION' },
 *   ]);
 */
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import type { ErrorCode } from '../../core/errors.ts';
import { EslServer, type Call } from '../../core/esl/index.ts';
import { CallControl } from '../../core/flow/call-control.ts';
import { MediaServer } from '../../core/media/index.ts';
import { Metrics } from '../../core/metrics.ts';
import { createNovaClient } from '../../core/nova/index.ts';
import type { StepServices } from '../../core/plugins/types.ts';
import { AudioRuntime } from '../../core/audio/index.ts';
import { attachAudioStreams, type AudioStreams } from './audio-stream-wiring.ts';
import { NovaEmulator, type SessionInfo, type SessionScript } from './nova-emulator/index.ts';
import { compileFlow } from '../../core/flow/compile.ts';
import { formatDiagnostic } from '../../core/flow/diagnostics.ts';
import { runFlow, type FlowResult, type TimelineEntry } from '../../core/flow/runner.ts';
import { silentLogger } from '../../core/log.ts';
import { PluginHost } from '../../core/plugins/host.ts';
import type { StepResult } from '../../core/plugins/types.ts';
import { FreeSwitchSim, type SimChannel, type SimCommand } from './freeswitch-sim/index.ts';

export interface StepCase {
  name: string;
  /** The step's value in YAML: an options mapping, a shorthand scalar, or nothing. */
  options?: unknown;
  /** Or a whole flow (YAML), for cases that need several steps. */
  flow?: string;
  call?: { from?: string; to?: string; domain?: string; context?: string; vars?: Record<string, string> };
  /** Set up the simulator before the call (e.g. sim.onOriginate(() => ({ fail: 'USER_BUSY' }))). */
  before?: (sim: FreeSwitchSim) => void;
  /** Act as the caller while the flow runs (press keys, hang up). */
  caller?: (channel: SimChannel, sim: FreeSwitchSim) => Promise<void>;
  expect?: {
    outcome?: string;
    /** Fields of the step's result (toMatchObject). */
    result?: Record<string, unknown>;
    /** The call-control commands, in order: `execute <app> <arg>`, `hangup <cause>`, `api <line>`. */
    commands?: Array<string | RegExp>;
    /** Commands that must appear (in this order, others may be between). */
    includes?: Array<string | RegExp>;
    ending?: FlowResult['ending'];
  };
  /** A load-time error code instead of a run. */
  error?: ErrorCode;
}

export interface StepRun {
  result: FlowResult;
  step: StepResult | undefined;
  commands: string[];
  timeline: TimelineEntry[];
  channel: SimChannel;
}

/** Shared set-up: one simulator, one outbound server, the plugins; also usable without vitest tables. */
export class StepHarness {
  private pending: ((call: Call) => Promise<void>) | null = null;
  /** Commands to parked calls, as the REST API sends them. */
  readonly control = new CallControl();

  /** Metrics the steps report to (a fresh registry per harness). */
  readonly metrics = new Metrics({ defaults: false });
  /** With `nova: true`: the media server, the Nova Sonic emulator and simulated mod_audio_stream. */
  media: MediaServer | undefined;
  nova: NovaEmulator | undefined;
  audio: AudioStreams | undefined;
  private services: StepServices | undefined;
  /** With `audio: {}`: the converter steps get as services.audio (and the audio queue, with REDIS_URL in env; a worker with worker: true). */
  audioRuntime: AudioRuntime | undefined;

  private constructor(
    readonly sim: FreeSwitchSim,
    readonly server: EslServer,
    readonly host: PluginHost,
    readonly config: Config,
  ) {}

  static async start(options: { pluginDirs?: string[]; timeScale?: number; env?: Record<string, string>; nova?: { script?: SessionScript | ((s: SessionInfo) => SessionScript); timeScale?: number }; audio?: { worker?: boolean } } = {}): Promise<StepHarness> {
    const config = loadConfig({ ...process.env, SB_RECORDINGS_DIR: '/tmp/switchboard-test-recordings', ...options.env });
    const host = await PluginHost.load([...config.pluginDirs, ...(options.pluginDirs ?? [])]);
    if (host.problems.length > 0) throw new Error(`plugins failed to load: ${JSON.stringify(host.problems)}`);
    const sim = await FreeSwitchSim.start({ timeScale: options.timeScale ?? 0.005 });
    let harness: StepHarness | undefined = undefined;
    const server = new EslServer({ host: '127.0.0.1', port: 0, onCall: (call) => harness?.pending?.(call) });
    await server.start();
    harness = new StepHarness(sim, server, host, config);
    if (options.nova) {
      const h = harness;
      h.audio = attachAudioStreams(sim);
      h.media = new MediaServer({ host: '127.0.0.1', port: 0, secret: 'step-tester-secret-0123456789abcdef', logger: silentLogger });
      await h.media.start();
      h.nova = await NovaEmulator.start({ script: options.nova.script, timeScale: options.nova.timeScale ?? 1 });
      const client = createNovaClient({ endpoint: h.nova.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, logger: silentLogger });
      h.services = { media: h.media, tools: host.tools, nova: () => client, metrics: h.metrics };
    }
    if (options.audio) harness.audioRuntime = await AudioRuntime.start({ config, logger: silentLogger, worker: options.audio.worker ?? false });
    return harness;
  }

  /** Compiles `flow` (YAML) and runs it on one simulated inbound call. */
  async run(flowYaml: string, c: StepCase = { name: 'run' }, watch: { file?: string; onTimeline?: (e: TimelineEntry) => void; onCommand?: (text: string) => void } = {}): Promise<StepRun> {
    const { plan, diagnostics } = compileFlow(flowYaml, watch.file ?? 'step-tester.yaml', this.host);
    if (!plan) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
    c.before?.(this.sim);
    const timeline: TimelineEntry[] = [];
    const done = new Promise<FlowResult>((resolve, reject) => {
      this.pending = (call) =>
        runFlow(plan, call, {
          config: this.config,
          control: this.control,
          services: this.audioRuntime ? { media: undefined, tools: this.host.tools, nova: noNova, metrics: this.metrics, ...this.services, audio: this.audioRuntime } : this.services,
          logger: silentLogger,
          onTimeline: (e) => {
            timeline.push(e);
            watch.onTimeline?.(e);
          },
        }).then(resolve, reject);
    });
    const onCommand = (cmd: SimCommand): void => {
      const text = cmd.mode === 'outbound' ? describeCommand(cmd) : undefined;
      if (text) watch.onCommand?.(text);
    };
    if (watch.onCommand) this.sim.on('command', onCommand);
    const start = this.sim.received.length;
    const addr = this.server.address!;
    const channel = await this.sim.inboundCall({ to: c.call?.to ?? '7000', from: c.call?.from ?? '+15551234567', domain: c.call?.domain, context: c.call?.context, vars: c.call?.vars, socket: { host: '127.0.0.1', port: addr.port } });
    const acting = c.caller?.(channel, this.sim);
    const result = await done.finally(() => this.sim.off('command', onCommand));
    await acting;
    this.pending = null;
    const commands = this.sim.received.slice(start).filter((cmd) => cmd.channel === channel.uuid || cmd.line.includes(channel.uuid)).map(describeCommand).filter((x): x is string => x !== undefined);
    const first = plan.steps[plan.entry.steps ?? 0];
    return { result, step: first ? result.steps[first.id] : undefined, commands, timeline, channel };
  }

  async close(): Promise<void> {
    await this.audioRuntime?.close();
    this.audio?.detach();
    await this.server.close(100);
    await this.media?.close();
    this.services?.nova().destroy();
    await this.nova?.close();
    await this.sim.close();
  }
}

function noNova(): never {
  throw new Error('this StepHarness has no Nova Sonic emulator (start it with nova: {})');
}

/** Registers a vitest `describe` with one `it` per case. */
export function testStep(name: string, cases: StepCase[], options: { pluginDirs?: string[]; timeScale?: number; audio?: { worker?: boolean }; onHarness?: (h: StepHarness) => void } = {}): void {
  describe(`step ${name}`, () => {
    let harness: StepHarness;
    beforeAll(async () => {
      harness = await StepHarness.start(options);
      options.onHarness?.(harness);
    });
    afterAll(async () => {
      await harness?.close();
    });
    for (const c of cases) {
      it(c.name, async () => {
        const flow = c.flow ?? yaml.dump({ name: 'step-test', steps: [c.options === undefined ? name : { [name]: c.options }] }, { lineWidth: -1 });
        if (c.error) {
          const { plan, diagnostics } = compileFlow(flow, 'step-tester.yaml', harness.host);
          expect(plan).toBeUndefined();
          expect(diagnostics.map((d) => d.code)).toContain(c.error);
          return;
        }
        const run = await harness.run(flow, c);
        const e = c.expect ?? {};
        if (e.outcome !== undefined) expect(run.step?.outcome ?? 'ok').toBe(e.outcome);
        if (e.result) expect(run.step).toMatchObject(e.result);
        if (e.ending) expect(run.result.ending).toBe(e.ending);
        if (e.commands) expectCommands(run.commands, e.commands, true);
        if (e.includes) expectCommands(run.commands, e.includes, false);
      });
    }
  });
}

function expectCommands(actual: string[], expected: Array<string | RegExp>, exact: boolean): void {
  const matches = (a: string, e: string | RegExp): boolean => (typeof e === 'string' ? a === e : e.test(a));
  if (exact) {
    expect(actual.length, `commands were:\n${actual.join('\n')}`).toBe(expected.length);
    expected.forEach((e, i) => expect(matches(actual[i] as string, e), `command ${i}: ${actual[i]} vs ${String(e)}\nall:\n${actual.join('\n')}`).toBe(true));
    return;
  }
  let i = 0;
  for (const e of expected) {
    while (i < actual.length && !matches(actual[i] as string, e)) i++;
    expect(i < actual.length, `expected ${String(e)} (in order) among:\n${actual.join('\n')}`).toBe(true);
    i++;
  }
}

/** `execute <app> <arg>`, `hangup <cause>`, `api <line>`; handshake commands are left out. */
export function describeCommand(cmd: SimCommand): string | undefined {
  if (cmd.line === 'connect' || cmd.line.startsWith('myevents') || cmd.line === 'linger' || cmd.line === 'exit') return undefined;
  const callCommand = cmd.headers['call-command'];
  if (cmd.line.startsWith('sendmsg') && callCommand === 'execute') {
    const arg = cmd.body ?? cmd.headers['execute-app-arg'];
    return `execute ${cmd.headers['execute-app-name'] ?? '?'}${arg ? ` ${arg}` : ''}`;
  }
  if (cmd.line.startsWith('sendmsg') && callCommand === 'hangup') return `hangup ${cmd.headers['hangup-cause'] ?? ''}`.trim();
  return cmd.line;
}

/** Waits until `app` has started for the n-th time on the channel (1-based). */
export async function nthApp(channel: SimChannel, app: string, n: number, timeoutMs = 10_000): Promise<void> {
  const count = (): number => channel.executed.filter((e) => e.app === app).length;
  const deadline = Date.now() + timeoutMs;
  while (count() < n) {
    await channel.waitForApp(app, { since: channel.executed.length, timeoutMs: Math.max(1, deadline - Date.now()) });
    // The simulator wakes waiters just before it records the application.
    await new Promise<void>((r) => setImmediate(r));
  }
}

/** Caller script: once the call is bridged to another leg, that leg hangs up (so the bridge step returns). */
export function farEndHangsUp(timeoutMs = 10_000): NonNullable<StepCase['caller']> {
  return async (channel, sim) => {
    await channel.waitForApp('bridge', { timeoutMs });
    const deadline = Date.now() + timeoutMs;
    while (channel.bridgedTo === undefined && !channel.hungUp) {
      if (Date.now() > deadline) throw new Error('the call was never bridged');
      await new Promise<void>((r) => setTimeout(r, 2));
    }
    if (channel.bridgedTo !== undefined) await sim.channel(channel.bridgedTo)?.hangup('NORMAL_CLEARING');
  };
}

/** Caller script: the caller hangs up once `app` has started. */
export function callerHangsUpDuring(app: string): NonNullable<StepCase['caller']> {
  return async (channel) => {
    await channel.waitForApp(app);
    await channel.hangup('NORMAL_CLEARING');
  };
}
