// The process that starts sox (and the tools piped to it) for ProcessLauncher (launcher.ts).
//
// Plain JavaScript run by plain node, with nothing loaded but node:child_process: Linux copies a
// process's page tables on every fork, so starting sox from a small process costs a fraction of
// starting it from the worker that holds BullMQ, the job data and the TypeScript loader
// (docs/performance.md, "Convert audio"). Messages over the IPC channel, one request per run:
//   → { op: 'run', id, chain: [{ bin, args }], capture }   ← { op: 'ended', id, ended: [...] }
//   → { op: 'kill', id }                                      (SIGKILL to every process of the run)
// When the parent goes away (the channel closes) every process still running is killed.
import { spawn } from 'node:child_process';

/** Standard error kept per process: the head holds the messages, the tail the final progress line. */
const HEAD = 64 * 1024;
const TAIL = 4096;
/** Standard output kept when captured (sox --i over a batch of files prints a few hundred bytes each). */
const CAPTURE = 4 * 1024 * 1024;

/** @type {Map<number, import('node:child_process').ChildProcess[]>} */
const runs = new Map();

/** How one process ended, with what it wrote to standard error (and standard output, when captured). */
function ended(child, capture) {
  return new Promise((resolve) => {
    let stderr = '';
    let tail = '';
    let stdout = '';
    let spawnError;
    child.stderr?.setEncoding('utf8').on('data', (d) => {
      if (stderr.length < HEAD) stderr += d;
      tail = (tail + d).slice(-TAIL);
    });
    if (capture) child.stdout?.setEncoding('utf8').on('data', (d) => {
      if (stdout.length < CAPTURE) stdout += d;
    });
    child.once('error', (err) => {
      if (child.pid === undefined) spawnError = { code: err.code, message: err.message };
    });
    // 'close' follows a failed start too.
    child.once('close', (code, signal) => resolve({ code, signal, stderr, tail, stdout, spawnError }));
  });
}

/**
 * Starts the chain, each process's standard output going straight into the next one's standard
 * input. This process lets go of its ends of those pipes, so each process sees the other die.
 */
function run({ id, chain, capture }) {
  const processes = [];
  let refused;
  for (const [i, { bin, args }] of chain.entries()) {
    const last = i === chain.length - 1;
    const from = processes[i - 1]?.stdout;
    try {
      processes.push(spawn(bin, args, { stdio: [from ?? 'ignore', last && !capture ? 'ignore' : 'pipe', 'pipe'] }));
    } catch (err) {
      // Refused before any process started (an argument node will not pass on): that run fails, not this process.
      refused = { code: null, signal: null, stderr: '', tail: '', stdout: '', spawnError: { code: err.code, message: err.message } };
      for (const p of processes) p.kill('SIGKILL');
      break;
    }
    from?.destroy();
  }
  runs.set(id, processes);
  Promise.all(processes.map((p, i) => ended(p, capture && i === chain.length - 1))).then((all) => {
    runs.delete(id);
    while (refused && all.length < chain.length) all.push(refused);
    if (process.connected) process.send({ op: 'ended', id, ended: all });
  });
}

function kill(id) {
  for (const p of runs.get(id) ?? []) p.kill('SIGKILL');
}

process.on('message', (m) => {
  if (m.op === 'run') run(m);
  else if (m.op === 'kill') kill(m.id);
});
process.on('disconnect', () => {
  for (const id of runs.keys()) kill(id);
  process.exit(0);
});
