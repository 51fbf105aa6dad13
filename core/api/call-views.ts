// What GET /v1/calls shows of a call, from its three sources: the live Call (this instance),
// the history of finished calls, and for outbound calls the queue job's record.
import type { Call } from '../esl/index.ts';
import type { FinishedCall } from '../history/call-history.ts';
import type { LiveCallInfo } from '../history/call-journal.ts';
import type { CallJobState } from '../queue/index.ts';
import type { CallTimelineEntry, CallView } from './schemas.ts';

export function liveView(call: Call, info: LiveCallInfo | undefined, parked: boolean): CallView {
  const startedMs = Date.now() - (performance.now() - call.timing.accepted);
  return {
    callId: call.id,
    ...(info?.jobId !== undefined ? { jobId: info.jobId } : {}),
    direction: call.data.direction,
    // Hung up, its history record not written yet (an instant): ended, not live.
    state: call.isGone ? 'completed' : call.state === 'answered' ? 'answered' : 'ringing',
    live: !call.isGone,
    from: call.data.callerNumber,
    to: call.data.destination,
    ...(info?.flow !== undefined ? { flow: info.flow } : {}),
    parked,
    channel: call.data.channelName,
    startedAt: info?.startedAt ?? new Date(startedMs).toISOString(),
    ...(info?.answeredAt !== undefined ? { answeredAt: info.answeredAt } : {}),
    timeline: [...(info?.timeline ?? [])],
  };
}

export function finishedView(f: FinishedCall): CallView {
  return {
    callId: f.callId,
    ...(f.jobId !== undefined ? { jobId: f.jobId } : {}),
    direction: f.direction,
    state: f.state,
    live: false,
    from: f.from,
    to: f.to,
    ...(f.flow !== undefined ? { flow: f.flow } : {}),
    startedAt: f.startedAt,
    ...(f.answeredAt !== undefined ? { answeredAt: f.answeredAt } : {}),
    endedAt: f.endedAt,
    durationMs: f.durationMs,
    ending: f.ending,
    stepsRun: f.stepsRun,
    steps: f.steps,
    hangup: { cause: f.hangup.cause, by: f.hangup.by, ...(f.hangup.disposition !== undefined ? { disposition: f.hangup.disposition } : {}) },
    instance: f.instance,
    timeline: f.timeline,
  };
}

function jobTimeline(job: CallJobState): CallTimelineEntry[] {
  return job.timeline.map((e) => ({
    at: e.at,
    kind: 'job',
    state: e.state,
    ...(e.attempt !== undefined ? { attempt: e.attempt } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
    ...(e.note !== undefined || e.until !== undefined ? { detail: [e.note, e.until !== undefined ? `until ${e.until}` : undefined].filter(Boolean).join(', ') } : {}),
  }));
}

/** The queue's side of an outbound call; without `view`, the job alone (it never connected here). */
export function withJob(view: CallView | undefined, job: CallJobState): CallView {
  const base: CallView = view ?? {
    callId: job.callId,
    direction: 'outbound',
    state: job.state,
    live: job.state === 'dialing' || job.state === 'answered',
    from: job.job.from ?? '',
    to: job.job.to,
    flow: job.job.flow,
    ...(job.answeredAt !== undefined ? { answeredAt: job.answeredAt } : {}),
    ...(job.endedAt !== undefined ? { endedAt: job.endedAt } : {}),
    timeline: [],
  };
  const timeline = [...jobTimeline(job), ...base.timeline].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return {
    ...base,
    jobId: job.jobId,
    createdAt: job.createdAt,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    ...(job.cause !== undefined ? { cause: job.cause } : {}),
    ...(job.nextAttemptAt !== undefined ? { nextAttemptAt: job.nextAttemptAt } : {}),
    timeline,
  };
}
