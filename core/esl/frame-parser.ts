import { decodeHeaderValue } from './url-decode.ts';
import type { Frame } from './frame.ts';

export interface FrameParserOptions {
  /** A frame whose declared body is larger than this is a protocol error (the peer is not FreeSWITCH). */
  maxBodyBytes?: number;
}

/** A problem in the byte stream. `fatal` means the stream cannot be resynchronised and the connection should close. */
export interface ProtocolProblem {
  message: string;
  fatal: boolean;
}

const HEADER_END = Buffer.from('\n\n');

/**
 * Incremental ESL framing: header block, blank line, then exactly Content-Length bytes.
 *
 * Linear in the bytes received: each chunk is scanned once for the end of headers with
 * Buffer#indexOf, and a body still arriving is collected as a list of chunks and joined once
 * (modesl concatenated the whole buffer on every chunk and scanned it byte by byte in JS).
 */
export class FrameParser {
  private pending: Buffer | null = null;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private headers: Record<string, string> | null = null;
  private need = 0;
  private readonly maxBodyBytes: number;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onProblem: (problem: ProtocolProblem) => void = () => {},
    options: FrameParserOptions = {},
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  }

  push(chunk: Buffer): void {
    if (this.headers !== null && this.pendingBytes() + chunk.length < this.need) {
      this.queued.push(chunk);
      this.queuedBytes += chunk.length;
      return;
    }
    let buf: Buffer;
    if (this.pending === null && this.queued.length === 0) buf = chunk;
    else {
      const parts = this.pending === null ? [...this.queued, chunk] : [this.pending, ...this.queued, chunk];
      buf = Buffer.concat(parts);
    }
    this.pending = null;
    this.queued = [];
    this.queuedBytes = 0;
    this.consume(buf);
  }

  /** Drops any partial frame, e.g. after a reconnect. */
  reset(): void {
    this.pending = null;
    this.queued = [];
    this.queuedBytes = 0;
    this.headers = null;
    this.need = 0;
  }

  private pendingBytes(): number {
    return (this.pending?.length ?? 0) + this.queuedBytes;
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    const len = buf.length;
    for (;;) {
      if (this.headers === null) {
        // Tolerate blank lines between frames.
        while (pos < len && buf[pos] === 0x0a) pos++;
        if (pos >= len) break;
        const end = buf.indexOf(HEADER_END, pos);
        if (end === -1) break;
        const headers = parseHeaderBlock(buf.toString('utf8', pos, end), this.onProblem);
        pos = end + 2;
        const cl = headers['Content-Length'];
        if (cl === undefined) {
          this.emit(headers, undefined);
          continue;
        }
        const need = /^\d+$/.test(cl) ? Number(cl) : NaN;
        if (!Number.isSafeInteger(need)) {
          this.onProblem({ message: `bad Content-Length "${cl}"; frame taken without a body`, fatal: false });
          this.emit(headers, undefined);
          continue;
        }
        if (need > this.maxBodyBytes) {
          this.onProblem({ message: `Content-Length ${need} exceeds the ${this.maxBodyBytes}-byte limit`, fatal: true });
          this.reset();
          return;
        }
        this.headers = headers;
        this.need = need;
      }
      if (len - pos < this.need) break;
      const headers = this.headers;
      const body = buf.toString('utf8', pos, pos + this.need);
      pos += this.need;
      this.headers = null;
      this.need = 0;
      this.emit(headers, body);
    }
    this.pending = pos < len ? buf.subarray(pos) : null;
  }

  private emit(headers: Record<string, string>, body: string | undefined): void {
    this.onFrame({ headers, body });
  }
}

/** Parses `Name: value` lines; values are URL-decoded tolerantly. Used for frames and plain event bodies. */
export function parseHeaderBlock(text: string, onProblem?: (problem: ProtocolProblem) => void): Record<string, string> {
  const headers: Record<string, string> = {};
  let start = 0;
  const len = text.length;
  while (start < len) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = len;
    let lineEnd = end;
    if (lineEnd > start && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    if (lineEnd > start) {
      const colon = text.indexOf(': ', start);
      if (colon !== -1 && colon < lineEnd) {
        headers[text.slice(start, colon)] = decodeHeaderValue(text.slice(colon + 2, lineEnd));
      } else if (text.charCodeAt(lineEnd - 1) === 58 /* ':' */) {
        headers[text.slice(start, lineEnd - 1)] = '';
      } else {
        onProblem?.({ message: `header line without ": " ignored: ${JSON.stringify(text.slice(start, Math.min(lineEnd, start + 80)))}`, fatal: false });
      }
    }
    start = end + 1;
  }
  return headers;
}
