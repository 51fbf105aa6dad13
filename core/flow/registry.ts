import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { silentLogger, type Logger } from '../log.ts';
import type { PluginHost } from '../plugins/host.ts';
import { compileFlow } from './compile.ts';
import { formatDiagnostic, type Diagnostic } from './diagnostics.ts';
import type { Plan } from './plan.ts';
import { route, sameMatch, type CallAddress } from './router.ts';

export interface LoadResult {
  plans: Plan[];
  diagnostics: Diagnostic[];
  ok: boolean;
}

/** Lists the flow files under a directory (recursively, `*.yaml` / `*.yml`), sorted. */
export function flowFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        walk(join(p, name));
      }
    } else if (/\.ya?ml$/.test(p)) out.push(p);
  };
  for (const p of paths) if (existsSync(p)) walk(p);
  return out;
}

/**
 * Compiles a set of flow files together: each file's own errors, then what only shows across
 * files (two flows with one name, two flows claiming the same destination, two defaults).
 */
export function loadFlows(files: readonly string[], host: PluginHost, cwd = process.cwd()): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const plans: Plan[] = [];
  for (const path of files) {
    const file = relative(cwd, resolve(path)) || path;
    const r = compileFlow(readFileSync(path, 'utf8'), file, host);
    diagnostics.push(...r.diagnostics);
    if (r.plan) plans.push(r.plan);
  }
  const at = (p: Plan): { file: string; line: number; column: number } => ({ file: p.file, line: 1, column: 1 });
  const byName = new Map<string, Plan>();
  let defaultPlan: Plan | undefined;
  for (const p of plans) {
    const other = byName.get(p.name);
    if (other) diagnostics.push({ ...at(p), code: 'SB_FLOW_DUPLICATE_NAME', severity: 'error', message: `flow name "${p.name}" is already used by ${other.file}` });
    else byName.set(p.name, p);
    if (p.isDefault) {
      if (defaultPlan) diagnostics.push({ ...at(p), code: 'SB_FLOW_DUPLICATE_MATCH', severity: 'error', message: `two default flows: "${p.name}" and "${defaultPlan.name}" (${defaultPlan.file})` });
      else defaultPlan = p;
    }
  }
  for (let i = 0; i < plans.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = plans[i] as Plan;
      const b = plans[j] as Plan;
      if (a.trigger !== 'inbound' || b.trigger !== 'inbound') continue;
      const dup = sameMatch(a.match, b.match);
      if (dup !== undefined) diagnostics.push({ ...at(a), code: 'SB_FLOW_DUPLICATE_MATCH', severity: 'error', message: `flow "${a.name}" matches destination "${dup}" like flow "${b.name}" (${b.file}): a call could go to either` });
    }
  }
  return { plans, diagnostics, ok: !diagnostics.some((d) => d.severity === 'error') };
}

/**
 * The live set of flows. Reload compiles everything first and swaps in one assignment, so a
 * call in progress keeps the plan it started with and a broken change leaves the old set live.
 */
export class FlowRegistry {
  private plans: ReadonlyMap<string, Plan> = new Map();
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** Bumped on every successful reload. */
  generation = 0;

  constructor(
    private readonly paths: readonly string[],
    private readonly host: PluginHost,
    logger: Logger = silentLogger,
  ) {
    this.log = logger.child({ component: 'flows' });
  }

  /** Compiles all flow files; swaps them in only when there is no error. */
  reload(): LoadResult {
    const result = loadFlows(flowFiles(this.paths), this.host);
    for (const d of result.diagnostics) (d.severity === 'error' ? this.log.error.bind(this.log) : this.log.warn.bind(this.log))({ code: d.code, file: d.file, line: d.line }, formatDiagnostic(d));
    if (!result.ok) {
      this.log.error({ errors: result.diagnostics.filter((d) => d.severity === 'error').length }, this.generation === 0 ? 'flows have errors' : 'flow change rejected; the previous flows stay live');
      return result;
    }
    this.plans = new Map(result.plans.map((p) => [p.name, p]));
    this.generation++;
    this.log.info({ flows: result.plans.map((p) => p.name), generation: this.generation }, 'flows loaded');
    return result;
  }

  get(name: string): Plan | undefined {
    return this.plans.get(name);
  }

  all(): Plan[] {
    return [...this.plans.values()];
  }

  route(call: CallAddress): Plan | undefined {
    return route(this.plans.values(), call);
  }

  /** Watches the flow directories; a change reloads after a short debounce. */
  watch(onReload?: (result: LoadResult) => void): void {
    if (this.watcher) return;
    const dir = this.paths.find((p) => existsSync(p) && statSync(p).isDirectory());
    if (!dir) return;
    this.watcher = watch(dir, { recursive: true }, (_event, name) => {
      if (name && !/\.ya?ml$/.test(String(name))) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        const result = this.reload();
        onReload?.(result);
      }, 100);
    });
    this.watcher.on('error', (err) => this.log.warn({ err: err.message }, 'flow watcher error'));
  }

  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = null;
  }
}
