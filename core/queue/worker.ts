import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { isSwitchboardError } from '../errors.ts';
import type { EslClient, OriginateResult } from '../esl/client.ts';
import type { Endpoint } from '../esl/dial-string.ts';
import type { EslEvent } from '../esl/event.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { CALL_EVENTS, VAR_ATTEMPT, VAR_FLOW, VAR_JOB, VAR_QUEUE, callSignal } from './call-events.ts';
import { DEFAULT_RETENTION_SEC, DEFAULT_RETRY_ON, backoffMs, type CallJobData, type CallOutcome } from './job-data.ts';
import { notify, type CallJobEvent, type CallJobListener, type CallJobEventType } from './job-events.ts';
import { PACING_SCRIPTS, Pacer, checkPacing, type PacingOptions } from './pacing.ts';
import { queueMetrics, type QueueMetrics } from './queue-metrics.ts';
import { CALL_QUEUE_NAME, DEFAULT_PREFIX, ScriptClient, checkPrefix, connectionOptions, type QueueConnection } from './redis.ts';
import { BATCH_SCRIPTS, BatchStore } from './batch-store.ts';
import { CallStore, STORE_SCRIPTS, leaseMember, type AttemptEnd, type CallRecord, type CallState, type TimelineEntry } from './store.ts';
import { Turns } from './turns.ts';
import { jobEndpoint } from './validate.ts';
import { earliestStart } from './window.ts';

export interface CallWorkerTiming {
  /** BullMQ job lock; a dead worker's jobs are recovered after about this long. Default 30 000. */
  lockDurationMs?: number;
  /** How often BullMQ looks for stalled jobs. Default 30 000. */
  stalledIntervalMs?: number;
  /** A pacing slot not renewed for this long is free again (crashed worker). Default 60 000. */
  leaseMs?: number;
  /** While a call is in progress, how often `uuid_exists` double-checks a hangup event was not missed. Default 15 000. */
  hangupPollMs?: number;
  /** Added to the 1 s rate window, for jitter between the decision and FreeSWITCH receiving the originate. Default 40. */
  rateMarginMs?: number;
  /** A recovered job whose call is not found waits this long for a late event before concluding. Default 3000. */
  recoveryGraceMs?: number;
  /** How long a job waits in hand for a saturated gateway before going back to the queue (so other gateways' jobs can run). Default 10 000. */
  gatewayWaitMs?: number;
  /** A call of a paused batch is put aside this long, then looks again (resume releases it at once; this is the safety net). Default 300 000. */
  batchHoldMs?: number;
}

export interface CallWorkerOptions {
  connection: QueueConnection;
  prefix?: string;
  /** The inbound event socket: originate, uuid_exists, and the events that tell how calls end. */
  esl: EslClient;
  /** Where originated calls connect back (the service's outbound socket server). */
  outbound: { host: string; port: number };
  logger: Logger;
  metrics?: Metrics;
  pacing: PacingOptions;
  /** Jobs in hand at once: calls in progress plus calls waiting for a pacing slot. Default pacing.maxConcurrent + max(2, ⌈cps⌉). */
  concurrency?: number;
  /** Shown in records and logs. Default `<hostname>:<pid>`. */
  name?: string;
  /** Gateway for bare numbers of jobs without one (otherwise they dial `user/<number>`). */
  defaultGateway?: string;
  /** Domain for `user/<number>` endpoints. */
  domain?: string;
  retentionSec?: number;
  timing?: CallWorkerTiming;
  /** Told about each status change this worker records, and about ringing (webhooks: core/webhooks). */
  onEvent?: CallJobListener;
}

/** Thrown inside the state machine to leave the processor after the job was moved to delayed. */
class Delayed extends DelayedError {}

/**
 * The first of: `p` settling, `ms` passing, `signal` aborting; the timer and the listener are
 * removed whichever wins (a worker runs for months: nothing may pile up on its close signal).
 */
