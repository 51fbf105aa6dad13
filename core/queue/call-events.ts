import type { EslEvent } from '../esl/event.ts';

/** The ESL events a worker subscribes to, to learn what became of the calls it (or a crashed peer) dialled, and when they ring. */
export const CALL_EVENTS = ['CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE', 'BACKGROUND_JOB'] as const;

/** Channel variables set on every originated call: which queue, job and attempt it belongs to. */
export const VAR_QUEUE = 'sb_queue';
export const VAR_JOB = 'sb_job';
export const VAR_ATTEMPT = 'sb_attempt';
export const VAR_FLOW = 'sb_flow';

export interface CallSignal {
  jobId: string;
  callId: string;
  attempt: number;
  /** ms */
  at: number;
  answered?: boolean;
  /** The far end rings (180) or plays early media (183): nothing to record, only to report. */
  ringing?: boolean;
  /** Present when the attempt is over: the hangup cause (or the originate failure cause). */
  cause?: string;
  source: (typeof CALL_EVENTS)[number];
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

function attemptOf(v: string | undefined): number | undefined {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** `{a=1,b=2}endpoint …` → the `{…}` block's variables (values as written; ours never need unescaping). */
function originateVars(arg: string): Map<string, string> {
  const vars = new Map<string, string>();
  if (!arg.startsWith('{')) return vars;
  const end = arg.indexOf('}');
  if (end < 0) return vars;
  for (const item of arg.slice(1, end).split(/(?<!\\),/)) {
    const eq = item.indexOf('=');
    if (eq > 0) vars.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return vars;
}

/**
 * What an event says about a call of queue `prefix`, or undefined when it is not about one.
 * CHANNEL_PROGRESS / _MEDIA: ringing. CHANNEL_ANSWER: answered. CHANNEL_HANGUP_COMPLETE: ended, answered or not (answer time set).
 * BACKGROUND_JOB of an originate (broadcast to every listener, so a peer learns the result of a
 * dead worker's originate): `+OK` answered, `-ERR <CAUSE>` ended unanswered.
 */
export function callSignal(ev: EslEvent, prefix: string, now = Date.now()): CallSignal | undefined {
  const name = ev.name;
  if (name === 'CHANNEL_PROGRESS' || name === 'CHANNEL_PROGRESS_MEDIA' || name === 'CHANNEL_ANSWER' || name === 'CHANNEL_HANGUP_COMPLETE') {
    if (ev.variable(VAR_QUEUE) !== prefix) return undefined;
    const jobId = ev.variable(VAR_JOB);
    const attempt = attemptOf(ev.variable(VAR_ATTEMPT));
    const callId = ev.uuid;
    if (jobId === undefined || !JOB_ID.test(jobId) || attempt === undefined || callId === undefined) return undefined;
    if (name === 'CHANNEL_PROGRESS' || name === 'CHANNEL_PROGRESS_MEDIA') return { jobId, callId, attempt, at: now, ringing: true, source: name };
    if (name === 'CHANNEL_ANSWER') return { jobId, callId, attempt, at: now, answered: true, source: name };
    const answeredAt = Number(ev.variable('answer_uepoch') ?? ev.get('Caller-Channel-Answered-Time') ?? 0);
    const cause = ev.get('Hangup-Cause') ?? ev.variable('hangup_cause') ?? 'NORMAL_CLEARING';
    return { jobId, callId, attempt, at: now, answered: answeredAt > 0, cause, source: name };
  }
  if (name === 'BACKGROUND_JOB' && ev.get('Job-Command') === 'originate') {
    const vars = originateVars(ev.get('Job-Command-Arg') ?? '');
    if (vars.get(VAR_QUEUE) !== prefix) return undefined;
    const jobId = vars.get(VAR_JOB);
    const attempt = attemptOf(vars.get(VAR_ATTEMPT));
    const callId = vars.get('origination_uuid');
    if (jobId === undefined || !JOB_ID.test(jobId) || attempt === undefined || callId === undefined || !UUID.test(callId)) return undefined;
    const body = (ev.body ?? '').trim();
    if (body.startsWith('+OK')) return { jobId, callId, attempt, at: now, answered: true, source: name };
    const cause = body.replace(/^-ERR\s*/, '').split(/\s/)[0] || 'UNKNOWN';
    return { jobId, callId, attempt, at: now, answered: false, cause, source: name };
  }
  return undefined;
}
