import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import { endpointString, parseEndpoint, type Endpoint } from '../esl/dial-string.ts';
import { assertDialable, encodeVarValue } from '../esl/escape.ts';
import { callJobSchema, type CallJob } from './call-job.schema.ts';
import { isTimeZone, parseDays } from './window.ts';

/** One problem with a job: where (JSON pointer into the job) and what. */
export interface JobProblem {
  pointer: string;
  message: string;
}

// Not the shared createAjv(): useDefaults would write into the caller's object.
const ajv = new Ajv({ allErrors: true, strict: false });
const check = ajv.compile(callJobSchema);

/** Channel variables the queue sets itself; a job cannot override them. */
const RESERVED_VAR = /^(sb_|origination_)/;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** An ajv error as a problem with a JSON pointer (also used for batch settings and rows). */
export function fromAjv(err: ErrorObject): JobProblem {
  const params = err.params as Record<string, unknown>;
  let pointer = err.instancePath;
  // An error about a property name (propertyNames) points at that property.
  if (err.propertyName !== undefined) pointer += `/${escapePointer(err.propertyName)}`;
  else if (err.keyword === 'propertyNames') pointer += `/${escapePointer(String(params.propertyName))}`;
  if (err.keyword === 'required') pointer += `/${escapePointer(String(params.missingProperty))}`;
  if (err.keyword === 'additionalProperties') pointer += `/${escapePointer(String(params.additionalProperty))}`;
  let message = err.message ?? 'is invalid';
  if (err.keyword === 'additionalProperties') message = 'is not a known field';
  if (err.propertyName !== undefined || err.keyword === 'propertyNames') message = 'is not a channel variable name';
  if (err.keyword === 'enum') message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return { pointer: pointer || '/', message };
}

function unsafeMessage(err: unknown): string {
  if (isSwitchboardError(err, 'SB_ESL_UNSAFE_VALUE')) return err.message.replace(/^unsafe value for [^:]+: /, '');
  return err instanceof Error ? err.message : String(err);
}

/**
 * The endpoint a job dials. With `gateway`, `to` is a number dialled through it; without one,
 * `to` is an endpoint, or a bare number that goes to `defaultGateway` when there is one and to
 * `user/<number>[@domain]` otherwise.
 */
export function jobEndpoint(job: Pick<CallJob, 'to' | 'gateway'>, defaults: { gateway?: string; domain?: string } = {}): Endpoint {
  if (job.gateway !== undefined) return { kind: 'gateway', gateway: job.gateway, number: assertDialable('to', job.to) };
  if (!job.to.includes('/') && defaults.gateway !== undefined) return { kind: 'gateway', gateway: defaults.gateway, number: assertDialable('to', job.to) };
  return parseEndpoint(job.to, defaults.domain !== undefined ? { domain: defaults.domain } : {});
}

/** Every problem with a candidate job: schema first, then what the schema cannot say. */
export function jobProblems(input: unknown): JobProblem[] {
  if (!check(input)) return (check.errors ?? []).map(fromAjv);
  const job = input as CallJob;
  const problems: JobProblem[] = [];
  try {
    endpointString(jobEndpoint(job));
  } catch (err) {
    problems.push({ pointer: '/to', message: unsafeMessage(err) });
  }
  if (job.callerName !== undefined) {
    try {
      encodeVarValue('callerName', job.callerName);
    } catch (err) {
      problems.push({ pointer: '/callerName', message: unsafeMessage(err) });
    }
  }
  for (const [name, value] of Object.entries(job.vars ?? {})) {
    const pointer = `/vars/${escapePointer(name)}`;
    if (RESERVED_VAR.test(name)) {
      problems.push({ pointer, message: 'is reserved (the queue sets sb_* and origination_* itself)' });
      continue;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      problems.push({ pointer, message: 'must be a finite number' });
      continue;
    }
    try {
      encodeVarValue(`vars.${name}`, String(value));
    } catch (err) {
      problems.push({ pointer, message: unsafeMessage(err) });
    }
  }
  if (job.notBefore !== undefined && (!ISO_INSTANT.test(job.notBefore) || !Number.isFinite(Date.parse(job.notBefore)))) {
    problems.push({ pointer: '/notBefore', message: 'must be an ISO 8601 date-time with an offset, e.g. 2025-06-01T09:00:00Z' });
  }
  if (job.window !== undefined) {
    if (job.window.start === job.window.end) problems.push({ pointer: '/window/end', message: 'must differ from start (an empty window never opens)' });
    if (job.window.timezone !== undefined && !isTimeZone(job.window.timezone)) problems.push({ pointer: '/window/timezone', message: `"${job.window.timezone}" is not a known time zone` });
    try {
      parseDays(job.window.days);
    } catch (err) {
      problems.push({ pointer: '/window/days', message: unsafeMessage(err) });
    }
  }
  if (job.webhook !== undefined) {
    const url = typeof job.webhook === 'string' ? job.webhook : job.webhook.url;
    if (!URL.canParse(url)) problems.push({ pointer: typeof job.webhook === 'string' ? '/webhook' : '/webhook/url', message: 'is not a URL' });
  }
  if ((job.retryOn !== undefined || job.backoff !== undefined) && (job.attempts ?? 1) === 1) {
    // Harmless but almost certainly a mistake: say so rather than silently never retrying.
    problems.push({ pointer: '/attempts', message: 'must be more than 1 when retryOn or backoff is given' });
  }
  return problems;
}

/** The job, checked; throws SB_QUEUE_BAD_JOB with the JSON pointer of the first problem (all of them in context.problems). */
export function validateCallJob(input: unknown): CallJob {
  const problems = jobProblems(input);
  const first = problems[0];
  if (first === undefined) return input as CallJob;
  const summary = problems.map((p) => `${p.pointer} ${p.message}`).join('; ');
  throw new SwitchboardError('SB_QUEUE_BAD_JOB', [summary], { pointer: first.pointer, problems });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What makes two jobs "the same call" for an idempotency key: every field but the key, in a stable order. */
export function jobFingerprint(job: CallJob): string {
  const { idempotencyKey: _key, ...rest } = job;
  return createHash('sha256').update(canonical(rest)).digest('hex').slice(0, 32);
}
