import { fork, type ChildProcess } from 'node:child_process';

/** A process to start: no shell, the arguments as they are. */
export interface ProcessSpec {
  bin: string;
  args: readonly string[];
}

/** How one process of a run ended. */
export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The first 64 KiB of its standard error. */
  stderr: string;
  /** The last 4 KiB of it (sox's final progress line). */
  tail: string;
  /** Its standard output, when the run captured it (last process only). */
  stdout: string;
  /** Why it could not be started (ENOENT: not installed). */
  spawnError: { code: string | undefined; message: string } | undefined;
}

/** A run in progress. */
export interface Launched {
  /** Resolves when every process of the run has exited. */
  readonly ended: Promise<ProcessEnd[]>;
  /** SIGKILL to every process of the run. */
  kill(): void;
}

/** The launcher process itself went away: every run in progress ends with this. */
export class LauncherGone extends Error {}

type Reply = { op: 'ended'; id: number; ended: ProcessEnd[] };

/**
 * Starts processes from a small helper process (launcher-process.js) instead of from this one.
 * Forking copies the forking process's page tables: from a worker holding a few hundred MB that
 * is about 2 ms of CPU per sox, more than the rest of a job's bookkeeping together; from the
 * helper it is a fraction of that. The helper is started on the first run, holds this process's
 * event loop only while runs are in progress, kills what it started when this process goes away,
 * and is started again if it dies (the runs in progress then fail with LauncherGone).
 */
export class ProcessLauncher {
  private current: Helper | undefined;
  private nextId = 0;

  /** @param env the environment of every process started (the helper's own). */
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The helper's pid while it runs. */
  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /**
   * Starts `chain`, each process's standard output piped into the next one's standard input;
   * with `capture`, the last one's standard output is returned.
   */
  run(chain: readonly ProcessSpec[], options: { capture?: boolean } = {}): Launched {
    const helper = this.helper();
    const { child, runs } = helper;
    const id = this.nextId++;
    const ended = new Promise<ProcessEnd[]>((resolve, reject) => runs.set(id, { resolve, reject }));
    if (runs.size === 1) hold(child, true);
    child.send({ op: 'run', id, chain: chain.map(({ bin, args }) => ({ bin, args })), capture: options.capture === true });
    return {
      ended,
      kill: () => {
        if (runs.has(id) && child.connected) child.send({ op: 'kill', id });
      },
    };
  }

  /** Stops the helper; runs in progress are killed and fail with LauncherGone. */
  close(): void {
    if (this.current?.child.connected) this.current.child.disconnect();
    this.current = undefined;
  }

  private helper(): Helper {
    if (this.current?.child.connected) return this.current;
    // None of this process's node flags (the TypeScript loader, an inspector), from its command
    // line or NODE_OPTIONS; --single-threaded: no V8 worker threads for a process this small.
    const { NODE_OPTIONS: _flags, ...env } = this.env;
    const child = fork(new URL('./launcher-process.js', import.meta.url).pathname, [], { execArgv: ['--single-threaded'], env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
    const helper: Helper = { child, runs: new Map() };
    child.on('message', (m: Reply) => {
      const run = helper.runs.get(m.id);
      if (!run) return;
      helper.runs.delete(m.id);
      run.resolve(m.ended);
      if (helper.runs.size === 0) hold(child, false);
    });
    child.once('exit', (code, signal) => {
      if (this.current === helper) this.current = undefined;
      const gone = new LauncherGone(`the process launcher exited (${signal ?? `code ${code}`})`);
      for (const run of helper.runs.values()) run.reject(gone);
      helper.runs.clear();
    });
    // A failed fork ends in 'exit' as well.
    child.on('error', () => {});
    hold(child, false);
    this.current = helper;
    return helper;
  }
}

interface Helper {
  child: ChildProcess;
  runs: Map<number, { resolve(e: ProcessEnd[]): void; reject(err: Error): void }>;
}

/** Keeps this process alive for the helper only while a run is in progress. */
function hold(child: ChildProcess, yes: boolean): void {
  if (yes) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}
