import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildRun {
  /** Resolves with the first stdout line that satisfies the predicate. */
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the child exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(): void;
}

/**
 * Runs a CommonJS snippet that uses raw modesl 1.2.1 in its own process, so a defect that
 * crashes the process (the point of several regression tests) cannot take the test runner down.
 * The snippet sees `esl` (modesl), `PORT` and `log(line)`.
 */
export function runModeslChild(script: string, env: Record<string, string> = {}): ChildRun {
  const prelude = "const esl = require('modesl'); const PORT = Number(process.env.PORT); const log = (l) => process.stdout.write(l + '\\n');\n";
  const child = spawn(process.execPath, ['-e', prelude + script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lineWaiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const l of d.split('\n')) {
      for (const w of [...lineWaiters]) {
        if (w.pred(l)) {
          lineWaiters.splice(lineWaiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    waitForLine(pred, timeoutMs = 10_000) {
      const already = stdout.split('\n').find(pred);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child did not print the expected line in ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`)), timeoutMs);
        lineWaiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`child exited before printing the expected line; stdout: ${stdout} stderr: ${stderr}`));
        });
      });
    },
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}
