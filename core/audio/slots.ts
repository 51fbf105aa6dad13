import { SwitchboardError } from '../errors.ts';

/** A counting semaphore, first come first served: at most `size` holders; waiting can be aborted. */
export class Slots {
  private held = 0;
  private readonly waiters: Array<{ grant: () => void }> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new SwitchboardError('SB_AUDIO_BAD_OPTION', [`concurrency must be a positive integer, not ${size}`]);
  }

  get active(): number {
    return this.held;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with the release function once a slot is free; rejects with the signal's reason on abort. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const release = (): (() => void) => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.held--;
        this.waiters.shift()?.grant();
      };
    };
    if (this.held < this.size) {
      this.held++;
      return Promise.resolve(release());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.held++;
          resolve(release());
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }
}
