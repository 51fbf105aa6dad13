/**
 * The one registry of Switchboard's error codes. Each code has a stable name users can search
 * for, a message template and, where it can reach a REST client, an HTTP status.
 * Tests assert codes, never prose.
 */
const codes = {
  // configuration
  SB_CONFIG_INVALID: { status: 500, message: 'invalid configuration: %s' },
  // ESL transport
  SB_ESL_CLOSED: { status: 503, message: 'event socket closed: %s' },
  SB_ESL_TIMEOUT: { status: 504, message: 'event socket command timed out after %s ms: %s' },
  SB_ESL_AUTH: { status: 503, message: 'event socket authentication failed: %s' },
  SB_ESL_COMMAND_FAILED: { status: 502, message: 'FreeSWITCH answered %s' },
  SB_ESL_PROTOCOL: { status: 502, message: 'malformed event socket frame: %s' },
  SB_ESL_UNSAFE_VALUE: { status: 400, message: 'unsafe value for %s: %s' },
  // calls
  SB_CALL_GONE: { status: 410, message: 'call %s has ended' },
  SB_CALL_TIMEOUT: { status: 504, message: 'call %s: timed out waiting for %s' },
  SB_CALL_ABORTED: { status: 499, message: 'call %s: %s aborted' },
  SB_CALL_APP_FAILED: { status: 502, message: 'call %s: %s failed: %s' },
  // plugins and flows
  SB_PLUGIN_INVALID: { status: 500, message: 'plugin %s: %s' },
  SB_FLOW_YAML: { status: 400, message: '%s' },
  SB_FLOW_NOT_MAPPING: { status: 400, message: '%s' },
  SB_FLOW_EMPTY: { status: 400, message: '%s' },
  SB_FLOW_SCHEMA: { status: 400, message: '%s' },
  SB_FLOW_UNKNOWN_STEP: { status: 400, message: '%s' },
  SB_FLOW_BAD_OPTION: { status: 400, message: '%s' },
  SB_FLOW_DUPLICATE_ID: { status: 400, message: '%s' },
  SB_FLOW_UNKNOWN_TARGET: { status: 400, message: '%s' },
  SB_FLOW_UNKNOWN_OUTCOME: { status: 400, message: '%s' },
  SB_FLOW_UNREACHABLE: { status: 400, message: '%s' },
  SB_FLOW_UNKNOWN_VARIABLE: { status: 400, message: '%s' },
  SB_FLOW_DUPLICATE_MATCH: { status: 400, message: '%s' },
  SB_FLOW_DUPLICATE_NAME: { status: 400, message: '%s' },
  SB_FLOW_MAX_STEPS: { status: 500, message: 'flow %s: more than %s steps run; stopping (a loop?)' },
  SB_FLOW_NO_ROUTE: { status: 404, message: 'no flow matches %s' },
  SB_STEP_FAILED: { status: 500, message: 'step %s failed: %s' },
  // REST API
  SB_API_UNAUTHORIZED: { status: 401, message: '%s' },
  SB_API_NOT_FOUND: { status: 404, message: '%s' },
  SB_API_CONFLICT: { status: 409, message: '%s' },
  SB_API_BAD_REQUEST: { status: 400, message: '%s' },
  SB_API_TOO_LARGE: { status: 413, message: 'request body larger than %s bytes' },
  SB_API_UNAVAILABLE: { status: 503, message: '%s' },
  SB_API_FORBIDDEN: { status: 403, message: '%s' },
  SB_API_TOKEN_EXPIRED: { status: 401, message: '%s' },
  SB_API_UNSUPPORTED_MEDIA: { status: 415, message: '%s' },
  // conference rooms (core/esl/conference.ts)
  SB_ROOM_NOT_FOUND: { status: 404, message: 'no conference room %s' },
  SB_ROOM_MEMBER_NOT_FOUND: { status: 404, message: 'conference room %s has no member %s' },
  SB_ROOM_COMMAND_FAILED: { status: 502, message: 'conference %s: FreeSWITCH answered %s' },
  // nova
  SB_NOVA_THROTTLED: { status: 429, message: 'Nova Sonic (%s) throttled the stream: %s (lower the number of concurrent calls or raise the Bedrock quota)' },
  SB_NOVA_VALIDATION: { status: 502, message: 'Nova Sonic (%s) rejected the input: %s' },
  SB_NOVA_MODEL_TIMEOUT: { status: 504, message: 'Nova Sonic (%s) timed out: %s (a stream lasts at most 8 minutes; renew the session before that)' },
  SB_NOVA_STREAM: { status: 502, message: 'Nova Sonic (%s) stream failed: %s' },
  SB_NOVA_UNAVAILABLE: { status: 503, message: 'Nova Sonic (%s) is unavailable: %s' },
  SB_NOVA_STALLED: { status: 504, message: 'Nova Sonic (%s) stalled: %s' },
  SB_NOVA_ACCESS: { status: 502, message: 'Nova Sonic (%s) refused access: %s (check the AWS credentials, the region and model access in the Bedrock console)' },
  SB_NOVA_CLOSED: { status: 410, message: 'Nova Sonic session is %s: cannot %s' },
  SB_NOVA_BAD_OPTION: { status: 400, message: 'Nova Sonic: %s' },
  SB_NOVA_UNSUPPORTED: { status: 400, message: 'Nova Sonic model %s cannot %s' },
  // media
  SB_MEDIA_LISTEN: { status: 500, message: 'media server cannot listen on %s: %s' },
  SB_MEDIA_CLOSED: { status: 503, message: 'media server closed: %s' },
  SB_MEDIA_TIMEOUT: { status: 504, message: 'call %s: no audio stream connected within %s ms' },
  SB_MEDIA_REFUSED: { status: 403, message: 'audio stream for %s refused: %s' },
  SB_MEDIA_PROTOCOL: { status: 502, message: 'call %s: malformed audio stream input: %s' },
  SB_MEDIA_BAD_ARGUMENT: { status: 400, message: 'call %s: %s' },
  SB_MEDIA_BAD_CALL_ID: { status: 400, message: 'not a usable call id for an audio stream: %s' },
  // queue
  SB_QUEUE_BAD_JOB: { status: 400, message: 'call job rejected: %s' },
  SB_QUEUE_IDEMPOTENCY_CONFLICT: { status: 409, message: 'idempotency key "%s" was already used for a different call job (%s); use a new key for a new call' },
  SB_QUEUE_NOT_FOUND: { status: 404, message: 'no call job %s (unknown, or removed after its retention period)' },
  SB_QUEUE_CLOSED: { status: 503, message: 'call queue is closed: %s' },
  SB_QUEUE_UNAVAILABLE: { status: 503, message: 'call queue cannot reach Redis: %s (check REDIS_URL and that redis-server runs)' },
  SB_QUEUE_BAD_OPTION: { status: 500, message: 'call queue option %s: %s' },
  // batches (core/queue/batch*.ts)
  SB_BATCH_BAD_REQUEST: { status: 400, message: 'batch rejected: %s' },
  SB_BATCH_BAD_CSV: { status: 400, message: 'batch CSV: %s' },
  SB_BATCH_ROWS_REJECTED: { status: 400, message: '%s of %s rows are invalid: %s; nothing was queued' },
  SB_BATCH_TOO_LARGE: { status: 413, message: 'a batch holds at most %s rows (SB_BATCH_MAX_ROWS); this one has %s' },
  SB_BATCH_NOT_FOUND: { status: 404, message: 'no batch %s (unknown, or removed after its retention period)' },
  SB_BATCH_STATE: { status: 409, message: 'batch %s is %s: cannot %s' },
  SB_BATCH_IDEMPOTENCY_CONFLICT: { status: 409, message: 'idempotency key "%s" was already used for a different batch (%s); use a new key for a new batch' },
  // webhooks (core/webhooks)
  SB_WEBHOOK_ATTEMPT_FAILED: { status: 502, message: 'webhook delivery to %s failed: %s (will retry)' },
  SB_WEBHOOK_REJECTED: { status: 502, message: 'webhook receiver %s answered %s: not retried (a 4xx or a redirect means the URL or the receiver needs fixing)' },
  SB_WEBHOOK_GAVE_UP: { status: 504, message: 'webhook delivery to %s failed %s times (last: %s); given up' },
  SB_WEBHOOK_ENQUEUE_FAILED: { status: 503, message: 'webhook event %s could not be queued: %s' },
  SB_WEBHOOK_BAD_OPTION: { status: 500, message: 'webhook option %s: %s' },
  // audio (core/audio)
  SB_AUDIO_BAD_OPTION: { status: 400, message: 'audio conversion: %s' },
  SB_AUDIO_UNKNOWN_FORMAT: { status: 400, message: '%s: not an audio format Switchboard converts (known: %s)' },
  SB_AUDIO_FORMAT_UNAVAILABLE: { status: 400, message: '%s: %s' },
  SB_AUDIO_OUTSIDE_ROOTS: { status: 403, message: '%s is outside the audio roots (SB_AUDIO_ROOTS: %s)' },
  SB_AUDIO_NOT_FOUND: { status: 404, message: '%s: %s' },
  SB_AUDIO_EMPTY: { status: 422, message: '%s holds no audio: %s' },
  SB_AUDIO_TRUNCATED: { status: 422, message: '%s is truncated: %s' },
  SB_AUDIO_NOT_AUDIO: { status: 422, message: '%s is not a readable %s file: %s' },
  SB_AUDIO_SAME_FILE: { status: 400, message: 'output %s is the input itself (an input is never modified)' },
  SB_AUDIO_OUTPUT_EXISTS: { status: 409, message: 'output %s already exists (overwrite replaces it, skip keeps it)' },
  SB_AUDIO_WRITE_FAILED: { status: 507, message: 'cannot write %s: %s' },
  SB_AUDIO_CONVERT_FAILED: { status: 500, message: 'converting %s failed: %s' },
  SB_AUDIO_TIMEOUT: { status: 504, message: 'converting %s took longer than %s ms (SB_AUDIO_TIMEOUT_MS)' },
  SB_AUDIO_ABORTED: { status: 499, message: 'converting %s was aborted' },
  SB_AUDIO_CONVERTER_MISSING: { status: 503, message: '%s: install the Debian package %s (apt-get install %s)' },
  SB_AUDIO_UNAVAILABLE: { status: 503, message: 'audio queue: %s' },
  SB_AUDIO_JOB_NOT_FOUND: { status: 404, message: 'no audio job %s (unknown, or removed after its retention period)' },
} as const;

export type ErrorCode = keyof typeof codes;

export interface ErrorContext {
  callId?: string;
  flow?: string;
  step?: string;
  file?: string;
  line?: number;
  column?: number;
  pointer?: string;
  [key: string]: unknown;
}

export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, args: ReadonlyArray<string | number>, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(format(codes[code].message, args), options);
    this.name = 'SwitchboardError';
    this.code = code;
    this.status = codes[code].status;
    this.context = context;
  }
}

export function sbError(code: ErrorCode, ...args: Array<string | number>): SwitchboardError {
  return new SwitchboardError(code, args);
}

export function isSwitchboardError(err: unknown, code?: ErrorCode): err is SwitchboardError {
  return err instanceof SwitchboardError && (code === undefined || err.code === code);
}

function format(template: string, args: ReadonlyArray<string | number>): string {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : '?'));
}
