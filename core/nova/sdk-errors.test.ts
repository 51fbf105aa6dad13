import { describe, expect, it } from 'vitest';
import { codeForSdkError, novaErrorFromSdk, type FailurePhase } from './sdk-errors.ts';

const named = (name: string, message = name, status?: number): Error =>
  Object.assign(new Error(message), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status, requestId: 'req-1' } }) });

describe('SDK error → code', () => {
  it.each<[string, unknown, FailurePhase, string]>([
    ['ThrottlingException', named('ThrottlingException'), 'mid-stream', 'SB_NOVA_THROTTLED'],
    ['ServiceQuotaExceededException', named('ServiceQuotaExceededException'), 'before-output', 'SB_NOVA_THROTTLED'],
    ['ValidationException', named('ValidationException'), 'mid-stream', 'SB_NOVA_VALIDATION'],
    ['ModelTimeoutException', named('ModelTimeoutException'), 'mid-stream', 'SB_NOVA_MODEL_TIMEOUT'],
    ['ModelStreamErrorException', named('ModelStreamErrorException'), 'mid-stream', 'SB_NOVA_STREAM'],
    ['InternalServerException', named('InternalServerException'), 'mid-stream', 'SB_NOVA_STREAM'],
    ['ServiceUnavailableException', named('ServiceUnavailableException'), 'mid-stream', 'SB_NOVA_UNAVAILABLE'],
    ['ModelNotReadyException', named('ModelNotReadyException'), 'before-output', 'SB_NOVA_UNAVAILABLE'],
    ['AccessDeniedException', named('AccessDeniedException'), 'before-output', 'SB_NOVA_ACCESS'],
    ['CredentialsProviderError', named('CredentialsProviderError'), 'before-output', 'SB_NOVA_ACCESS'],
    ['an unmodelled 429', named('Weird', 'x', 429), 'before-output', 'SB_NOVA_THROTTLED'],
    ['an unmodelled 403', named('Weird', 'x', 403), 'before-output', 'SB_NOVA_ACCESS'],
    ['an unmodelled 599', named('Weird', 'x', 599), 'before-output', 'SB_NOVA_UNAVAILABLE'],
    ['requestTimeout', named('TimeoutError', 'Stream timed out because of no activity for 300 ms'), 'before-output', 'SB_NOVA_STALLED'],
    ['a session destroyed unanswered', named('TimeoutError', 'Unexpected error: http2 request did not get a response'), 'before-output', 'SB_NOVA_UNAVAILABLE'],
    ['ECONNREFUSED in a cause', Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }), 'before-output', 'SB_NOVA_UNAVAILABLE'],
    ['an aborted stream before any output', new Error('HTTP/2 stream is abnormally aborted'), 'before-output', 'SB_NOVA_UNAVAILABLE'],
    ['an aborted stream mid-stream', new Error('HTTP/2 stream is abnormally aborted'), 'mid-stream', 'SB_NOVA_STREAM'],
    ['not even an Error', 'boom', 'mid-stream', 'SB_NOVA_STREAM'],
  ])('%s → %s', (_label, err, phase, code) => {
    expect(codeForSdkError(err, phase)).toBe(code);
  });

  it('keeps the original as cause, and its name, status and request id in the context', () => {
    const original = named('ThrottlingException', 'Too many tokens', 429);
    const e = novaErrorFromSdk(original, 'amazon.nova-sonic-v1:0', 'before-output', { callId: 'c1' });
    expect(e.code).toBe('SB_NOVA_THROTTLED');
    expect(e.status).toBe(429);
    expect(e.message).toContain('Too many tokens');
    expect(e.message).toContain('amazon.nova-sonic-v1:0');
    expect(e.cause).toBe(original);
    expect(e.context).toEqual({
      callId: 'c1', modelId: 'amazon.nova-sonic-v1:0', phase: 'before-output', awsError: 'ThrottlingException', httpStatus: 429, requestId: 'req-1',
    });
  });
});