async function firstOf<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<{ value: T } | 'timeout' | 'aborted'> {
  if (signal.aborted) return 'aborted';
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<{ value: T } | 'timeout' | 'aborted'>((resolve, reject) => {
      if (Number.isFinite(ms)) timer = setTimeout(() => resolve('timeout'), ms);
      onAbort = () => resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      p.then((value) => resolve({ value }), reject);
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

interface Watch {
  callId: string;
  attempt: number;
  answeredAt: number | undefined;
  end: AttemptEnd | undefined;
  ended: Promise<AttemptEnd>;
  settle(end: AttemptEnd): void;
  onAnswer: (() => void) | undefined;
  /** Called on the attempt's first CHANNEL_PROGRESS / _MEDIA (set by the run that dials it). */
  onRinging: (() => void) | undefined;
  rang: boolean;
}

interface Ctx {
  job: Job<CallJobData, CallOutcome>;
  token: string | undefined;
  jobId: string;
  callId: string;
  log: Logger;
  /** The watch this run set up before its own originate (absent: the job came from elsewhere). */
  watch: Watch | undefined;
  recoveredNoted: boolean;
  gateway: string;
  endpoint: Endpoint;
}

const ENDED_STATES: readonly CallState[] = ['dialing', 'answered'];

/**
 * The consumer side: takes call jobs from BullMQ and dials them through FreeSWITCH, paced per
 * gateway across every worker through Redis, and never dials a job's call twice. Each job is a
 * small state machine over its Redis record (queued → dialing → answered → completed, with
 * retrying / failed / cancelled); every step re-reads the record, so a job recovered after a
 * crash, a stall or a hand-back continues where the record says, checking `uuid_exists` instead
 * of dialling again.
 */
export class CallWorker {
  readonly name: string;
  readonly prefix: string;
  private readonly log: Logger;
  private readonly redis: ScriptClient;
  private readonly store: CallStore;
  /** Pause and cancel of the batches jobs were made from. */
  private readonly batches: BatchStore;
  private readonly pacer: Pacer;
  private readonly metrics: QueueMetrics | undefined;
  private readonly timing: Required<CallWorkerTiming>;
  private readonly concurrency: number;
  private worker: Worker<CallJobData, CallOutcome, string> | undefined;
  private running: Promise<void> | undefined;
  private readonly watches = new Map<string, Watch>();
  private readonly slotWaiters = new Set<() => void>();
  private readonly turns = new Turns();
  /** Event records on their way to Redis (awaited before the connection closes). */
  private readonly recordings = new Set<Promise<void>>();
  private readonly closeCtl = new AbortController();
  private dropDepthSource: (() => void) | undefined;
  /** Only to read the depth gauge (the worker itself adds no job). */
  private depthQueue: Queue | undefined;
  private closed = false;
  private readonly onEvent = (ev: EslEvent): void => this.handleEvent(ev);

  constructor(private readonly options: CallWorkerOptions) {
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    checkPacing(options.pacing);
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    this.log = options.logger.child({ component: 'call-worker', worker: this.name });
    const t = options.timing ?? {};
    this.timing = {
      lockDurationMs: t.lockDurationMs ?? 30_000,
      stalledIntervalMs: t.stalledIntervalMs ?? 30_000,
      leaseMs: t.leaseMs ?? 60_000,
      hangupPollMs: t.hangupPollMs ?? 15_000,
      rateMarginMs: t.rateMarginMs ?? 40,
      recoveryGraceMs: t.recoveryGraceMs ?? 3000,
      gatewayWaitMs: t.gatewayWaitMs ?? 10_000,
      batchHoldMs: t.batchHoldMs ?? 300_000,
    };
    this.concurrency = options.concurrency ?? options.pacing.maxConcurrent + Math.max(2, Math.ceil(options.pacing.cps));
    this.redis = new ScriptClient(options.connection, [...STORE_SCRIPTS, ...PACING_SCRIPTS, ...BATCH_SCRIPTS], 'worker');
    this.batches = new BatchStore(this.redis, this.prefix);
    this.store = new CallStore(this.redis, this.prefix, (options.retentionSec ?? DEFAULT_RETENTION_SEC) + 24 * 3600);
    this.pacer = new Pacer(this.redis, this.prefix, options.pacing, 1000 + this.timing.rateMarginMs, this.timing.leaseMs);
    // Every job in hand waiting for a pacing slot listens for close: hundreds at once is normal.
    setMaxListeners(0, this.closeCtl.signal);
    this.metrics = options.metrics ? queueMetrics(options.metrics) : undefined;
  }

  /** Subscribes to the call events, then starts taking jobs. */
  async start(): Promise<void> {
    if (this.worker) return;
    await this.redis.client();
    this.options.esl.on('event', this.onEvent);
    await this.options.esl.subscribe(...CALL_EVENTS);
    const worker = new Worker<CallJobData, CallOutcome, string>(CALL_QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: connectionOptions(this.options.connection, 'worker'),
      prefix: this.prefix,
      concurrency: this.concurrency,
      autorun: false,
      name: this.name,
      lockDuration: this.timing.lockDurationMs,
      stalledInterval: this.timing.stalledIntervalMs,
      // Rerunning a stalled job is safe (it never dials twice), so let it be recovered often.
      maxStalledCount: 10,
    });
    worker.on('error', (err) => this.log.warn({ err: err.message }, 'call worker: BullMQ error'));
    worker.on('failed', (job, err) => this.log.info({ jobId: job?.id, cause: err.message }, 'call job failed'));
    this.worker = worker;
    this.running = worker.run().catch((err: Error) => this.log.error({ err: err.message }, 'call worker stopped on an error'));
    await worker.waitUntilReady();
    if (this.metrics) {
      const queue = new Queue(CALL_QUEUE_NAME, { connection: connectionOptions(this.options.connection, 'producer'), prefix: this.prefix });
      queue.on('error', () => {});
      this.depthQueue = queue;
      this.dropDepthSource = this.metrics.addDepthSource(CALL_QUEUE_NAME, () => queue.getJobCountByTypes('wait', 'delayed', 'prioritized'));
    }
    this.log.info({ concurrency: this.concurrency, pacing: this.options.pacing }, 'call worker started');
  }

  /**
   * Graceful: takes no new job; a job waiting for a pacing slot, a ringing call or a call in
   * progress is handed back (moved to delayed, state kept) for another worker to follow, a job
   * in the middle of a Redis step finishes it. Calls themselves are not touched.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeCtl.abort();
    for (const wake of this.slotWaiters) wake();
    await this.worker?.close();
    await this.running;
    // Events are recorded until here: a hangup during the shutdown is not lost.
    this.options.esl.off('event', this.onEvent);
    await Promise.all(this.recordings);
    this.dropDepthSource?.();
    await this.depthQueue?.close();
    await this.redis.close();
  }

  /** Calls in progress across all workers (live pacing leases), overall or for one gateway. */
  inProgress(gateway?: string): Promise<number> {
    return this.pacer.inProgress(gateway);
  }

  // --- events ---------------------------------------------------------------------------------

  private handleEvent(ev: EslEvent): void {
    const sig = callSignal(ev, this.prefix);
    if (!sig) return;
    const watch = this.watches.get(sig.callId);
    if (sig.ringing) {
      // Ringing changes nothing in the record: only the run that dialled the call reports it.
      if (watch && watch.attempt === sig.attempt && !watch.rang) {
        watch.rang = true;
        watch.onRinging?.();
      }
      return;
    }
    if (watch && watch.attempt === sig.attempt) {
      if (sig.answered && watch.answeredAt === undefined) {
        watch.answeredAt = sig.at;
        watch.onAnswer?.();
      }
      if (sig.cause !== undefined) watch.settle({ cause: sig.cause, answered: sig.answered ?? false, at: sig.at, source: sig.source });
    }
    if (sig.cause !== undefined) for (const wake of this.slotWaiters) wake();
    // Every worker records what it hears, so the outcome of a dead worker's call is not lost.
    const end = sig.cause !== undefined ? { cause: sig.cause, answered: sig.answered ?? false, at: sig.at, source: sig.source } : undefined;
    const recording = this.store
      .signal(sig.jobId, sig.callId, sig.attempt, { answeredAt: sig.answered ? sig.at : undefined, end })
      .then(
        () => {},
        (err: Error) => this.log.warn({ err: err.message, jobId: sig.jobId }, 'could not record a call event'),
      )
      .finally(() => this.recordings.delete(recording));
    this.recordings.add(recording);
  }

  private watch(callId: string, attempt: number): Watch {
    const existing = this.watches.get(callId);
    if (existing && existing.attempt === attempt) return existing;
    let settle: (end: AttemptEnd) => void = () => {};
    const ended = new Promise<AttemptEnd>((resolve) => (settle = resolve));
    const w: Watch = {
      callId,
      attempt,
      answeredAt: undefined,
      end: undefined,
      ended,
      settle: (end) => {
        if (w.end) return;
        w.end = end;
        settle(end);
      },
      onAnswer: undefined,
      onRinging: undefined,
      rang: false,
    };
    this.watches.set(callId, w);
    return w;
  }

  // --- the state machine ----------------------------------------------------------------------

  private async process(job: Job<CallJobData, CallOutcome>, token: string | undefined): Promise<CallOutcome> {
    const jobId = job.id as string;
    const { callId } = job.data;
    const log = this.log.child({ jobId, callId });
    let endpoint: Endpoint;
    try {
      endpoint = jobEndpoint(job.data.job, this.endpointDefaults());
    } catch (err) {
      const cause = 'SB_QUEUE_BAD_JOB';
      const r = await this.store.transition(jobId, { states: ['queued', 'retrying'] }, 'failed', { cause }, this.entry('failed', { cause, note: (err as Error).message }));
      if (r.ok) await notify(this.options.onEvent, { type: 'failed', at: Date.now(), jobId, callId, attempt: 0, maxAttempts: job.data.job.attempts ?? 1, cause, job: job.data.job }, log);
      throw new UnrecoverableError(cause);
    }
    const ctx: Ctx = { job, token, jobId, callId, log, watch: undefined, recoveredNoted: false, gateway: endpoint.kind === 'gateway' ? endpoint.gateway : '', endpoint };
    try {
      for (let step = 0; step < 100; step++) {
        const rec = await this.store.read(jobId);
        if (!rec) {
          // Past the record's retention, or a producer that died before writing it: start it afresh.
          await this.store.create(
            { jobId, callId, fingerprint: '', job: job.data.job, maxAttempts: job.data.job.attempts ?? 1, gateway: ctx.gateway, nextAt: undefined },
            this.entry('queued', { note: 'record missing: rebuilt from the BullMQ job' }),
          );
          continue;
        }
        if (rec.callId !== callId) ctx.callId = rec.callId;
        switch (rec.state) {
          case 'completed':
          case 'cancelled':
            return { state: rec.state, cause: rec.cause, attempts: rec.attempt, callId: rec.callId };
          case 'failed':
            throw new UnrecoverableError(rec.cause ?? 'FAILED');
          case 'queued':
          case 'retrying':
            await this.dialStep(ctx, rec);
            break;
          case 'dialing':
          case 'answered':
            await this.followStep(ctx, rec);
            break;
        }
      }
      throw new Error(`call job ${jobId} did not settle`);
    } finally {
      this.watches.delete(ctx.callId);
    }
  }

  private endpointDefaults(): { gateway?: string; domain?: string } {
    return { ...(this.options.defaultGateway !== undefined ? { gateway: this.options.defaultGateway } : {}), ...(this.options.domain !== undefined ? { domain: this.options.domain } : {}) };
  }

  private entry(state: CallState, extra: Omit<TimelineEntry, 'at' | 'state'> = {}): TimelineEntry {
    return { at: new Date().toISOString(), state, worker: this.name, ...extra };
  }

  /** queued / retrying: wait until due, take a pacing slot, claim the attempt, dial. */
  private async dialStep(ctx: Ctx, rec: CallRecord): Promise<void> {
    if (rec.cancelRequested) {
      await this.cancelled(ctx, rec);
      return;
    }
    const batch = ctx.job.data.batch;
    if (batch !== undefined) {
      // Before a pacing slot is taken: a paused batch's calls must not use up the rate.
      const gate = await this.batches.gate(batch.id, ctx.jobId);
      if (gate === 'cancelled') return this.cancelled(ctx, rec);
      if (gate === 'held') await this.holdForBatch(ctx, rec, batch.id);
    }
    const now = Date.now();
    const due = earliestStart(rec.job, Math.max(now, rec.state === 'retrying' ? (rec.nextAt ?? now) : now));
    if (due > now + 20) {
      const note = rec.state === 'retrying' && (rec.nextAt ?? 0) >= due ? 'waiting to retry' : rec.job.window !== undefined ? 'waiting for the calling window' : 'waiting for notBefore';
      await this.delay(ctx, rec, due, note);
    }
    if (this.closeCtl.signal.aborted) await this.handBack(ctx, rec, false);
    if (!this.options.esl.connected) await this.delay(ctx, rec, now + 2000, 'waiting for FreeSWITCH (event socket down)');
    if (rec.attempt > 0) {
      // Every attempt uses the job's one uuid: the previous attempt's channel must be gone.
      const exists = await this.uuidExists(ctx.callId);
      if (exists !== false) await this.delay(ctx, rec, now + 1000, exists ? 'previous attempt still on the line' : 'waiting for FreeSWITCH (uuid_exists failed)');
    }
    const attempt = rec.attempt + 1;
    const member = leaseMember(ctx.callId, attempt);
    if (!(await this.acquireSlot(ctx, rec, member))) return;
    // The window may have closed while waiting for a slot.
    if (earliestStart(rec.job, Date.now()) > Date.now() + 20) {
      await this.releaseSlot(ctx.gateway, member);
      return;
    }
    if (this.closeCtl.signal.aborted) {
      await this.releaseSlot(ctx.gateway, member);
      await this.handBack(ctx, rec, false);
    }
    // From here to the originate there is no await but this one: the window in which a crash
    // leaves "dialing" with nothing sent is one Redis round trip (see README: never dial twice).
    const claim = await this.store.claim(ctx.jobId, attempt, this.name, ctx.gateway, this.entry('dialing', { attempt }));
    if (claim !== 'claimed') {
      await this.releaseSlot(ctx.gateway, member);
      if (claim === 'cancel') await this.cancelled(ctx, rec);
      // Paused while this job waited for its slot (the claim is the exact gate).
      if (claim === 'held' && batch !== undefined) await this.holdForBatch(ctx, rec, batch.id);
      return;
    }
    await this.dial(ctx, rec, attempt, member);
  }

  /** Waits in hand for a pacing slot; false when the loop should re-read the record. */
  private async acquireSlot(ctx: Ctx, rec: CallRecord, member: string): Promise<boolean> {
    const started = Date.now();
    const ownLimits = this.pacer.gatewayLimit(ctx.gateway) !== undefined;
    // The bucket that makes this job wait: its gateway's when it has limits, else all calls.
    const turn = ownLimits ? `gw:${ctx.gateway}` : 'all';
    for (;;) {
      if (this.closeCtl.signal.aborted) await this.handBack(ctx, rec, false);
      const waitLeft = ownLimits ? this.timing.gatewayWaitMs - (Date.now() - started) : Number.POSITIVE_INFINITY;
      if (!(await this.turns.take(turn, waitLeft, this.closeCtl.signal))) {
        if (this.closeCtl.signal.aborted) continue;
        await this.delay(ctx, rec, Date.now() + 1000, `waiting for gateway ${ctx.gateway} (pacing)`);
      }
      try {
        for (;;) {
          if (this.closeCtl.signal.aborted) await this.handBack(ctx, rec, false);
          const r = await this.pacer.acquire(ctx.gateway, member);
          if (r.ok) return true;
          if (r.bucket === 'gateway' && Date.now() - started > this.timing.gatewayWaitMs) {
            await this.delay(ctx, rec, Date.now() + Math.max(1000, Math.min(r.waitMs, 10_000)), `waiting for gateway ${ctx.gateway} (pacing)`);
          }
          // Rate waits are exact; a concurrency slot frees on a hangup, heard here or polled for.
          await this.pause(r.reason === 'rate' ? r.waitMs : Math.min(r.waitMs, 250), r.reason === 'concurrency');
        }
      } finally {
        this.turns.give(turn);
      }
    }
  }

  private async releaseSlot(gateway: string, member: string): Promise<void> {
    await this.pacer.release(gateway, member);
    for (const wake of this.slotWaiters) wake();
  }

  /** Sleeps ms, or less when closing or (wakeOnSlot) when a call ends. */
  private async pause(ms: number, wakeOnSlot: boolean): Promise<void> {
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    if (wakeOnSlot) this.slotWaiters.add(wake);
    try {
      await firstOf(woken, ms, this.closeCtl.signal);
    } finally {
      this.slotWaiters.delete(wake);
    }
  }

  private async dial(ctx: Ctx, rec: CallRecord, attempt: number, member: string): Promise<void> {
    const job = rec.job;
    const watch = this.watch(ctx.callId, attempt);
    ctx.watch = watch;
    const log = ctx.log.child({ attempt });
    this.progress(ctx, 'dialing', attempt);
    // Not awaited: nothing may come between the claim and the originate (see dialStep).
    void this.notify(ctx, rec, 'dialing', attempt);
    watch.onRinging = () => void this.notify(ctx, rec, 'ringing', attempt);
    const stopRenew = this.renewWhile(ctx.gateway, member);
    let result: OriginateResult | undefined;
    let failure: unknown;
    this.metrics?.dials.inc({ gateway: ctx.gateway });
    const originate = this.options.esl.originate({
      uuid: ctx.callId,
      endpoint: ctx.endpoint,
      app: { socket: this.options.outbound },
      ...(job.from !== undefined ? { callerIdNumber: job.from } : {}),
      ...(job.callerName !== undefined ? { callerIdName: job.callerName } : {}),
      ...(job.timeout !== undefined ? { timeoutSec: job.timeout } : {}),
      vars: { ...job.vars, [VAR_FLOW]: job.flow, [VAR_JOB]: ctx.jobId, [VAR_ATTEMPT]: attempt, [VAR_QUEUE]: this.prefix },
    });
    // The originate is on the wire: its place in the rate window counts from now (pacing.ts, SENT).
    this.pacer.sent(ctx.gateway, member).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not move the start in the rate window'));
    log.info({ endpoint: ctx.endpoint, flow: job.flow }, 'dialling');
    try {
      const settled = Promise.race([originate.then((r) => ({ r }), (err: unknown) => ({ err })), watch.ended.then((end) => ({ end }))]);
      const raced = await firstOf(settled, Number.POSITIVE_INFINITY, this.closeCtl.signal);
      if (raced === 'aborted' || raced === 'timeout') {
        originate.catch(() => {});
        stopRenew();
        await this.handBack(ctx, { ...rec, state: 'dialing', attempt }, true);
        return;
      }
      const first = raced.value;
      if ('end' in first) {
        // The hangup event can beat the originate reply; the reply is not needed then.
        originate.catch(() => {});
        stopRenew();
        await this.endAttempt(ctx, { ...rec, state: 'dialing', attempt }, attempt, first.end, false);
        return;
      }
      if ('err' in first) failure = first.err;
      else result = first.r;
    } finally {
      stopRenew();
    }
    if (result?.ok) {
      watch.answeredAt ??= Date.now();
      await this.markAnswered(ctx, rec, attempt, watch.answeredAt, 'originate');
      return;
    }
    if (result && !result.ok) {
      log.info({ cause: result.cause }, 'originate failed');
      await this.endAttempt(ctx, { ...rec, state: 'dialing', attempt }, attempt, { cause: result.cause, answered: false, at: Date.now(), source: 'originate' }, false);
      return;
    }
    if (isSwitchboardError(failure, 'SB_ESL_COMMAND_FAILED')) {
      // FreeSWITCH refused the bgapi itself: nothing was dialled, so the attempt is given back.
      log.warn({ err: (failure as Error).message }, 'originate refused; attempt given back');
      await this.releaseSlot(ctx.gateway, member);
      const back = await this.store.transition(ctx.jobId, { states: ['dialing'], attempt }, rec.state, { attempt: attempt - 1, dials: rec.dials });
      if (back.ok) await this.delay(ctx, rec, Date.now() + 2000, `FreeSWITCH refused the originate (${(failure as Error).message}); not dialled, trying again`);
      return;
    }
    // Unknown whether FreeSWITCH got it (socket lost, timeout): the record says dialing, and
    // followStep finds out from uuid_exists and the events instead of dialling again.
    log.warn({ err: failure instanceof Error ? failure.message : String(failure) }, 'originate outcome unknown; following the call instead of dialling again');
  }

  /** dialing / answered: follow the call to its end (recovering it when this run did not dial it). */
  private async followStep(ctx: Ctx, rec: CallRecord): Promise<void> {
    const attempt = rec.attempt;
    const member = leaseMember(ctx.callId, attempt);
    const inHand = ctx.watch !== undefined && ctx.watch.attempt === attempt;
    const recorded = rec.ends.get(attempt);
    if (recorded) {
      if (!inHand && !ctx.recoveredNoted) {
        ctx.recoveredNoted = true;
        const note = `recovered: the call had ended (${recorded.cause}, heard in ${recorded.source}); not dialled again`;
        await this.store.transition(ctx.jobId, { states: ENDED_STATES, attempt }, rec.state, { worker: this.name }, this.entry(rec.state, { attempt, note }));
      }
      await this.endAttempt(ctx, rec, attempt, recorded, false);
      return;
    }
    const watch = inHand ? (ctx.watch as Watch) : this.watch(ctx.callId, attempt);
    ctx.watch = watch;
    if (!inHand) {
      const exists = await this.uuidExists(ctx.callId);
      if (exists === undefined) await this.delay(ctx, rec, Date.now() + 2000, 'waiting for FreeSWITCH to check the call (uuid_exists failed)');
      if (!ctx.recoveredNoted) {
        ctx.recoveredNoted = true;
        const note = exists ? 'recovered: the call exists, following it (not dialled again)' : 'recovered: the call is not on FreeSWITCH; looking for its outcome (not dialled again)';
        await this.store.transition(ctx.jobId, { states: ENDED_STATES, attempt }, rec.state, { worker: this.name }, this.entry(rec.state, { attempt, note }));
        ctx.log.info({ attempt, exists }, 'recovered a call job');
      }
      if (exists === false) {
        await this.concludeMissing(ctx, rec, attempt, watch);
        return;
      }
      await this.pacer.renew(ctx.gateway || rec.gateway, member, true);
    }
    // Answered while nobody held the job (another worker heard CHANNEL_ANSWER and recorded it).
    if (rec.answers.has(attempt) && rec.state === 'dialing') await this.markAnswered(ctx, rec, attempt, rec.answers.get(attempt) as number, 'event');
    const end = await this.waitForEnd(ctx, rec, attempt, member, watch);
    if (end) await this.endAttempt(ctx, rec, attempt, end, false);
  }

  /** The call is gone and no outcome is recorded: a short grace for a late event, then conclude without dialling. */
  private async concludeMissing(ctx: Ctx, rec: CallRecord, attempt: number, watch: Watch): Promise<void> {
    const settled = await firstOf(watch.ended, this.timing.recoveryGraceMs, this.closeCtl.signal);
    if (settled === 'aborted') await this.handBack(ctx, rec, true);
    const again = await this.store.read(ctx.jobId);
    const recorded = again?.ends.get(attempt) ?? (typeof settled === 'object' ? settled.value : undefined);
    if (recorded) {
      await this.endAttempt(ctx, again ?? rec, attempt, recorded, false);
      return;
    }
    if ((await this.uuidExists(ctx.callId)) === true) return; // it appeared after all: the loop follows it
    const answered = rec.state === 'answered' || (again?.answers.has(attempt) ?? false) || watch.answeredAt !== undefined;
    // Answered: it ran and ended unseen. Not answered: it may never have been sent. Either way, never redial.
    const end: AttemptEnd = { cause: answered ? 'UNKNOWN' : 'ORIGINATE_UNCONFIRMED', answered, at: Date.now(), source: 'recovery' };
    ctx.log.warn({ attempt, answered }, 'call outcome unknown; not dialling again');
    await this.endAttempt(ctx, again ?? rec, attempt, end, true);
  }

  /** Resolves with the end of the call; hands the job back (throws) when closing; undefined to re-read the record. */
  private async waitForEnd(ctx: Ctx, rec: CallRecord, attempt: number, member: string, watch: Watch): Promise<AttemptEnd | undefined> {
    const stopRenew = this.renewWhile(ctx.gateway || rec.gateway, member);
    watch.onAnswer = () => void this.markAnswered(ctx, rec, attempt, watch.answeredAt ?? Date.now(), 'event').catch(() => {});
    try {
      for (;;) {
        if (watch.end) return watch.end;
        const r = await firstOf(watch.ended, this.timing.hangupPollMs, this.closeCtl.signal);
        if (r === 'aborted') {
          stopRenew();
          await this.handBack(ctx, rec, true);
        }
        if (typeof r === 'object') return r.value;
        // Events can be missed (event socket reconnecting): make sure the call still exists.
        if ((await this.uuidExists(ctx.callId)) === false) {
          const again = await this.store.read(ctx.jobId);
          const recorded = again?.ends.get(attempt);
          if (recorded) return recorded;
          if (watch.end) return watch.end;
          ctx.watch = undefined; // follow it as a recovered call: grace, then conclude
          return undefined;
        }
      }
    } finally {
      stopRenew();
      watch.onAnswer = undefined;
    }
  }

  private async markAnswered(ctx: Ctx, rec: CallRecord, attempt: number, at: number, by: string): Promise<void> {
    const r = await this.store.transition(ctx.jobId, { states: ['dialing'], attempt }, 'answered', { answeredAt: at }, this.entry('answered', { attempt, note: by === 'event' ? 'answer seen in CHANNEL_ANSWER' : undefined }));
    if (r.ok) {
      this.metrics?.originates.inc({ cause: 'SUCCESS' });
      this.progress(ctx, 'answered', attempt);
      ctx.log.info({ attempt }, 'answered');
      await this.notify(ctx, rec, 'answered', attempt);
    }
  }

  /** An attempt is over: completed if it was answered, else retrying or failed per retryOn. */
  private async endAttempt(ctx: Ctx, rec: CallRecord, attempt: number, end: AttemptEnd, noRetry: boolean): Promise<void> {
    await this.releaseSlot(ctx.gateway || rec.gateway, leaseMember(ctx.callId, attempt));
    const wasAnswered = end.answered || rec.state === 'answered';
    if (wasAnswered) {
      const fields = { cause: end.cause, endedAt: end.at, answeredAt: rec.answeredAt ?? rec.answers.get(attempt) ?? end.at };
      const entry = this.entry('completed', { attempt, cause: end.cause });
      // Straight from dialing (the answer was never marked): this is where SUCCESS is counted.
      const fromDialing = await this.store.transition(ctx.jobId, { states: ['dialing'], attempt }, 'completed', fields, entry);
      const r = fromDialing.ok ? fromDialing : await this.store.transition(ctx.jobId, { states: ['answered'], attempt }, 'completed', fields, entry);
      if (fromDialing.ok) this.metrics?.originates.inc({ cause: 'SUCCESS' });
      if (r.ok) {
        this.progress(ctx, 'completed', attempt, end.cause);
        ctx.log.info({ attempt, cause: end.cause }, 'call completed');
        if (fromDialing.ok) await this.notify(ctx, rec, 'answered', attempt, { at: fields.answeredAt });
        await this.notify(ctx, rec, 'completed', attempt, { cause: end.cause, answeredAt: fields.answeredAt });
      }
      return;
    }
    const retryOn = rec.job.retryOn ?? DEFAULT_RETRY_ON;
    const retry = !noRetry && attempt < rec.maxAttempts && retryOn.includes(end.cause);
    let r;
    let nextAt: number | undefined;
    const decidedAt = Date.now();
    // Only from dialing: a call marked answered meanwhile is never retried (the loop re-reads it).
    if (retry) {
      nextAt = decidedAt + backoffMs(rec.job, attempt);
      r = await this.store.transition(ctx.jobId, { states: ['dialing'], attempt }, 'retrying', { cause: end.cause, nextAt }, this.entry('retrying', { attempt, cause: end.cause, until: new Date(nextAt).toISOString() }), nextAt);
    } else {
      r = await this.store.transition(ctx.jobId, { states: ['dialing'], attempt }, 'failed', { cause: end.cause, endedAt: end.at, nextAt: undefined }, this.entry('failed', { attempt, cause: end.cause }));
    }
    if (r.ok) {
      this.metrics?.originates.inc({ cause: end.cause });
      this.progress(ctx, retry ? 'retrying' : 'failed', attempt, end.cause);
      ctx.log.info({ attempt, cause: end.cause, retry }, retry ? 'attempt failed; will retry' : 'call failed');
      await this.notify(ctx, rec, retry ? 'retrying' : 'failed', attempt, { at: decidedAt, cause: end.cause, ...(nextAt !== undefined ? { nextAttemptAt: nextAt } : {}) });
    }
  }

  /** A job cancelled before dialling: recorded, and reported when this run recorded it. */
  private async cancelled(ctx: Ctx, rec: CallRecord): Promise<void> {
    const r = await this.store.transition(ctx.jobId, { states: ['queued', 'retrying'] }, 'cancelled', { nextAt: undefined }, this.entry('cancelled', { note: 'cancelled before dialling' }));
    if (r.ok) await this.notify(ctx, rec, 'cancelled', rec.attempt);
  }

  private notify(ctx: Ctx, rec: CallRecord, type: CallJobEventType, attempt: number, extra: Partial<Pick<CallJobEvent, 'at' | 'cause' | 'nextAttemptAt' | 'answeredAt'>> = {}): Promise<void> {
    return notify(this.options.onEvent, { type, at: Date.now(), jobId: ctx.jobId, callId: ctx.callId, attempt, maxAttempts: rec.maxAttempts, job: rec.job, ...extra }, ctx.log);
  }

  /**
   * Puts aside a call of a paused batch (it is in the batch's held set, which resume releases)
   * and leaves the processor. The record keeps its nextAt (a retry's backoff still applies after
   * the resume). A resume between the gate and the move could not release it: checked here again.
   */
  private async holdForBatch(ctx: Ctx, rec: CallRecord, batchId: string): Promise<never> {
    const until = Date.now() + this.timing.batchHoldMs;
    const note = 'held: the batch is paused';
    const last = await this.store.timeline(ctx.jobId).then((t) => t.at(-1), () => undefined);
    if (last?.note !== note) await this.store.transition(ctx.jobId, { states: [rec.state], attempt: rec.attempt }, rec.state, {}, this.entry(rec.state, { note }), until);
    await ctx.job.moveToDelayed(until, ctx.token);
    if ((await this.batches.state(batchId)) !== 'paused') await ctx.job.promote().catch(() => {});
    throw new Delayed();
  }

  /** Moves the job to delayed until `until` (recording why) and leaves the processor. */
  private async delay(ctx: Ctx, rec: CallRecord, until: number, note: string): Promise<never> {
    const last = await this.store.timeline(ctx.jobId).then((t) => t.at(-1), () => undefined);
    const untilIso = new Date(until).toISOString();
    // One entry per reason to wait: a retry's entry already says until when; a repeated wait is not news.
    const news = !(last?.state === rec.state && (last.note === note || last.until === untilIso));
    const entry = news ? this.entry(rec.state, { note, until: untilIso }) : undefined;
    await this.store.transition(ctx.jobId, { states: [rec.state], attempt: rec.attempt }, rec.state, { nextAt: until }, entry, until);
    await ctx.job.moveToDelayed(until, ctx.token);
    throw new Delayed();
  }

  /** Gives the job back to the queue at once, state kept, for another worker (closing). */
  private async handBack(ctx: Ctx, rec: CallRecord, inProgress: boolean): Promise<never> {
    if (inProgress) {
      const current = (await this.store.read(ctx.jobId))?.state ?? rec.state;
      await this.store.transition(ctx.jobId, { states: [current], attempt: rec.attempt }, current, {}, this.entry(current, { attempt: rec.attempt, note: 'worker closing: handed back, the call goes on' }));
    }
    await ctx.job.moveToDelayed(Date.now(), ctx.token);
    throw new Delayed();
  }

  /** Renews the pacing lease every third of its life until the returned stop is called. */
  private renewWhile(gateway: string, member: string): () => void {
    const timer = setInterval(() => {
      this.pacer.renew(gateway, member).catch((err: Error) => this.log.warn({ err: err.message }, 'could not renew a pacing lease'));
    }, Math.max(100, Math.floor(this.timing.leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  /** true / false, or undefined when FreeSWITCH could not be asked. */
  private async uuidExists(callId: string): Promise<boolean | undefined> {
    try {
      const body = (await this.options.esl.api(`uuid_exists ${callId}`, { timeoutMs: 5000 })).trim();
      if (body === 'true') return true;
      if (body === 'false') return false;
      return undefined;
    } catch {
      return undefined;
    }
  }

  private progress(ctx: Ctx, state: CallState, attempt: number, cause?: string): void {
    ctx.job.updateProgress({ state, attempt, ...(cause !== undefined ? { cause } : {}), at: new Date().toISOString() }).catch(() => {});
  }
}
