import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from './event-decode.ts';
import type { Frame } from './frame.ts';
import { FrameParser } from './frame-parser.ts';
import { decodeHeaderValue } from './url-decode.ts';

const FIXTURES = new URL('../../../shared/fixtures/esl/', import.meta.url).pathname;
const captures = readdirSync(FIXTURES).filter((f) => f.endsWith('.bin')).sort();

/** Independent reference: split a whole capture into raw frames with nothing but byte arithmetic. */
function referenceFrames(bytes: Buffer): Array<{ rawHeaders: Array<[string, string]>; body: Buffer | undefined }> {
  const frames = [];
  let pos = 0;
  while (pos < bytes.length) {
    const end = bytes.indexOf('\n\n', pos);
    if (end === -1) throw new Error(`capture ends inside a header block at byte ${pos}`);
    const rawHeaders = bytes.toString('utf8', pos, end).split('\n').map((line) => {
      const i = line.indexOf(': ');
      return [line.slice(0, i), line.slice(i + 2)] as [string, string];
    });
    pos = end + 2;
    const cl = rawHeaders.find(([k]) => k === 'Content-Length');
    let body: Buffer | undefined;
    if (cl) {
      body = bytes.subarray(pos, pos + Number(cl[1]));
      pos += Number(cl[1]);
    }
    frames.push({ rawHeaders, body });
  }
  return frames;
}

function parseInChunks(bytes: Buffer, seed: number): Frame[] {
  const frames: Frame[] = [];
  const problems: string[] = [];
  const parser = new FrameParser((f) => frames.push(f), (p) => problems.push(p.message));
  let rnd = seed;
  const next = (): number => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff);
  for (let pos = 0; pos < bytes.length; ) {
    const size = 1 + (next() % 700);
    parser.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  expect(problems).toEqual([]);
  return frames;
}

describe('FrameParser on real FreeSWITCH captures', () => {
  it('has captures to check', () => {
    expect(captures.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of captures) {
    it(`${name}: same frames, headers and bodies byte for byte, whatever the chunking`, () => {
      const bytes = readFileSync(join(FIXTURES, name));
      const expected = referenceFrames(bytes);
      for (const seed of [1, 7, 42, 1234, 99991]) {
        const frames = parseInChunks(bytes, seed);
        expect(frames.length).toBe(expected.length);
        frames.forEach((frame, i) => {
          const ref = expected[i]!;
          expect(Object.keys(frame.headers)).toEqual(ref.rawHeaders.map(([k]) => k));
          for (const [k, raw] of ref.rawHeaders) {
            if (!raw.includes('%')) expect(frame.headers[k]).toBe(raw);
          }
          if (ref.body === undefined) expect(frame.body).toBeUndefined();
          else expect(Buffer.from(frame.body ?? '', 'utf8').equals(ref.body)).toBe(true);
        });
      }
    });
  }

  it('decodes every event in the captures, json and plain agree on the channel lifecycle', () => {
    const names = (file: string): string[] =>
      parseInChunks(readFileSync(join(FIXTURES, file)), 3)
        .filter((f) => f.headers['Content-Type']?.startsWith('text/event-'))
        .map((f) => decodeEvent(f).name);
    const plain = names('03-events-plain.bin');
    const json = names('03-events-json.bin');
    expect(plain).toContain('CHANNEL_CREATE');
    expect(plain).toContain('CHANNEL_HANGUP_COMPLETE');
    expect(json).toContain('CHANNEL_DESTROY');
    const lifecycle = (list: string[]): string[] => list.filter((n) => n.startsWith('CHANNEL_'));
    expect(lifecycle(plain)).toEqual(lifecycle(json));
  });

  it('reads the lossy plain encoding without throwing, and event-json exactly', () => {
    const find = (file: string): Record<string, unknown> => {
      const frames = parseInChunks(readFileSync(join(FIXTURES, file)), 5);
      const ev = frames
        .filter((f) => f.headers['Content-Type']?.startsWith('text/event-'))
        .map((f) => decodeEvent(f))
        .find((e) => e.variable('sb_note') !== undefined);
      return { note: ev?.variable('sb_note'), raw: ev?.variable('sb_raw_escape') };
    };
    // FreeSWITCH sent `100%25%20a%25zz%20b%25%20caf%C3%A9` and `caf%E9`: %25 of the original `b%25` is indistinguishable.
    expect(find('03-events-plain.bin')).toEqual({ note: '100% a%zz b% café', raw: 'caf%E9' });
    expect(find('03-events-json.bin')).toEqual({ note: '100% a%zz b%25 café', raw: 'caf%E9' });
  });

  it('decodes the outbound connect reply (URL-encoded channel data)', () => {
    const frames = parseInChunks(readFileSync(join(FIXTURES, '04-outbound.bin')), 11);
    const connect = frames[0]!;
    expect(connect.headers['Content-Type']).toBe('command/reply');
    expect(connect.headers['Reply-Text']).toBe('+OK\n');
    expect(connect.headers['Socket-Mode']).toBe('async');
    expect(connect.headers['Control']).toBe('full');
    expect(connect.headers['Channel-Destination-Number']).toBe('7100');
    expect(connect.headers['Event-Date-GMT']).toMatch(/^Mon, 23 Nov 2026 /);
    const last = frames.at(-1)!;
    expect(last.headers['Content-Type']).toBe('text/disconnect-notice');
    expect(last.headers['Content-Disposition']).toBe('linger');
  });
});

describe('decodeHeaderValue', () => {
  it.each([
    ['plain text', 'plain text'],
    ['%2B1555', '+1555'],
    ['caf%C3%A9', 'café'],
    ['caf%E9', 'caf%E9'],
    ['100%', '100%'],
    ['a%zz', 'a%zz'],
    ['%', '%'],
    ['%%%', '%%%'],
    ['x%C3', 'x%C3'],
    ['%E2%82%AC and %E9', '€ and %E9'],
  ])('%s → %s', (input, output) => {
    expect(decodeHeaderValue(input)).toBe(output);
  });
});
