/**
 * A batch (campaign) as JSON Schema, derived from the call job schema so the two cannot drift:
 * the shared settings are call job fields, a row is the few call job fields that differ per
 * number. `POST /v1/batches` publishes `batchSchema`; the types below come from the schemas.
 */
import { callJobSchema, type CallJob, type FromSchema } from './call-job.schema.ts';

function pick<P extends object, K extends keyof P>(props: P, keys: readonly K[]): Pick<P, K> {
  return Object.fromEntries(keys.map((k) => [k, props[k]])) as Pick<P, K>;
}

const job = callJobSchema.properties;

/** Call job fields a row may carry: its number, and overrides of the shared settings (row vars are merged over the batch's). */
const ROW_FIELDS = ['to', 'vars', 'from', 'callerName', 'window', 'notBefore'] as const;
/** Call job fields every call of a batch shares. */
const SETTING_FIELDS = ['flow', 'from', 'callerName', 'vars', 'gateway', 'timeout', 'attempts', 'retryOn', 'backoff', 'notBefore', 'window', 'webhook'] as const;

export const batchRowSchema = {
  title: 'Batch row',
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: pick(job, ROW_FIELDS),
  description: 'One number to call; vars are merged over the batch vars, the other fields replace the batch setting for this row.',
} as const;

export const batchSettingsSchema = {
  title: 'Batch settings',
  type: 'object',
  additionalProperties: false,
  required: ['flow'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200, description: 'A label for people (shown by GET /v1/batches).' },
    ...pick(job, SETTING_FIELDS),
  },
} as const;

export const batchSchema = {
  $id: 'https://switchboard.dev/schemas/batch.json',
  title: 'Batch of outbound calls',
  type: 'object',
  additionalProperties: false,
  required: ['flow', 'rows'],
  properties: {
    ...batchSettingsSchema.properties,
    rows: { type: 'array', minItems: 1, items: batchRowSchema, description: 'The numbers to call, each with its own vars and overrides.' },
  },
} as const;

export type BatchRow = FromSchema<typeof batchRowSchema>;
export type BatchSettings = FromSchema<typeof batchSettingsSchema>;
export type BatchInput = FromSchema<typeof batchSchema>;

/** The call job of one row: the shared settings, the row's overrides, vars merged (the row's win). */
export function rowCallJob(settings: BatchSettings, row: BatchRow): CallJob {
  const { name: _name, vars: shared, ...common } = settings;
  const { vars: own, ...overrides } = row;
  const vars = shared !== undefined || own !== undefined ? { ...shared, ...own } : undefined;
  return { ...common, ...overrides, ...(vars !== undefined ? { vars } : {}) };
}
