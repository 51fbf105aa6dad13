import { SwitchboardError } from '../errors.ts';
import type { Frame } from './frame.ts';

interface Waiting {
  command: string;
  resolve(frame: Frame): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Settled early (timeout or abort): its reply is still owed by FreeSWITCH and is swallowed. */
  abandoned: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * FreeSWITCH answers commands strictly in the order they were sent. Every command that gets a
 * reply takes one slot here, so a reply can only ever reach the command it belongs to.
 */
export class ReplyQueue {
  private items: Waiting[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(command: string, resolve: (f: Frame) => void, reject: (e: Error) => void, timeoutMs: number, signal?: AbortSignal): void {
    const w: Waiting = { command, resolve, reject, timer: undefined, abandoned: false, signal, onAbort: undefined };
    if (timeoutMs > 0) {
      w.timer = setTimeout(() => this.abandon(w, new SwitchboardError('SB_ESL_TIMEOUT', [timeoutMs, label(command)])), timeoutMs);
    }
    if (signal) {
      w.onAbort = () => this.abandon(w, new SwitchboardError('SB_CALL_ABORTED', ['-', label(command)]));
      if (signal.aborted) queueMicrotask(w.onAbort);
      else signal.addEventListener('abort', w.onAbort, { once: true });
    }
    this.items.push(w);
  }

  /** Gives the next reply to the oldest command; false when nothing was waiting. */
  resolveNext(frame: Frame): boolean {
    const w = this.shift();
    if (!w) return false;
    if (!w.abandoned) {
      this.release(w);
      w.resolve(frame);
    }
    return true;
  }

  rejectAll(err: Error): void {
    for (let w = this.shift(); w; w = this.shift()) {
      if (w.abandoned) continue;
      this.release(w);
      w.reject(err);
    }
  }

  private abandon(w: Waiting, err: Error): void {
    if (w.abandoned) return;
    w.abandoned = true;
    this.release(w);
    w.reject(err);
  }

  private release(w: Waiting): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    w.timer = undefined;
  }

  private shift(): Waiting | undefined {
    if (this.head >= this.items.length) return undefined;
    const w = this.items[this.head];
    this.items[this.head++] = undefined as unknown as Waiting;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return w;
  }
}

function label(command: string): string {
  return command.length > 80 ? `${command.slice(0, 80)}…` : command;
}
