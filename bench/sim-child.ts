import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A FreeSWITCH simulator in a child process (see sim-process.ts). */
export class SimChild {
  private nextId = 0;
  private constructor(private readonly child: ChildProcess, readonly port: number) {}

  static async start(env: Record<string, string> = {}): Promise<SimChild> {
    const child = fork(fileURLToPath(new URL('./sim-process.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { type: string; port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`simulator process exited (${code})`)));
    });
    return new SimChild(child, port);
  }

  /** Asks the simulator to write `count` events to every subscribed connection; resolves when written. */
  flood(count: number, format: 'json' | 'plain' = 'json'): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const on = (m: { type: string; id: number }): void => {
        if (m.type === 'flooded' && m.id === id) {
          this.child.off('message', on);
          resolve();
        }
      };
      this.child.on('message', on);
      this.child.send({ type: 'flood', count, format, id });
    });
  }

  /**
   * Places `count` inbound calls at `cps` towards an outbound socket server; resolves with each
   * call's overhead in ms: channel connecting → the flow's first command arriving.
   */
  calls(opts: { cps: number; count: number; port: number }): Promise<number[]> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const on = (m: { type: string; id: number; latencies: number[] }): void => {
        if (m.type === 'called' && m.id === id) {
          this.child.off('message', on);
          resolve(m.latencies);
        }
      };
      this.child.on('message', on);
      this.child.send({ type: 'calls', id, ...opts });
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'close' });
    await exited;
  }
}
