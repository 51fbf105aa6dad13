import { describe, expect, it } from 'vitest';
import { InputQueue, type InputChunk } from './input-queue.ts';
import { audioPrefix, splitUtf8, trimHistory } from './input-events.ts';

function queue(max: number, maxEventBytes = 0): { q: InputQueue; sent: number[]; joined: boolean[]; dropped: number[] } {
  const sent: number[] = [];
  const joined: boolean[] = [];
  const dropped: number[] = [];
  const q = new InputQueue(audioPrefix('p', 'c'), max, { onAudioSent: (b, _ms, j) => (sent.push(b), joined.push(j)), onAudioDropped: (f) => dropped.push(f) }, maxEventBytes);
  return { q, sent, joined, dropped };
}

const audioOf = (e: unknown): number[] => [...Buffer.from((e as { event: { audioInput: { content: string } } }).event.audioInput.content, 'base64')];

async function drain(it: AsyncIterable<InputChunk>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const c of it) out.push(JSON.parse(Buffer.from(c.chunk.bytes).toString('utf8')));
  return out;
}

describe('InputQueue', () => {
  it('keeps order, encodes audio as an audioInput event only when pulled, and ends after what is queued', async () => {
    const { q, sent } = queue(10);
    q.pushEvent('{"event":{"a":{}}}');
    q.pushAudio(Buffer.from([1, 2, 3, 4]), 2);
    q.pushEvent('{"event":{"b":{}}}');
    expect(sent).toEqual([]);
    q.end();
    expect(await drain(q.iterate())).toEqual([
      { event: { a: {} } },
      { event: { audioInput: { promptName: 'p', contentName: 'c', content: Buffer.from([1, 2, 3, 4]).toString('base64') } } },
      { event: { b: {} } },
    ]);
    expect(sent).toEqual([4]);
  });

  it('drops the oldest audio beyond its bound (never a control event) and counts the frames', async () => {
    const { q, dropped } = queue(3);
    q.pushEvent('{"event":{"setup":{}}}');
    for (let i = 0; i < 6; i++) q.pushAudio(Buffer.from([i, 0]), 2);
    q.end();
    const got = (await drain(q.iterate())) as Array<{ event: Record<string, { content?: string }> }>;
    expect(got[0]).toEqual({ event: { setup: {} } });
    expect(got.slice(1).map((e) => Buffer.from(e.event.audioInput!.content!, 'base64')[0])).toEqual([3, 4, 5]);
    expect(dropped).toEqual([2, 2, 2]);
  });

  it('sends batches that are already waiting as one event, in order, up to maxEventBytes, never across a control event', async () => {
    const { q, sent, joined } = queue(10, 6);
    for (const i of [1, 2, 3, 4]) q.pushAudio(Buffer.from([i, i]), 1);
    q.pushEvent('{"event":{"x":{}}}');
    q.pushAudio(Buffer.from([5, 5]), 1);
    q.pushAudio(Buffer.from([6, 6, 6, 6, 6, 6, 6, 6]), 4); // bigger than maxEventBytes: goes alone, whole
    q.end();
    const got = await drain(q.iterate());
    expect(got.length).toBe(5);
    expect(audioOf(got[0])).toEqual([1, 1, 2, 2, 3, 3]);
    expect(audioOf(got[1])).toEqual([4, 4]);
    expect(got[2]).toEqual({ event: { x: {} } });
    expect(audioOf(got[3])).toEqual([5, 5]);
    expect(audioOf(got[4])).toEqual([6, 6, 6, 6, 6, 6, 6, 6]);
    expect(sent).toEqual([2, 2, 2, 2, 2, 8]);
    expect(joined).toEqual([false, true, true, false, false, false]);
  });

  it('runs a mark once everything before it was taken, and end(true) discards the rest', async () => {
    const { q } = queue(10);
    const it = q.iterate()[Symbol.asyncIterator]();
    let marked = false;
    q.pushEvent('{"event":{"a":{}}}');
    q.pushMark(() => (marked = true));
    q.pushEvent('{"event":{"b":{}}}');
    await it.next();
    expect(marked).toBe(false);
    await it.next(); // takes b, passing the mark
    expect(marked).toBe(true);
    q.pushEvent('{"event":{"c":{}}}');
    q.end(true);
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(q.isEnded).toBe(true);
  });

  it('wakes a waiting pull when an event arrives, and finishes it on end()', async () => {
    const { q } = queue(10);
    const it = q.iterate()[Symbol.asyncIterator]();
    const next = it.next();
    q.pushEvent('{"event":{"late":{}}}');
    expect(JSON.parse(Buffer.from((await next).value!.chunk.bytes).toString())).toEqual({ event: { late: {} } });
    const last = it.next();
    q.end();
    expect((await last).done).toBe(true);
  });
});

describe('text limits', () => {
  it('splits text into ≤ 1 KB UTF-8 pieces without cutting a character', () => {
    const text = `${'a'.repeat(1023)}é${'ü'.repeat(600)}`;
    const pieces = splitUtf8(text, 1024);
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(1024);
    expect(pieces[0]).toBe('a'.repeat(1023)); // 'é' (2 bytes) did not fit
    expect(splitUtf8('short', 1024)).toEqual(['short']);
  });

  it('keeps the newest history that fits in 40 KB', () => {
    const h = [0, 1, 2, 3].map((i) => ({ role: 'USER' as const, text: String(i).repeat(15_000) }));
    const { kept, dropped } = trimHistory(h);
    expect(dropped).toBe(2);
    expect(kept.map((m) => m.text[0])).toEqual(['2', '3']);
    expect(trimHistory(h.slice(0, 2))).toEqual({ kept: h.slice(0, 2), dropped: 0 });
  });
});
