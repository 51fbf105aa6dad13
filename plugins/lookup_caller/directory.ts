import { readFile, stat } from 'node:fs/promises';

/** One contact: a CSV row keyed by the header, or an object of a JSON array. */
export type DirectoryRecord = Record<string, unknown>;

/** A directory is meant to be small; refuse to hold a huge file in memory for every call. */
const MAX_BYTES = 5 * 1024 * 1024;

const cache = new Map<string, { mtimeMs: number; size: number; records: DirectoryRecord[] }>();

/** The file's records, parsed once and again only when its mtime or size changes. Throws when it cannot be read or parsed. */
export async function loadDirectory(path: string, signal?: AbortSignal): Promise<DirectoryRecord[]> {
  try {
    const info = await stat(path);
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit.records;
    if (!info.isFile()) throw new Error('not a file');
    if (info.size > MAX_BYTES) throw new Error(`${info.size} bytes is more than the ${MAX_BYTES} a directory may have`);
    const records = parseDirectory(await readFile(path, { encoding: 'utf8', signal }), path);
    cache.set(path, { mtimeMs: info.mtimeMs, size: info.size, records });
    return records;
  } catch (err) {
    cache.delete(path);
    throw err;
  }
}

/** A JSON array of objects (`.json`, or text starting with `[`), else CSV with a header row. */
export function parseDirectory(text: string, name = ''): DirectoryRecord[] {
  const body = text.replace(/^\uFEFF/, '');
  if (name.toLowerCase().endsWith('.json') || body.trimStart().startsWith('[')) {
    const data: unknown = JSON.parse(body);
    if (!Array.isArray(data)) throw new Error('a JSON directory must be an array of objects');
    return data.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`item ${i} of the JSON directory is not an object`);
      return item as DirectoryRecord;
    });
  }
  const [header, ...rows] = parseCsv(body);
  if (!header) return [];
  return rows.map((row) => {
    const record: DirectoryRecord = {};
    header.forEach((column, i) => {
      if (column !== '') record[column] = row[i] ?? '';
    });
    return record;
  });
}

/**
 * RFC 4180 CSV: comma-separated, fields in double quotes may hold commas, line breaks and doubled
 * quotes (`""`). Unquoted fields are trimmed; blank lines are skipped. Throws on an unclosed quote.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let wasQuoted = false;
  let line = 1;
  let quoteLine = 0;
  const endField = (): void => {
    row.push(wasQuoted ? field : field.trim());
    field = '';
    wasQuoted = false;
  };
  const endRow = (): void => {
    endField();
    if (row.length > 1 || row[0] !== '') rows.push(row);
    row = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (inQuotes) {
      if (c === '"' && text.charAt(i + 1) === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        inQuotes = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && !wasQuoted && field.trim() === '') {
      inQuotes = true;
      wasQuoted = true;
      quoteLine = line;
      field = '';
    } else if (c === ',') {
      endField();
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text.charAt(i + 1) === '\n') i++;
      line++;
      endRow();
    } else if (!(wasQuoted && (c === ' ' || c === '\t'))) {
      field += c;
    }
  }
  if (inQuotes) throw new Error(`the quoted field opened on line ${quoteLine} is never closed`);
  if (field !== '' || wasQuoted || row.length > 0) endRow();
  return rows;
}

/** `+1 (555) 123-4567` → `15551234567`; undefined when what is left is not 2 to 20 digits. */
export function phoneDigits(text: string): string | undefined {
  const digits = text.replace(/[\s\-().]/g, '').replace(/^\+/, '');
  return /^\d{2,20}$/.test(digits) ? digits : undefined;
}

/** Same number: by the last 10 digits when both have at least 10 (country code or trunk prefix or not), else exactly. */
export function samePhone(a: string, b: string): boolean {
  return a.length >= 10 && b.length >= 10 ? a.slice(-10) === b.slice(-10) : a === b;
}
