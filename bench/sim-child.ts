import { Child } from './child.ts';

/** A FreeSWITCH simulator in a child process (see sim-process.ts). */
export class SimChild {
  private constructor(
    private readonly child: Child,
    readonly port: number,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<SimChild> {
    const child = await Child.start(new URL('./sim-process.ts', import.meta.url), env);
    return new SimChild(child, Number(child.ready.port));
  }

  /** Asks the simulator to write `count` events to every subscribed connection; resolves when written. */
  async flood(count: number, format: 'json' | 'plain' = 'json'): Promise<void> {
    await this.child.ask({ type: 'flood', count, format }, 'flooded');
  }

  /**
   * Places `count` inbound calls at `cps` towards an outbound socket server; resolves with each
   * call's overhead in ms: channel connecting → the flow's first command arriving.
   */
  async calls(opts: { cps: number; count: number; port: number }): Promise<number[]> {
    return (await this.child.ask<{ latencies: number[] }>({ type: 'calls', ...opts }, 'called')).latencies;
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
