import { Ajv } from 'ajv';
import { SwitchboardError } from '../errors.ts';
import { batchRowSchema, batchSettingsSchema, rowCallJob, type BatchRow, type BatchSettings } from './batch.schema.ts';
import type { CallJob } from './call-job.schema.ts';
import { fromAjv, jobProblems, type JobProblem } from './validate.ts';

/** A row that was not accepted: its number (1-based, in request order), where and what. */
export interface RejectedRow {
  row: number;
  /** JSON pointer into the request, `/rows/<index>/<field>`. */
  pointer: string;
  message: string;
  /** CSV uploads: the line of the file the row starts on. */
  line?: number;
}

export interface AcceptedRow {
  /** 1-based number of the row in the request; the row's call job id is made from it. */
  row: number;
  data: BatchRow;
}

export interface CheckedBatch {
  settings: BatchSettings;
  rows: AcceptedRow[];
  rejected: RejectedRow[];
}

// Not the shared createAjv(): useDefaults would write into the caller's object.
const settingsCheck = new Ajv({ allErrors: true, strict: false }).compile(batchSettingsSchema);
// A rejected row reports its first problem only: no need to collect them all, 10 000 times.
const rowCheck = new Ajv({ allErrors: false, strict: false }).compile(batchRowSchema);

function summary(problems: readonly JobProblem[]): string {
  return problems.map((p) => `${p.pointer} ${p.message}`).join('; ');
}

function badRequest(problems: JobProblem[]): SwitchboardError {
  return new SwitchboardError('SB_BATCH_BAD_REQUEST', [summary(problems)], { pointer: problems[0]?.pointer ?? '/', problems });
}

/** The shared settings, checked like a call job (schema, then what it cannot say); SB_BATCH_BAD_REQUEST with pointers. */
export function checkBatchSettings(input: unknown): BatchSettings {
  if (!settingsCheck(input)) throw badRequest((settingsCheck.errors ?? []).map(fromAjv));
  const settings = input as BatchSettings;
  // The settings as a call job to a placeholder number: zone exists, vars are safe, retries make sense, …
  const problems = jobProblems(rowCallJob(settings, { to: '1000' })).filter((p) => p.pointer !== '/to');
  if (problems.length > 0) throw badRequest(problems);
  return settings;
}

/** The first problem of row `index` (0-based) as a call job with these settings, or undefined. */
function rowProblem(settings: BatchSettings, row: unknown, index: number): JobProblem | undefined {
  const at = (p: JobProblem): JobProblem => ({ pointer: `/rows/${index}${p.pointer === '/' ? '' : p.pointer}`, message: p.message });
  if (!rowCheck(row)) {
    const err = rowCheck.errors?.[0];
    return at(err ? fromAjv(err) : { pointer: '/', message: 'is invalid' });
  }
  const first = jobProblems(rowCheckJob(settings, row as BatchRow))[0];
  return first ? at(first) : undefined;
}

/**
 * What a row adds to the settings, as a call job: its own fields, the flow, the gateway its
 * number is dialled through, and the vars merged. The settings were checked once already;
 * checking them again for each of 10 000 rows (a time zone costs ~0.1 ms) is what this avoids.
 */
function rowCheckJob(settings: BatchSettings, row: BatchRow): CallJob {
  const vars = settings.vars !== undefined || row.vars !== undefined ? { ...settings.vars, ...row.vars } : undefined;
  return { ...row, flow: settings.flow, ...(settings.gateway !== undefined ? { gateway: settings.gateway } : {}), ...(vars !== undefined ? { vars } : {}) };
}

/**
 * Sorts rows into accepted and rejected. `lines` (CSV) gives each row's line in the file;
 * `unreadable` (CSV) gives rows that could not be made into a row at all, with why.
 */
export function checkBatchRows(
  settings: BatchSettings,
  rows: readonly unknown[],
  csv: { lines?: readonly number[]; unreadable?: ReadonlyMap<number, string> } = {},
): { rows: AcceptedRow[]; rejected: RejectedRow[] } {
  const accepted: AcceptedRow[] = [];
  const rejected: RejectedRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const unreadable = csv.unreadable?.get(i);
    const problem = unreadable !== undefined ? { pointer: `/rows/${i}`, message: unreadable } : rowProblem(settings, rows[i], i);
    const line = csv.lines?.[i];
    if (problem) rejected.push({ row: i + 1, ...problem, ...(line !== undefined ? { line } : {}) });
    else accepted.push({ row: i + 1, data: rows[i] as BatchRow });
  }
  return { rows: accepted, rejected };
}

/** The size check shared by JSON and CSV: more rows than allowed is a 413, before any row is looked at. */
export function checkRowCount(count: number, maxRows: number): void {
  if (count > maxRows) throw new SwitchboardError('SB_BATCH_TOO_LARGE', [maxRows, count], { pointer: '/rows' });
}

/** A JSON batch: the settings and `rows`, checked. Throws for bad settings or no rows; bad rows are only reported. */
export function checkBatch(body: unknown, maxRows: number): CheckedBatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest([{ pointer: '/', message: 'must be an object: the settings and "rows"' }]);
  const { rows, ...settings } = body as Record<string, unknown>;
  if (!Array.isArray(rows) || rows.length === 0) throw badRequest([{ pointer: '/rows', message: 'must be a non-empty array of rows' }]);
  checkRowCount(rows.length, maxRows);
  const checked = checkBatchSettings(settings);
  return { settings: checked, ...checkBatchRows(checked, rows) };
}
