/**
 * The record of one finished call, kept so GET /v1/calls can still show it: a call that connected
 * to Switchboard (inbound, or an answered outbound leg), written when it ends, or an outbound job
 * that ended without connecting (busy, no answer, cancelled), written when the job ended.
 */
export interface FinishedCall {
  callId: string;
  direction: 'inbound' | 'outbound';
  /** `completed` when a flow ran; `failed` when no flow took the call or an outbound job never connected; `cancelled`: a job cancelled before dialling. */
  state: 'completed' | 'failed' | 'cancelled';
  from: string;
  to: string;
  /** The flow that ran (undefined: no flow matched). */
  flow: string | undefined;
  /** The queue job of an outbound call (channel variable sb_job). */
  jobId: string | undefined;
  /** ISO times. */
  startedAt: string;
  answeredAt: string | undefined;
  endedAt: string;
  durationMs: number;
  /** How the flow ended (`completed`, `hangup`, `error`, `max-steps`), or `unrouted`, `unanswered`, `cancelled`. */
  ending: string;
  stepsRun: number;
  /** Each step that ran, first run order, with its last outcome. */
  steps: Array<{ id: string; outcome: string }>;
  hangup: { cause: string; by: 'switchboard' | 'remote'; disposition: string | undefined };
  timeline: HistoryTimelineEntry[];
  /** `<hostname>:<pid>` of the instance that ran the call. */
  instance: string;
}

/** A flow timeline entry with a wall-clock time. */
export interface HistoryTimelineEntry {
  at: string;
  kind: string;
  step?: string;
  name?: string;
  outcome?: string;
  detail?: string;
}

export interface HistoryQuery {
  direction?: 'inbound' | 'outbound';
  state?: FinishedCall['state'];
  /** Only calls started before this position (exclusive). */
  before?: HistoryCursor;
  limit: number;
}

/** A position in the newest-first order: start time (ms), then call id (descending) for ties. */
export interface HistoryCursor {
  startedMs: number;
  callId: string;
}

export interface CallHistory {
  add(call: FinishedCall): Promise<void>;
  get(callId: string): Promise<FinishedCall | undefined>;
  /** Newest first (by start time); at most `limit`. */
  list(query: HistoryQuery): Promise<FinishedCall[]>;
  close(): Promise<void>;
}

export function cursorOf(call: { callId: string; startedAt: string }): HistoryCursor {
  return { startedMs: Date.parse(call.startedAt), callId: call.callId };
}

/** True when `a` comes strictly after `cursor` in newest-first order. */
export function isBefore(a: HistoryCursor, cursor: HistoryCursor): boolean {
  return a.startedMs < cursor.startedMs || (a.startedMs === cursor.startedMs && a.callId < cursor.callId);
}

/** Newest first; ties by call id, descending (the order Redis's ZRANGE … REV gives). */
export function newestFirst(a: HistoryCursor, b: HistoryCursor): number {
  return b.startedMs - a.startedMs || (a.callId < b.callId ? 1 : a.callId > b.callId ? -1 : 0);
}

export function matches(call: FinishedCall, query: HistoryQuery): boolean {
  if (query.direction !== undefined && call.direction !== query.direction) return false;
  if (query.state !== undefined && call.state !== query.state) return false;
  return query.before === undefined || isBefore(cursorOf(call), query.before);
}

/** Without Redis: the last `max` finished calls of this process. */
export class MemoryCallHistory implements CallHistory {
  private readonly calls = new Map<string, FinishedCall>();

  constructor(private readonly max: number) {}

  async add(call: FinishedCall): Promise<void> {
    this.calls.delete(call.callId);
    this.calls.set(call.callId, call);
    // A Map iterates in insertion order: the first key is the oldest written.
    while (this.calls.size > this.max) this.calls.delete(this.calls.keys().next().value as string);
  }

  async get(callId: string): Promise<FinishedCall | undefined> {
    return this.calls.get(callId);
  }

  async list(query: HistoryQuery): Promise<FinishedCall[]> {
    return [...this.calls.values()]
      .filter((c) => matches(c, query))
      .sort((a, b) => newestFirst(cursorOf(a), cursorOf(b)))
      .slice(0, query.limit);
  }

  async close(): Promise<void> {}
}
