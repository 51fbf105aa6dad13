import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A benchmark helper process (forked with tsx): a ready message, then requests answered by id. */
export class Child {
  private next = 0;
  private constructor(readonly proc: ChildProcess, readonly ready: Record<string, unknown>) {}
  static async start(file: URL, env: Record<string, string> = {}): Promise<Child> {
    const proc = fork(fileURLToPath(file), [], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CHILD_PROFILE}`] : [])], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      proc.once('message', (m) => resolve(m as Record<string, unknown>));
      proc.once('exit', (code) => reject(new Error(`${file.pathname} exited (${code})`)));
    });
    return new Child(proc, ready);
  }
  /** Sends a message; resolves with the first reply of `type` carrying the same id. */
  ask<T>(msg: Record<string, unknown>, type: string): Promise<T> {
    const id = this.next++;
    return new Promise((resolve) => {
      const on = (m: { type: string; id: number }): void => {
        if (m.type === type && m.id === id) {
          this.proc.off('message', on);
          resolve(m as T);
        }
      };
      this.proc.on('message', on);
      this.proc.send({ ...msg, id });
    });
  }
  /** Like ask, for a message answered twice (e.g. connected, then done). */
  twice<A, B>(msg: Record<string, unknown>, first: string, second: string): { first: Promise<A>; second: Promise<B> } {
    const id = this.next++;
    const wait = <T>(type: string): Promise<T> =>
      new Promise((resolve) => {
        const on = (m: { type: string; id: number }): void => {
          if (m.type === type && m.id === id) {
            this.proc.off('message', on);
            resolve(m as T);
          }
        };
        this.proc.on('message', on);
      });
    const a = wait<A>(first);
    const b = wait<B>(second);
    this.proc.send({ ...msg, id });
    return { first: a, second: b };
  }
  async close(): Promise<void> {
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.send({ type: 'close' });
    await exited;
  }
}
