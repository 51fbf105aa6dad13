import { hostname } from 'node:os';
import type { Call } from '../esl/index.ts';
import type { FlowResult, TimelineEntry } from '../flow/runner.ts';
import type { CallJobEvent } from '../queue/index.ts';
import type { CallHistory, FinishedCall, HistoryTimelineEntry } from './call-history.ts';

/** Timeline entries kept per call (a looping flow must not grow a record without bound). */
const MAX_TIMELINE = 200;

/** What is known about a call in progress beyond the Call itself. */
export interface LiveCallInfo {
  flow: string | undefined;
  jobId: string | undefined;
  startedAt: string;
  answeredAt: string | undefined;
  timeline: readonly HistoryTimelineEntry[];
}

interface Entry extends LiveCallInfo {
  timeline: HistoryTimelineEntry[];
  flowStartMs: number | undefined;
}

/**
 * Follows each call from connect to hangup (flow, timeline with wall-clock times, answer time)
 * and writes its FinishedCall to the history when it ends.
 */
export class CallJournal {
  private readonly live = new Map<string, Entry>();
  private readonly instance = `${hostname()}:${process.pid}`;

  constructor(readonly history: CallHistory) {}

  /** Starts following a call; `end` must be called once it is over. */
  begin(call: Call, flow: string | undefined): { note(entry: TimelineEntry): void; end(result: FlowResult | undefined): Promise<void> } {
    const startedMs = Date.now() - (performance.now() - call.timing.accepted);
    const entry: Entry = {
      flow,
      jobId: call.data.direction === 'outbound' ? call.data.variables.sb_job : undefined,
      startedAt: new Date(startedMs).toISOString(),
      answeredAt: call.state === 'answered' ? new Date(startedMs).toISOString() : undefined,
      timeline: [],
      flowStartMs: undefined,
    };
    this.live.set(call.id, entry);
    const onEvent = (ev: { name: string }): void => {
      if (ev.name === 'CHANNEL_ANSWER') entry.answeredAt ??= new Date().toISOString();
    };
    call.on('event', onEvent);
    return {
      note: (e) => {
        // Runner times are ms since the flow started: anchor them on the first entry's wall time.
        entry.flowStartMs ??= Date.now() - e.at;
        const { at, ...rest } = e;
        entry.timeline.push({ at: new Date(entry.flowStartMs + at).toISOString(), ...rest });
        if (entry.timeline.length > MAX_TIMELINE) entry.timeline.shift();
      },
      end: async (result) => {
        call.off('event', onEvent);
        this.live.delete(call.id);
        const endedMs = Date.now();
        const info = call.hangupInfo ?? { cause: 'NORMAL_CLEARING', by: 'remote' as const, disposition: undefined };
        const finished: FinishedCall = {
          callId: call.id,
          direction: call.data.direction,
          state: flow === undefined ? 'failed' : 'completed',
          from: call.data.callerNumber,
          to: call.data.destination,
          flow,
          jobId: entry.jobId,
          startedAt: entry.startedAt,
          answeredAt: entry.answeredAt,
          endedAt: new Date(endedMs).toISOString(),
          durationMs: Math.max(0, Math.round(endedMs - startedMs)),
          ending: result?.ending ?? (flow === undefined ? 'unrouted' : 'error'),
          stepsRun: result?.stepsRun ?? 0,
          steps: Object.entries(result?.steps ?? {}).map(([id, r]) => ({ id, outcome: r.outcome ?? 'ok' })),
          hangup: { cause: info.cause, by: info.by, disposition: info.disposition },
          timeline: entry.timeline,
          instance: this.instance,
        };
        // History is for people looking back: a Redis hiccup is logged, never a call failure.
        await this.history.add(finished).catch((err: Error) => call.log.warn({ err: err.message }, 'could not record the finished call'));
      },
    };
  }

  /**
   * A queue job's status change (a CallQueue/CallWorker listener): an outbound job that ended
   * without ever connecting — busy, no answer, cancelled — is written to the history too, so the
   * call list shows it like any finished call. A job whose call connected was written at hangup.
   */
  readonly onJobEvent = async (ev: CallJobEvent): Promise<void> => {
    if (ev.type !== 'failed' && ev.type !== 'cancelled') return;
    try {
      if (await this.history.get(ev.callId)) return;
      const at = new Date(ev.at).toISOString();
      await this.history.add({
        callId: ev.callId,
        direction: 'outbound',
        state: ev.type,
        from: ev.job.from ?? '',
        to: ev.job.to,
        flow: ev.job.flow,
        jobId: ev.jobId,
        startedAt: at,
        answeredAt: undefined,
        endedAt: at,
        durationMs: 0,
        ending: ev.type === 'cancelled' ? 'cancelled' : 'unanswered',
        stepsRun: 0,
        steps: [],
        hangup: ev.type === 'cancelled' ? { cause: 'ORIGINATOR_CANCEL', by: 'switchboard', disposition: undefined } : { cause: ev.cause ?? 'UNKNOWN', by: 'remote', disposition: undefined },
        timeline: [],
        instance: this.instance,
      });
    } catch {
      // History is for people looking back: a Redis hiccup never fails a job (its record keeps it).
    }
  };

  /** The journal of a call in progress on this instance. */
  liveInfo(callId: string): LiveCallInfo | undefined {
    return this.live.get(callId);
  }

  async close(): Promise<void> {
    await this.history.close();
  }
}
