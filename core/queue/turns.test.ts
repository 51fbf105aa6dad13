import { describe, expect, it } from 'vitest';
import { Turns } from './turns.ts';

describe('Turns', () => {
  it('gives one turn per key at a time, in arrival order; keys are independent', async () => {
    const t = new Turns();
    const never = new AbortController().signal;
    const order: string[] = [];
    expect(await t.take('a', Infinity, never)).toBe(true);
    const second = t.take('a', Infinity, never).then((ok) => order.push(`second ${ok}`));
    const third = t.take('a', Infinity, never).then((ok) => order.push(`third ${ok}`));
    expect(await t.take('b', 0, never)).toBe(true); // another key: free at once
    await Promise.resolve();
    expect(order).toEqual([]);
    t.give('a');
    await second;
    expect(order).toEqual(['second true']);
    t.give('a');
    await third;
    expect(order).toEqual(['second true', 'third true']);
    t.give('a');
    expect(await t.take('a', 0, never)).toBe(true); // the queue emptied: the key is free again
  });

  it('a waiter that times out or is aborted leaves the queue without taking a turn', async () => {
    const t = new Turns();
    const ctl = new AbortController();
    expect(await t.take('k', Infinity, ctl.signal)).toBe(true);
    expect(await t.take('k', 5, ctl.signal)).toBe(false);
    const aborted = t.take('k', Infinity, ctl.signal);
    const next = t.take('k', Infinity, new AbortController().signal);
    ctl.abort();
    expect(await aborted).toBe(false);
    t.give('k');
    expect(await next).toBe(true); // the turn went to the one still waiting
  });
});
