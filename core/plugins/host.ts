import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import semver from 'semver';
import { ENGINE_VERSION } from '../version.ts';
import type { JsonSchema, StepPlugin, ToolPlugin } from './types.ts';

export interface LoadedStep {
  plugin: StepPlugin<never>;
  validate: ValidateFunction;
  source: string;
}

export interface LoadedTool {
  plugin: ToolPlugin<never>;
  validate: ValidateFunction;
  validateOptions: ValidateFunction | undefined;
  source: string;
}

/** A plugin that could not be loaded: reported with its folder, never fatal for the others. */
export interface PluginProblem {
  source: string;
  code: 'SB_PLUGIN_INVALID';
  message: string;
}

const ENTRY_FILES = ['index.ts', 'index.js', 'index.mjs'];
const PACKAGE_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/;

const manifestSchema = {
  type: 'object',
  required: ['name', 'kind', 'version', 'engine', 'description', 'schema'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' },
    kind: { enum: ['step', 'tool'] },
    version: { type: 'string' },
    engine: { type: 'string' },
    description: { type: 'string', minLength: 1 },
    schema: { type: 'object' },
    outcomes: { type: 'array', items: { type: 'string' } },
    shorthand: { type: 'string' },
  },
} as const;

/** A fresh ajv configured the way every Switchboard schema is compiled. */
export function createAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, useDefaults: true });
}

/**
 * Discovers plugins: each sub-folder of the given directories with an index file whose default
 * export is a step or a tool. Core never lists plugins; adding a folder is enough.
 */
export class PluginHost {
  readonly steps = new Map<string, LoadedStep>();
  readonly tools = new Map<string, LoadedTool>();
  readonly problems: PluginProblem[] = [];
  private readonly ajv = createAjv();
  private readonly checkManifest = this.ajv.compile(manifestSchema);

  /** Loads plugin folders, and npm packages named by their package name (resolved from `cwd`). */
  static async load(sources: readonly string[], cwd = process.cwd()): Promise<PluginHost> {
    const host = new PluginHost();
    for (const source of sources) {
      if (PACKAGE_NAME.test(source) && !existsSync(resolve(cwd, source))) await host.loadPackage(source, cwd);
      else await host.loadDir(resolve(cwd, source));
    }
    return host;
  }

  /** A plugin published as an npm package: its main entry's default export is the plugin. */
  async loadPackage(name: string, cwd: string): Promise<void> {
    let entry: string;
    try {
      entry = createRequire(join(cwd, 'package.json')).resolve(name);
    } catch {
      return this.problem(name, `npm package "${name}" is not installed (npm install ${name})`);
    }
    await this.loadPlugin(dirname(entry), entry);
  }

  async loadDir(dir: string): Promise<void> {
    if (!existsSync(dir)) {
      this.problems.push({ source: dir, code: 'SB_PLUGIN_INVALID', message: 'plugin directory does not exist' });
      return;
    }
    for (const name of readdirSync(dir).sort()) {
      const folder = join(dir, name);
      if (!statSync(folder).isDirectory()) continue;
      const entry = ENTRY_FILES.map((f) => join(folder, f)).find((f) => existsSync(f));
      if (!entry) continue;
      await this.loadPlugin(folder, entry);
    }
  }

  async loadPlugin(folder: string, entry: string): Promise<void> {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
    } catch (err) {
      return this.problem(folder, `cannot be imported: ${(err as Error).message}`);
    }
    const plugin = mod.default as (StepPlugin<never> | ToolPlugin<never>) | undefined;
    if (!plugin || typeof plugin !== 'object' || !('meta' in plugin)) return this.problem(folder, 'has no default export with a `meta` manifest');
    if (!this.checkManifest(plugin.meta)) {
      const e = this.checkManifest.errors?.[0];
      return this.problem(folder, `manifest ${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}`);
    }
    const meta = plugin.meta;
    if (!semver.validRange(meta.engine)) return this.problem(folder, `engine range "${meta.engine}" is not a semver range`);
    if (!semver.satisfies(ENGINE_VERSION, meta.engine, { includePrerelease: true })) {
      return this.problem(folder, `needs Switchboard ${meta.engine}, this is ${ENGINE_VERSION}`);
    }
    if (this.steps.has(meta.name) || this.tools.has(meta.name)) {
      const other = this.steps.get(meta.name)?.source ?? this.tools.get(meta.name)?.source;
      return this.problem(folder, `duplicate plugin name "${meta.name}" (already loaded from ${other})`);
    }
    let validate: ValidateFunction;
    let validateOptions: ValidateFunction | undefined;
    try {
      validate = this.ajv.compile(meta.schema);
      const optionsSchema = (meta as { optionsSchema?: JsonSchema }).optionsSchema;
      if (optionsSchema) validateOptions = this.ajv.compile(optionsSchema);
    } catch (err) {
      return this.problem(folder, `options schema does not compile: ${(err as Error).message}`);
    }
    if (meta.kind === 'step') {
      if (typeof (plugin as StepPlugin<never>).create !== 'function') return this.problem(folder, 'a step must export create(ctx)');
      this.steps.set(meta.name, { plugin: plugin as StepPlugin<never>, validate, source: folder });
    } else {
      if (typeof (plugin as ToolPlugin<never>).run !== 'function') return this.problem(folder, 'a tool must export run(input, ctx)');
      this.tools.set(meta.name, { plugin: plugin as ToolPlugin<never>, validate, validateOptions, source: folder });
    }
  }

  list(): Array<{ name: string; kind: 'step' | 'tool'; version: string; source: string; description: string }> {
    const rows = [
      ...[...this.steps.values()].map((s) => ({ name: s.plugin.meta.name, kind: 'step' as const, version: s.plugin.meta.version, source: s.source, description: s.plugin.meta.description })),
      ...[...this.tools.values()].map((t) => ({ name: t.plugin.meta.name, kind: 'tool' as const, version: t.plugin.meta.version, source: t.source, description: t.plugin.meta.description })),
    ];
    return rows.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  }

  private problem(source: string, message: string): void {
    this.problems.push({ source, code: 'SB_PLUGIN_INVALID', message });
  }
}
