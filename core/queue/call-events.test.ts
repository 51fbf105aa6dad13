import { describe, expect, it } from 'vitest';
import { EslEvent } from '../esl/event.ts';
import { jobFingerprint } from './validate.ts';
import { callSignal } from './call-events.ts';

const UUID = '0b6f3e36-1c1e-4c9c-9d7e-5a8f0c2b1d11';

describe('call events a worker learns from', () => {
  const vars = { variable_sb_queue: 'sb', variable_sb_job: 'c-1', variable_sb_attempt: '2' };

  it('CHANNEL_HANGUP_COMPLETE: the cause, and whether the call had been answered', () => {
    const answered = new EslEvent({ 'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Unique-ID': UUID, 'Hangup-Cause': 'NORMAL_CLEARING', variable_answer_uepoch: '1717430000000000', ...vars });
    expect(callSignal(answered, 'sb', 5)).toEqual({ jobId: 'c-1', callId: UUID, attempt: 2, at: 5, answered: true, cause: 'NORMAL_CLEARING', source: 'CHANNEL_HANGUP_COMPLETE' });
    const busy = new EslEvent({ 'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Unique-ID': UUID, 'Hangup-Cause': 'USER_BUSY', variable_answer_uepoch: '0', ...vars });
    expect(callSignal(busy, 'sb')).toMatchObject({ answered: false, cause: 'USER_BUSY' });
  });

  it('CHANNEL_PROGRESS (180) and CHANNEL_PROGRESS_MEDIA (183): ringing, nothing ended', () => {
    for (const name of ['CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA']) {
      expect(callSignal(new EslEvent({ 'Event-Name': name, 'Unique-ID': UUID, ...vars }), 'sb', 7)).toEqual({ jobId: 'c-1', callId: UUID, attempt: 2, at: 7, ringing: true, source: name });
    }
  });

  it('BACKGROUND_JOB of an originate: +OK answered, -ERR <cause> ended', () => {
    const arg = `{origination_uuid=${UUID},sb_flow=desk,sb_job=c-1,sb_attempt=2,sb_queue=sb}user/1001 '&socket(127.0.0.1:8084 async full)'`;
    const ok = new EslEvent({ 'Event-Name': 'BACKGROUND_JOB', 'Job-Command': 'originate', 'Job-Command-Arg': arg }, `+OK ${UUID}\n`);
    expect(callSignal(ok, 'sb')).toMatchObject({ jobId: 'c-1', callId: UUID, attempt: 2, answered: true, source: 'BACKGROUND_JOB' });
    const err = new EslEvent({ 'Event-Name': 'BACKGROUND_JOB', 'Job-Command': 'originate', 'Job-Command-Arg': arg }, '-ERR NO_ANSWER\n');
    expect(callSignal(err, 'sb')).toMatchObject({ answered: false, cause: 'NO_ANSWER' });
  });

  it('ignores other queues, other commands and calls that are not queue calls', () => {
    expect(callSignal(new EslEvent({ 'Event-Name': 'CHANNEL_ANSWER', 'Unique-ID': UUID, ...vars }), 'other')).toBeUndefined();
    expect(callSignal(new EslEvent({ 'Event-Name': 'CHANNEL_ANSWER', 'Unique-ID': UUID }), 'sb')).toBeUndefined();
    expect(callSignal(new EslEvent({ 'Event-Name': 'BACKGROUND_JOB', 'Job-Command': 'status' }, '+OK'), 'sb')).toBeUndefined();
  });
});

describe('job fingerprint (idempotency)', () => {
  it('ignores key order and the idempotency key itself, not the content', () => {
    const a = jobFingerprint({ to: '1001', flow: 'desk', vars: { a: 1, b: 'x' }, idempotencyKey: 'k1' });
    expect(jobFingerprint({ vars: { b: 'x', a: 1 }, flow: 'desk', to: '1001', idempotencyKey: 'k2' })).toBe(a);
    expect(jobFingerprint({ to: '1001', flow: 'desk', vars: { a: 2, b: 'x' } })).not.toBe(a);
  });
});
