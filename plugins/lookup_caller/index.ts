import { isAbsolute, resolve } from 'node:path';
import { defineTool } from '../../core/plugins/types.ts';
import { loadDirectory, phoneDigits, samePhone, type DirectoryRecord } from './directory.ts';

export interface LookupCallerInput {
  phone?: string;
}

export interface LookupCallerOptions {
  file: string;
  column?: string;
}

export type LookupCallerResult =
  | { found: true; phone: string; record: DirectoryRecord }
  | { found: false; phone: string }
  | { error: string };

export default defineTool<LookupCallerInput>({
  meta: {
    name: 'lookup_caller',
    version: '1.0.0',
    engine: '^0.1',
    description:
      'Looks a phone number up in the company\'s contact directory and returns the contact\'s record (such as name, company, notes). ' +
      'Call it without arguments at the start of the call to recognise the caller by the number they are calling from, ' +
      'or with phone when the caller gives another number of theirs. If found is false, the number is not in the directory: ask the caller\'s name instead of guessing.',
    timeoutMs: 2000,
    schema: {
      type: 'object',
      properties: {
        phone: { type: 'string', description: 'Phone number to look up, digits with optional leading +, e.g. "+15551234567". Omit it to look up the caller\'s own number.' },
      },
    },
    optionsSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['file'],
      properties: {
        file: { type: 'string', minLength: 1, description: 'CSV with a header row, or a JSON array of objects; relative to the flows directory, or absolute.' },
        column: { type: 'string', minLength: 1, default: 'phone', description: 'The column (CSV) or field (JSON) holding the phone number; case does not matter.' },
      },
    },
  },
  async run(input, ctx) {
    const options = ctx.options as Partial<LookupCallerOptions>;
    const asked = typeof input.phone === 'string' ? input.phone.trim() : '';
    const phone = phoneDigits(asked !== '' ? asked : (ctx.call?.data.callerNumber ?? ''));
    if (!phone) {
      return answer({
        error: asked !== '' ? `"${asked.slice(0, 40)}" is not a phone number: pass digits, e.g. "+15551234567"` : 'the caller\'s number is not available (withheld or unknown): ask the caller for it',
      });
    }

    if (typeof options.file !== 'string' || options.file === '') {
      ctx.log.warn({ tool: 'lookup_caller' }, 'lookup_caller needs a `file` option in the flow');
      return answer({ error: 'the contact directory is not available right now' });
    }
    const path = isAbsolute(options.file) ? options.file : resolve(ctx.config.flowsDir, options.file);
    const column = (typeof options.column === 'string' && options.column !== '' ? options.column : 'phone').toLowerCase();
    let records: DirectoryRecord[];
    try {
      records = await loadDirectory(path, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.log.warn({ tool: 'lookup_caller', file: path, err: (err as Error).message }, 'lookup_caller cannot read its directory');
      return answer({ error: 'the contact directory is not available right now' });
    }

    const phoneOf = (record: DirectoryRecord): unknown => Object.entries(record).find(([key]) => key.trim().toLowerCase() === column)?.[1];
    if (records.length > 0 && !records.some((r) => phoneOf(r) !== undefined)) {
      ctx.log.warn({ tool: 'lookup_caller', file: path, column }, 'lookup_caller: the directory has no such phone column');
      return answer({ error: 'the contact directory is not available right now' });
    }
    const record = records.find((r) => {
      const value = phoneOf(r);
      const digits = typeof value === 'string' || typeof value === 'number' ? phoneDigits(String(value)) : undefined;
      return digits !== undefined && samePhone(digits, phone);
    });
    return answer(record ? { found: true, phone, record } : { found: false, phone });
  },
});

function answer(result: LookupCallerResult): { result: LookupCallerResult } {
  return { result };
}
