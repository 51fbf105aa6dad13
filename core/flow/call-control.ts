import { SwitchboardError } from '../errors.ts';

/** What an application can tell a call that waits for it (a `park` step): REST, queue, CLI. */
export type ControlCommand =
  | { action: 'answer' }
  | { action: 'hangup'; cause?: string }
  | { action: 'transfer'; to: string; context?: string }
  | { action: 'bridge'; to: string | string[]; timeout?: number };

interface Mailbox {
  queue: ControlCommand[];
  waiting: ((cmd: ControlCommand) => void) | null;
  /** A step is waiting for commands right now. */
  listening: boolean;
}

/**
 * One mailbox per live call. A step that waits for outside commands (park) reads from it; the
 * REST API sends to it. Commands to a call that is not listening are refused, not queued.
 */
export class CallControl {
  private readonly boxes = new Map<string, Mailbox>();

  open(callId: string): void {
    this.boxes.set(callId, { queue: [], waiting: null, listening: false });
  }

  close(callId: string): void {
    this.boxes.delete(callId);
  }

  /** Whether `callId` is waiting for a command (e.g. parked). */
  isListening(callId: string): boolean {
    return this.boxes.get(callId)?.listening ?? false;
  }

  /** Delivers a command; false when the call is unknown or not waiting for one. */
  send(callId: string, cmd: ControlCommand): boolean {
    const box = this.boxes.get(callId);
    if (!box || !box.listening) return false;
    if (box.waiting) {
      const deliver = box.waiting;
      box.waiting = null;
      deliver(cmd);
    } else box.queue.push(cmd);
    return true;
  }

  /** The handle a step uses: listen, then take commands until it stops listening. */
  forCall(callId: string): StepControl {
    return {
      listen: (on) => {
        const box = this.boxes.get(callId);
        if (box) {
          box.listening = on;
          if (!on) box.queue.length = 0;
        }
      },
      next: (signal) =>
        new Promise<ControlCommand>((resolve, reject) => {
          const box = this.boxes.get(callId);
          if (!box) return reject(new SwitchboardError('SB_CALL_GONE', [callId]));
          const queued = box.queue.shift();
          if (queued) return resolve(queued);
          const onAbort = (): void => {
            box.waiting = null;
            reject(new SwitchboardError('SB_CALL_ABORTED', [callId, 'waiting for a control command']));
          };
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          box.waiting = (cmd) => {
            signal.removeEventListener('abort', onAbort);
            resolve(cmd);
          };
        }),
    };
  }
}

export interface StepControl {
  /** Start (true) or stop (false) accepting commands for this call. */
  listen(on: boolean): void;
  /** The next command; rejects when the signal aborts. */
  next(signal: AbortSignal): Promise<ControlCommand>;
}
