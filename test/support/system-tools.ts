// Running the system tools the configuration tests rely on (xmllint, fail2ban-regex, shellcheck,
// nft, systemd-analyze). Always execFile with an argument array: no shell, no quoting bugs.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Absolute path of an executable found on PATH, or undefined when the tool is not installed. */
export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * A describe/it title that says why the block is skipped when the tool is missing, so a skipped
 * run reads "SKIPPED: xmllint not installed (apt-get install libxml2-utils)" instead of passing
 * silently. CI installs every tool (scripts/ensure-deps.js), so skips only happen on dev machines.
 */
export function titleFor(title: string, tool: string, debianPackage: string): string {
  return findTool(tool) ? title : `${title} — SKIPPED: ${tool} not installed (apt-get install ${debianPackage})`;
}

/** Runs a program and resolves with its exit code and output; a non-zero exit is not an error. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 15_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${file} ${args.join(' ')} did not run: ${error.message}`));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}
