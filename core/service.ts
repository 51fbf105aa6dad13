import type { AddressInfo } from 'node:net';
import { configWarnings, type Config } from './config.ts';
import { SwitchboardError } from './errors.ts';
import { EslClient, EslServer, type Call } from './esl/index.ts';
import { CallControl } from './flow/call-control.ts';
import { FlowRegistry, type LoadResult } from './flow/registry.ts';
import { runFlow, type FlowResult, type TimelineEntry } from './flow/runner.ts';
import type { Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { PluginHost } from './plugins/host.ts';
import { randomBytes } from 'node:crypto';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { HttpServer } from './api/http.ts';
import { MediaServer } from './media/index.ts';
import { createNovaClient } from './nova/index.ts';
import { BatchQueue, BatchWorker, CallQueue, CallWorker, allListeners } from './queue/index.ts';
import { CallWebhooks, WebhookWorker } from './webhooks/index.ts';
import { MemoryCallHistory } from './history/call-history.ts';
import { CallJournal } from './history/call-journal.ts';
import { RedisCallHistory } from './history/redis-call-history.ts';
import type { StepServices } from './plugins/types.ts';
import { AudioRuntime } from './audio/index.ts';

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Every timeline entry of every call (demo and simulate print them). */
  onTimeline?: (call: Call, entry: TimelineEntry) => void;
  onFlowEnd?: (call: Call, result: FlowResult) => void;
  /** Start the HTTP server (health, metrics). */
  http?: boolean;
  /** Start the media (mod_audio_stream) websocket server; default true. */
  media?: boolean;
}

/**
 * The running Switchboard: plugins and flows loaded, the inbound event socket connected, the
 * outbound socket server accepting calls, HTTP for health and metrics. start() in that order,
 * close() in reverse.
 */
export class Service {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Commands from applications to calls waiting for them (park). */
  readonly control = new CallControl();
  plugins!: PluginHost;
  flows!: FlowRegistry;
  esl!: EslClient;
  server!: EslServer;
  http: HttpServer | undefined;
  media: MediaServer | undefined;
  /** With REDIS_URL: outbound calls are queued (queue) and dialled by this instance too (worker). */
  queue: CallQueue | undefined;
  worker: CallWorker | undefined;
  /** With REDIS_URL: batches (campaigns) accepted here (batches) and expanded into call jobs by this instance too (batchWorker). */
  batches: BatchQueue | undefined;
  batchWorker: BatchWorker | undefined;
  /** With REDIS_URL: status webhooks of outbound calls, queued (callWebhooks) and delivered by this instance too (webhookWorker). */
  callWebhooks: CallWebhooks | undefined;
  webhookWorker: WebhookWorker | undefined;
  /** Calls in progress (flow, timeline) and finished ones (history: Redis with REDIS_URL, else memory). */
  calls!: CallJournal;
  /** Audio conversion: inline for flows; with REDIS_URL queued, and converted here too unless SB_WORKER_QUEUES leaves audio out. */
  audio: AudioRuntime | undefined;
  private novaClient: BedrockRuntimeClient | undefined;
  private services!: StepServices;
  private outbound: AddressInfo | undefined;

  constructor(private readonly options: ServiceOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.metrics = options.metrics ?? new Metrics();
  }

  get outboundAddress(): AddressInfo {
    if (!this.outbound) throw new Error('service not started');
    return this.outbound;
  }

  async start(): Promise<void> {
    for (const w of configWarnings(this.config)) this.log.warn(w);
    this.plugins = await PluginHost.load(this.config.pluginDirs);
    for (const p of this.plugins.problems) this.log.error({ code: p.code, source: p.source }, `plugin skipped: ${p.message}`);
    this.flows = new FlowRegistry([this.config.flowsDir], this.plugins, this.log);
    const loaded = this.flows.reload();
    if (!loaded.ok) throw new SwitchboardError('SB_CONFIG_INVALID', [`flows in ${this.config.flowsDir} have errors (run: switchboard validate)`]);
    this.flows.watch((r) => this.metrics.flowReloads.inc({ result: r.ok ? 'ok' : 'rejected' }));

    this.esl = new EslClient({ ...this.config.esl, logger: this.log, timeoutMs: this.config.esl.commandTimeoutMs, reconnect: { maxMs: this.config.esl.reconnectMaxMs } });
    this.esl.on('connected', () => this.metrics.eslConnected.set(1));
    this.esl.on('disconnected', () => this.metrics.eslConnected.set(0));
    await this.esl.start();
    this.esl.on('connected', () => this.metrics.eslReconnects.inc());

    if (this.options.media !== false) {
      const m = this.config.media;
      this.media = new MediaServer({ host: m.host, port: m.port, publicUrl: m.publicUrl, secret: m.secret ?? randomBytes(32), logger: this.log });
      await this.media.start();
    }
    this.audio = await AudioRuntime.start({ config: this.config, logger: this.log, metrics: this.metrics, worker: this.config.workerQueues?.includes('audio') ?? true });
    this.services = {
      audio: this.audio,
      media: this.media,
      tools: this.plugins.tools,
      metrics: this.metrics,
      nova: () => (this.novaClient ??= createNovaClient({ region: this.config.nova.region, endpoint: this.config.nova.endpoint, logger: this.log })),
    };

    const h = this.config.callHistory;
    this.calls = new CallJournal(
      this.config.redisUrl ? new RedisCallHistory({ url: this.config.redisUrl, prefix: this.config.queue.prefix, max: h.max, retentionSec: h.retentionSec, logger: this.log }) : new MemoryCallHistory(h.max),
    );
    this.server = new EslServer({ ...this.config.outbound, logger: this.log, onCall: (call) => this.handleCall(call) });
    this.outbound = await this.server.start();

    if (this.config.redisUrl) {
      const q = this.config.queue;
      const wh = this.config.webhooks;
      this.callWebhooks = new CallWebhooks({ connection: this.config.redisUrl, prefix: q.prefix, logger: this.log, metrics: this.metrics, attempts: wh.attempts, backoffMs: wh.backoffMs });
      this.webhookWorker = new WebhookWorker({ connection: this.config.redisUrl, prefix: q.prefix, logger: this.log, metrics: this.metrics, secrets: wh.secrets, timeoutMs: wh.timeoutMs, concurrency: wh.concurrency });
      await this.webhookWorker.start();
      // Each job's status changes: into the call history (jobs that never connected) and to its webhook.
      const onEvent = allListeners(this.calls.onJobEvent, this.callWebhooks.listener);
      this.queue = new CallQueue({ connection: this.config.redisUrl, prefix: q.prefix, logger: this.log, onEvent });
      this.worker = new CallWorker({
        connection: this.config.redisUrl,
        prefix: q.prefix,
        esl: this.esl,
        // Where FreeSWITCH connects back: the configured address, with the port actually bound.
        outbound: { host: this.config.outbound.host, port: this.outbound.port },
        logger: this.log,
        metrics: this.metrics,
        pacing: { cps: q.cps, maxConcurrent: q.maxConcurrent, perGateway: q.perGateway },
        defaultGateway: q.defaultGateway,
        onEvent,
      });
      await this.worker.start();
      this.batches = new BatchQueue({ connection: this.config.redisUrl, prefix: q.prefix, logger: this.log, maxRows: this.config.batch.maxRows });
      this.batchWorker = new BatchWorker({ connection: this.config.redisUrl, prefix: q.prefix, logger: this.log, onEvent });
      await this.batchWorker.start();
    }

    if (this.options.http !== false) {
      this.http = new HttpServer({ service: this, logger: this.log });
      await this.http.start(this.config.http.host, this.config.http.port);
    }
  }

