/**
 * A batch uploaded as CSV (RFC 4180, parsed by csv-parse): the header row names the columns,
 * `to` the number, `from` and `callerName` the row's overrides, every other column a channel
 * variable; an empty cell is no value. The settings come from the query string, as strings
 * turned into the types of the settings schema.
 */
import { parse } from 'csv-parse/sync';
import { SwitchboardError } from '../errors.ts';
import { batchSettingsSchema } from './batch.schema.ts';
import { checkRowCount } from './batch-validate.ts';
import { callJobSchema } from './call-job.schema.ts';

/** Columns that fill the row's own fields; the others are vars. */
const ROW_COLUMNS: ReadonlySet<string> = new Set(['to', 'from', 'callerName']);
const VAR_NAME = new RegExp(callJobSchema.properties.vars.propertyNames.pattern);

export interface CsvRows {
  rows: Array<Record<string, unknown>>;
  /** The file line each row starts on. */
  lines: number[];
  /** Rows that are not rows (more fields than columns), by index, with why. */
  unreadable: Map<number, string>;
}

interface Parsed {
  record: string[];
  /** lines: the line the record ends on; bytes: where it ends in the UTF-8 text (line break included); empty_lines: skipped so far. */
  info: { lines: number; empty_lines: number; bytes: number };
}

function badCsv(message: string, line?: number): SwitchboardError {
  return new SwitchboardError('SB_BATCH_BAD_CSV', [line !== undefined ? `line ${line}: ${message}` : message], line !== undefined ? { line } : {});
}

export function parseBatchCsv(text: string, maxRows: number): CsvRows {
  let records: Parsed[];
  try {
    records = parse(text, { bom: true, info: true, skip_empty_lines: true, relax_column_count: true, trim: true }) as unknown as Parsed[];
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw badCsv(e.message.replace(/^[^:]*: /, ''), e.lines);
  }
  const [head, ...body] = records;
  if (!head) throw badCsv('the file is empty: the first line names the columns (to, then vars)');
  const columns = head.record;
  const seen = new Set<string>();
  for (const name of columns) {
    if (name === '') throw badCsv('a column has no name', head.info.lines);
    if (seen.has(name)) throw badCsv(`column "${name}" appears twice`, head.info.lines);
    if (!ROW_COLUMNS.has(name) && !VAR_NAME.test(name)) throw badCsv(`column "${name}" is not a channel variable name (letters, digits, _ . -, not starting with a digit)`, head.info.lines);
    seen.add(name);
  }
  if (!seen.has('to')) throw badCsv('no "to" column: the header must name the column of the numbers to call', head.info.lines);
  if (body.length === 0) throw badCsv('no rows after the header');
  checkRowCount(body.length, maxRows);

  const out: CsvRows = { rows: [], lines: [], unreadable: new Map() };
  // A row's first line: the line breaks before it, counted in the bytes up to the previous
  // record's end (csv-parse's own line count is off after a quoted CRLF), plus empty lines skipped.
  const bytes = Buffer.from(text);
  let breaks = 0;
  let at = 0;
  let end = head.info.bytes;
  let empty = head.info.empty_lines;
  for (const { record, info } of body) {
    for (; at < end; at++) if (bytes[at] === 0x0a) breaks++;
    out.lines.push(1 + breaks + (info.empty_lines - empty));
    end = info.bytes;
    empty = info.empty_lines;
    const extra = record.slice(columns.length).filter((v) => v !== '');
    if (extra.length > 0) out.unreadable.set(out.rows.length, `has ${record.length} fields; the header names ${columns.length} columns`);
    const row: Record<string, unknown> = {};
    const vars: Record<string, string> = {};
    columns.forEach((name, i) => {
      const value = record[i] ?? '';
      if (value === '') return;
      if (ROW_COLUMNS.has(name)) row[name] = value;
      else vars[name] = value;
    });
    if (Object.keys(vars).length > 0) row.vars = vars;
    out.rows.push(row);
  }
  return out;
}

// --- settings in the query string ------------------------------------------------------------

type Schema = { type?: string; properties?: Record<string, Schema>; anyOf?: readonly Schema[]; description?: string };

const SETTINGS = batchSettingsSchema.properties as unknown as Record<string, Schema>;

/** The object form of a setting (`window`, `backoff`, `webhook` as `{ url, events }`), if it has one. */
function objectProperties(schema: Schema | undefined): Record<string, Schema> | undefined {
  return schema?.properties ?? schema?.anyOf?.find((s) => s.type === 'object')?.properties;
}

function coerce(value: unknown, schema: Schema | undefined): unknown {
  if (typeof value !== 'string' || schema === undefined) return value;
  if ((schema.type === 'integer' || schema.type === 'number') && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (schema.type === 'array') return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
  return value;
}

/**
 * Query parameters as batch settings: `attempts=3`, `retryOn=USER_BUSY,NO_ANSWER`,
 * `window.start=09:00`, `backoff.delayMs=60000`, `vars.campaign=spring`. What does not fit is
 * passed on as it is, for the settings check to report with its pointer.
 */
export function settingsFromQuery(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    const dot = key.indexOf('.');
    if (dot < 0) {
      out[key] = coerce(value, SETTINGS[key]);
      continue;
    }
    const outer = key.slice(0, dot);
    const inner = key.slice(dot + 1);
    const current = out[outer];
    const target = (current !== null && typeof current === 'object' && !Array.isArray(current) ? current : (out[outer] = {})) as Record<string, unknown>;
    target[inner] = outer === 'vars' ? value : coerce(value, objectProperties(SETTINGS[outer])?.[inner]);
  }
  return out;
}

const LIST = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };

function queryParameter(schema: Schema, name: string): Record<string, unknown> {
  const what = schema.type === 'array' ? `comma-separated (${name}=A,B), or repeated` : schema.type === 'integer' ? 'an integer' : undefined;
  const description = [schema.description, what].filter(Boolean).join(' — ');
  return { ...(schema.type === 'array' ? LIST : { type: 'string' }), ...(description ? { description } : {}) };
}

/**
 * The query string of `POST /v1/batches`, derived from the settings schema: `strict`, and for
 * CSV uploads every setting, nested ones as `window.start`, shared vars as `vars.<name>`.
 */
export const batchQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    strict: { type: 'string', enum: ['true', 'false'], description: 'true: any invalid row rejects the whole batch (400, nothing queued). Default false: the valid rows are queued and the invalid ones reported.' },
    ...Object.fromEntries(
      Object.entries(SETTINGS).flatMap(([name, schema]) => {
        if (name === 'vars') return [];
        const nested = objectProperties(schema);
        const own = schema.type === 'object' ? [] : [[name, queryParameter(schema, name)]];
        return [...own, ...Object.entries(nested ?? {}).map(([inner, s]) => [`${name}.${inner}`, queryParameter(s, `${name}.${inner}`)])];
      }),
    ),
  },
  patternProperties: { [`^vars\\.${callJobSchema.properties.vars.propertyNames.pattern.slice(1)}`]: { type: 'string', description: 'A channel variable shared by every row (CSV uploads).' } },
} as const;
