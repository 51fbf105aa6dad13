/**
 * What the SDK throws (modelled Bedrock exceptions, HTTP refusals, socket errors, its own
 * timeouts) → one SwitchboardError code, so a flow's on_error and the logs see a stable code.
 */
import { SwitchboardError, type ErrorCode } from '../errors.ts';

/** By the exception's name: the mid-stream `:exception-type` and the pre-stream `x-amzn-errortype` agree. */
const BY_NAME: Readonly<Record<string, ErrorCode>> = {
  ThrottlingException: 'SB_NOVA_THROTTLED',
  ServiceQuotaExceededException: 'SB_NOVA_THROTTLED',
  TooManyRequestsException: 'SB_NOVA_THROTTLED',
  ValidationException: 'SB_NOVA_VALIDATION',
  ResourceNotFoundException: 'SB_NOVA_VALIDATION',
  ConflictException: 'SB_NOVA_VALIDATION',
  ModelTimeoutException: 'SB_NOVA_MODEL_TIMEOUT',
  ModelStreamErrorException: 'SB_NOVA_STREAM',
  InternalServerException: 'SB_NOVA_STREAM',
  ModelErrorException: 'SB_NOVA_STREAM',
  ServiceUnavailableException: 'SB_NOVA_UNAVAILABLE',
  ModelNotReadyException: 'SB_NOVA_UNAVAILABLE',
  AccessDeniedException: 'SB_NOVA_ACCESS',
  UnrecognizedClientException: 'SB_NOVA_ACCESS',
  InvalidSignatureException: 'SB_NOVA_ACCESS',
  ExpiredTokenException: 'SB_NOVA_ACCESS',
  IncompleteSignatureException: 'SB_NOVA_ACCESS',
  CredentialsProviderError: 'SB_NOVA_ACCESS',
};

const BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'SB_NOVA_VALIDATION',
  401: 'SB_NOVA_ACCESS',
  403: 'SB_NOVA_ACCESS',
  404: 'SB_NOVA_VALIDATION',
  408: 'SB_NOVA_MODEL_TIMEOUT',
  424: 'SB_NOVA_STREAM',
  429: 'SB_NOVA_THROTTLED',
  500: 'SB_NOVA_STREAM',
  502: 'SB_NOVA_UNAVAILABLE',
  503: 'SB_NOVA_UNAVAILABLE',
  504: 'SB_NOVA_UNAVAILABLE',
};

/** Socket-level failures: the service cannot be reached at all. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ERR_HTTP2_SESSION_ERROR', 'ERR_HTTP2_GOAWAY_SESSION']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

function socketCode(err: unknown): string | undefined {
  for (let e = err as SdkErrorShape | undefined, depth = 0; e && depth < 4; e = e.cause as SdkErrorShape | undefined, depth++) {
    if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return e.code;
    // AggregateError from happy-eyeballs connects
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) { const c = socketCode(inner); if (c) return c; }
  }
  return undefined;
}

/**
 * Where the stream was when it failed: before Nova's first output event (send() still pending;
 * the SDK reports a refused or dropped connection only as "HTTP/2 stream is abnormally aborted",
 * the socket error itself is swallowed by its connection manager) or after it.
 */
export type FailurePhase = 'before-output' | 'mid-stream';

/** The code for whatever the SDK threw. */
export function codeForSdkError(err: unknown, phase: FailurePhase = 'mid-stream'): ErrorCode {
  const e = (err ?? {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  if (BY_NAME[name]) return BY_NAME[name];
  if (name === 'TimeoutError') {
    // requestTimeout: nothing moved either way for that long; otherwise the connection died unanswered.
    return typeof e.message === 'string' && e.message.startsWith('Stream timed out') ? 'SB_NOVA_STALLED' : 'SB_NOVA_UNAVAILABLE';
  }
  if (socketCode(err)) return 'SB_NOVA_UNAVAILABLE';
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && BY_STATUS[status]) return BY_STATUS[status];
  if (status !== undefined && status >= 500) return 'SB_NOVA_UNAVAILABLE';
  return phase === 'before-output' ? 'SB_NOVA_UNAVAILABLE' : 'SB_NOVA_STREAM';
}

/** A coded error for an SDK failure; the original is its `cause`, its name, status and request id are in `context`. */
export function novaErrorFromSdk(err: unknown, modelId: string, phase: FailurePhase, context: Record<string, unknown> = {}): SwitchboardError {
  const e = (err ?? {}) as SdkErrorShape;
  const code = codeForSdkError(err, phase);
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  const sock = socketCode(err);
  const detail = sock && !message.includes(sock) ? `${name}: ${message} (${sock})` : `${name}: ${message}`;
  return new SwitchboardError(code, [modelId, detail], {
    ...context,
    modelId,
    phase,
    awsError: name,
    httpStatus: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
  }, { cause: err });
}