  /** Recompiles the flows (SIGHUP, `switchboard reload`). */
  reload(): LoadResult {
    const r = this.flows.reload();
    this.metrics.flowReloads.inc({ result: r.ok ? 'ok' : 'rejected' });
    return r;
  }

  /**
   * Closes every part, in reverse order of start. A part that fails to close (Redis gone, say) is
   * logged and the rest are still closed; close() then rejects naming the parts that failed.
   */
  async close(): Promise<void> {
    const parts: Array<[string, () => unknown]> = [
      ['http', () => this.http?.close()],
      ['audio', () => this.audio?.close()],
      ['batch worker', () => this.batchWorker?.close()],
      ['batches', () => this.batches?.close()],
      ['call worker', () => this.worker?.close()],
      ['call queue', () => this.queue?.close()],
      // After the calls: their flows' last step events still go out.
      ['call server', () => this.server?.close()],
      ['call webhooks', () => this.callWebhooks?.close()],
      ['webhook worker', () => this.webhookWorker?.close()],
      ['call history', () => this.calls?.close()],
      ['media', () => this.media?.close()],
      ['nova client', () => this.novaClient?.destroy()],
      ['event socket', () => this.esl?.close()],
      ['flows', () => this.flows?.close()],
    ];
    const failed: string[] = [];
    for (const [name, close] of parts) {
      try {
        await close();
      } catch (err) {
        failed.push(name);
        this.log.warn({ part: name, err: (err as Error).message }, 'could not close cleanly; closing the rest');
      }
    }
    if (failed.length > 0) throw new Error(`could not close cleanly: ${failed.join(', ')}`);
  }

  private async handleCall(call: Call): Promise<void> {
    // Only a leg Switchboard originated picks its flow by name (sb_flow, set by the queue worker).
    const byName = call.data.direction === 'outbound' ? call.data.variables.sb_flow : undefined;
    const plan = byName !== undefined ? this.flows.get(byName) : this.flows.route(call.data);
    const journal = this.calls.begin(call, plan?.name);
    if (!plan) {
      call.log.warn({ to: call.data.destination, context: call.data.context, flow: byName }, 'no flow for this call; hanging up');
      this.metrics.callsTotal.inc({ state: 'unrouted' });
      await call.hangup('NO_ROUTE_DESTINATION').finally(() => journal.end(undefined));
      return;
    }
    this.metrics.callsTotal.inc({ state: 'started' });
    this.metrics.callsActive.inc();
    let result: FlowResult | undefined;
    // A queue call whose job asked for step events reports each finished step to its webhook.
    const steps = byName !== undefined ? this.callWebhooks?.steps(call.id, call.data.variables) : undefined;
    try {
      result = await runFlow(plan, call, {
        config: this.config,
        control: this.control,
        services: this.services,
        logger: this.log,
        onTimeline: (e) => {
          journal.note(e);
          steps?.(e);
          this.options.onTimeline?.(call, e);
        },
        onStepDone: (step, seconds, outcome) => this.metrics.stepDuration.observe({ step, outcome }, seconds),
      });
      this.metrics.callsTotal.inc({ state: result.ending });
      if (call.timing.firstCommand !== undefined) this.metrics.callSetup.observe((call.timing.firstCommand - call.timing.ready) / 1000);
      this.options.onFlowEnd?.(call, result);
    } finally {
      this.metrics.callsActive.dec();
      await journal.end(result);
    }
  }
}
