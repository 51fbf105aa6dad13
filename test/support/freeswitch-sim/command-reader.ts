/**
 * Parses what an ESL client sends, the way mod_event_socket's read_packet() does: leading blank
 * lines are skipped, a message ends at an empty line (`\n\n`, `\r` ignored), the first line is the
 * command, the others `Name: value` headers (a line without a colon is dropped), and a
 * `content-length` header makes exactly that many bytes after the empty line the body.
 * Never throws on garbage: everything becomes some command, and the caller answers
 * `-ERR command not found` as FreeSWITCH would.
 */

export interface ParsedCommand {
  /** First line without its line ending, e.g. `api status` or `sendmsg <uuid>`. */
  line: string;
  /** Headers as sent (original case); a repeated name keeps its last value. */
  headers: Record<string, string>;
  body?: string;
  /** Every byte of this message, body included. */
  raw: Buffer;
}

/** read_packet grows its buffer up to 10 MiB, then takes what it has as a message. */
const MAX_HEAD_BYTES = 10 * 1024 * 1024;

export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { head: Buffer; line: string; headers: Record<string, string>; need: number } | undefined;

  /** Feed bytes; returns every message completed by them. */
  push(chunk: Buffer): ParsedCommand[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: ParsedCommand[] = [];
    for (;;) {
      if (this.pending) {
        const p = this.pending;
        if (this.buf.length < p.need) break;
        const bodyBytes = this.buf.subarray(0, p.need);
        this.buf = this.buf.subarray(p.need);
        this.pending = undefined;
        out.push({ line: p.line, headers: p.headers, body: bodyBytes.toString('utf8'), raw: Buffer.concat([p.head, bodyBytes]) });
        continue;
      }
      // Blank lines before a command are skipped ("bah" in read_packet).
      let start = 0;
      while (start < this.buf.length && (this.buf[start] === 0x0a || this.buf[start] === 0x0d)) start++;
      if (start > 0) this.buf = this.buf.subarray(start);
      if (this.buf.length === 0) break;
      const end = findHeadEnd(this.buf);
      if (end < 0) {
        if (this.buf.length < MAX_HEAD_BYTES) break;
        const head = this.buf;
        this.buf = Buffer.alloc(0);
        out.push(parseHead(head, head.length));
        continue;
      }
      const head = Buffer.from(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(end);
      const cmd = parseHead(head, head.length);
      const cl = contentLength(cmd.headers);
      if (cl > 0) {
        this.pending = { head, line: cmd.line, headers: cmd.headers, need: cl };
        continue;
      }
      out.push(cmd);
    }
    return out;
  }
}

/** Index just past the terminating blank line, or -1. Counts `\n`s, ignoring `\r`, like crcount. */
function findHeadEnd(buf: Buffer): number {
  let crcount = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === 0x0a) {
      crcount++;
      if (crcount === 2) return i + 1;
    } else if (b !== 0x0d) {
      crcount = 0;
    }
  }
  return -1;
}

function parseHead(head: Buffer, len: number): ParsedCommand {
  const text = head.subarray(0, len).toString('utf8');
  const lines = text.split(/\r?\n|\r/);
  const line = lines[0] ?? '';
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l === '') continue;
    const colon = l.indexOf(':');
    if (colon < 0) continue;
    headers[l.slice(0, colon)] = l.slice(colon + 1).replace(/^ +/, '');
  }
  return { line, headers, raw: head };
}

function contentLength(headers: Record<string, string>): number {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === 'content-length') {
      const n = Number.parseInt(v, 10);
      return Number.isFinite(n) && n > 0 ? n : 0;
    }
  }
  return 0;
}

/** Case-insensitive header lookup (switch_event_get_header). */
export function header(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
