/**
 * The outbound call job, as JSON Schema (draft-07, compiled by ajv): the one definition the
 * queue validates against and the REST API will publish. `CallJob` is derived from it below, so
 * the schema and the type cannot drift apart. Checks JSON Schema cannot express (the endpoint
 * parses, a channel variable value is safe for a `{…}` block, the timezone exists, notBefore is
 * a real instant) are in validate.ts and report JSON pointers the same way.
 */

const HH_MM = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

/** What a job's webhook can be told: its status changes in the order a call goes through them, and its flow's steps. */
export const WEBHOOK_EVENTS = ['queued', 'dialing', 'ringing', 'answered', 'completed', 'failed', 'retrying', 'cancelled', 'step'] as const;
const DAY = '(mon|tue|wed|thu|fri|sat|sun)';

export const callJobSchema = {
  $id: 'https://switchboard.dev/schemas/call-job.json',
  title: 'Outbound call job',
  type: 'object',
  additionalProperties: false,
  required: ['to', 'flow'],
  properties: {
    to: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description: 'Number to dial (`+15551234567`, through `gateway`), or an endpoint: `user/1001[@domain]`, `sofia/gateway/<gw>/<number>`, `sofia/<profile>/<dest>`, `loopback/<ext>`.',
    },
    from: { type: 'string', pattern: '^\\+?[0-9*#]{1,64}$', description: 'Caller ID number.' },
    callerName: { type: 'string', minLength: 1, maxLength: 64, description: 'Caller ID name.' },
    flow: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 64, description: 'Name of the flow the answered call runs (channel variable sb_flow).' },
    vars: {
      type: 'object',
      maxProperties: 64,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$' },
      additionalProperties: { anyOf: [{ type: 'string', maxLength: 1024 }, { type: 'number' }, { type: 'boolean' }] },
      description: 'Channel variables set on the call (names starting with sb_ or origination_ are reserved).',
    },
    gateway: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'SIP gateway to dial `to` through; also the pacing bucket.' },
    timeout: { type: 'integer', minimum: 1, maximum: 600, description: 'Ring time in seconds before NO_ANSWER.' },
    attempts: { type: 'integer', minimum: 1, maximum: 20, description: 'Dial attempts in all (1 = no retry).' },
    retryOn: {
      type: 'array',
      maxItems: 32,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[A-Z][A-Z_]{1,63}$' },
      description: 'Hangup causes that lead to another attempt (default USER_BUSY, NO_ANSWER, NO_USER_RESPONSE, NORMAL_TEMPORARY_FAILURE, NORMAL_CIRCUIT_CONGESTION, SWITCH_CONGESTION).',
    },
    backoff: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'delayMs'],
      properties: {
        type: { enum: ['fixed', 'exponential'] },
        delayMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
      },
      description: 'Wait between attempts: fixed, or delayMs × 2^(attempt−1).',
    },
    notBefore: { type: 'string', minLength: 10, maxLength: 40, description: 'ISO 8601 instant with an offset (`2025-06-01T09:00:00Z`): not dialled before then.' },
    window: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'end'],
      properties: {
        start: { type: 'string', pattern: HH_MM },
        end: { type: 'string', pattern: HH_MM },
        days: { type: 'string', pattern: `^${DAY}(-${DAY})?(,${DAY}(-${DAY})?)*$`, description: 'e.g. `mon-fri`, `mon-fri,sat`, `sun`; default every day.' },
        timezone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA zone, e.g. `Europe/Paris`; default UTC.' },
      },
      description: 'Calling hours: dialled only between start (inclusive) and end (exclusive), local to timezone; end ≤ start wraps past midnight.',
    },
    webhook: {
      anyOf: [
        { type: 'string', maxLength: 2048, pattern: '^https?://' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', maxLength: 2048, pattern: '^https?://' },
            events: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: WEBHOOK_EVENTS }, description: 'The events to send (default: every status event, no `step`).' },
          },
        },
      ],
      description: 'URL that receives signed status events (queued, dialing, ringing, answered, completed, failed, retrying, cancelled) as JSON POSTs; or `{ url, events }` to choose them, `step` included for one event per flow step of the answered call (core/webhooks/README.md).',
    },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 200, description: 'The same key always gives the same job; a second add never creates a second call.' },
  },
} as const;

// --- JSON Schema → TypeScript (the subset used above) -------------------------------------------

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type ObjectOf<P, R> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> } & { -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]> }
>;

/** The TypeScript type of a value a JSON Schema accepts (enum, anyOf, string, number, integer, boolean, array, object). */
export type FromSchema<S> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { anyOf: readonly (infer U)[] }
    ? FromSchema<U>
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'number' | 'integer' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'array'; items: infer I }
            ? Array<FromSchema<I>>
            : S extends { type: 'object'; properties: infer P }
              ? ObjectOf<P, S extends { required: readonly (infer R)[] } ? R : never>
              : S extends { type: 'object'; additionalProperties: infer A }
                ? Record<string, FromSchema<A>>
                : unknown;

/** An outbound call to place: see callJobSchema for each field. */
export type CallJob = FromSchema<typeof callJobSchema>;
