import type { ErrorObject } from 'ajv';
import type { ErrorCode } from '../errors.ts';
import { createAjv, type LoadedStep, type PluginHost } from '../plugins/host.ts';
import { isTerminal } from '../plugins/types.ts';
import { didYouMean, pointer, suggestion, type Diagnostic } from './diagnostics.ts';
import type { FlowMatch, Plan, PlanStep, Section } from './plan.ts';
import { CALL_FIELDS, findRefs, stringsIn, TEMPLATE_ROOTS } from './template.ts';
import { parseYaml, YamlSyntaxError, type YamlSource } from './yaml-source.ts';

export const RESERVED_STEP_KEYS = ['id', 'on', 'description'] as const;
export const SECTIONS: readonly Section[] = ['steps', 'on_error', 'on_hangup'];
/** Jump target that ends the flow. */
export const END = 'end';
const BASE_OUTCOMES = ['ok', 'error'];
const ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** The flow document's own keys (steps are checked one by one against their plugin's schema). */
export const flowDocumentSchema = {
  type: 'object',
  required: ['name', 'steps'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$', description: 'Unique flow name (lowercase, digits, - and _).' },
    description: { type: 'string' },
    trigger: { enum: ['inbound', 'outbound'], default: 'inbound', description: 'inbound: runs on calls FreeSWITCH hands over; outbound: runs when a call placed by Switchboard is answered.' },
    default: { type: 'boolean', description: 'Run this flow when no other flow matches.' },
    match: {
      type: 'object',
      additionalProperties: false,
      properties: {
        destination: { $ref: '#/definitions/stringList', description: 'Exact numbers, prefixes ending in * ("+1555*"), or /regular expressions/.' },
        context: { $ref: '#/definitions/stringList', description: 'FreeSWITCH dialplan contexts (FusionPBX: the domain name).' },
        domain: { $ref: '#/definitions/stringList', description: 'Domains (variable_domain_name under FusionPBX).' },
        direction: { enum: ['inbound', 'outbound', 'any'] },
      },
    },
    vars: { type: 'object', description: 'Flow variables, readable as ${vars.name}.' },
    max_steps: { type: 'integer', minimum: 1, default: 500, description: 'Guard against loops: the flow stops after this many steps.' },
    steps: { type: 'array', minItems: 1, description: 'The steps, run in order: a plugin name, or a mapping { <plugin>: options, id?, on? }.' },
    on_error: { type: 'array', description: 'Steps run when a step fails and has no on: { error } branch.' },
    on_hangup: { type: 'array', description: 'Cleanup steps run after the call has ended.' },
  },
  definitions: {
    stringList: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
  },
} as const;

const topAjv = createAjv();
const validateDocument = topAjv.compile(flowDocumentSchema);

export interface CompileResult {
  plan: Plan | undefined;
  diagnostics: Diagnostic[];
}

interface RawStep {
  section: Section;
  path: Array<string | number>;
  id: string;
  named: boolean;
  name: string;
  options: Record<string, unknown>;
  plugin: LoadedStep | undefined;
  on: Record<string, string>;
  jumps: string[];
  line: number;
  column: number;
}

/** YAML text → diagnostics and, when there is no error, an immutable plan. */
export function compileFlow(text: string, file: string, host: PluginHost, env: Record<string, string | undefined> = process.env): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const report = (code: ErrorCode, message: string, at: { line: number; column: number }, extra: Partial<Diagnostic> = {}): void => {
    diagnostics.push({ file, line: at.line, column: at.column, code, message, severity: 'error', ...extra });
  };

  if (text.trim() === '' || /^(\s*#.*\n?)*\s*$/.test(text)) {
    report('SB_FLOW_EMPTY', 'the file is empty: a flow needs at least `name` and `steps`', { line: 1, column: 1 });
    return { plan: undefined, diagnostics };
  }
  let src: YamlSource;
  try {
    src = parseYaml(text, file);
  } catch (err) {
    if (err instanceof YamlSyntaxError) {
      report('SB_FLOW_YAML', `YAML syntax: ${err.message}`, err.position);
      return { plan: undefined, diagnostics };
    }
    throw err;
  }
  const doc = src.value;
  if (doc === null || doc === undefined) {
    report('SB_FLOW_EMPTY', 'the file has no content: a flow needs at least `name` and `steps`', { line: 1, column: 1 });
    return { plan: undefined, diagnostics };
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    report('SB_FLOW_NOT_MAPPING', `a flow file must be a mapping (name:, steps: …), not ${Array.isArray(doc) ? 'a list' : `a ${typeof doc}`}`, { line: 1, column: 1 });
    return { plan: undefined, diagnostics };
  }
  const flow = doc as Record<string, unknown>;

  if (!validateDocument(flow)) {
    for (const e of typosExplained(validateDocument.errors ?? [], Object.keys(flowDocumentSchema.properties))) reportSchemaError(e, [], src, report, Object.keys(flowDocumentSchema.properties), 'flow');
  }
  const flowName = typeof flow.name === 'string' ? flow.name : '?';
  const vars = isRecord(flow.vars) ? flow.vars : {};

  // Steps, section by section.
  const raw: RawStep[] = [];
  for (const section of SECTIONS) {
    const list = flow[section];
    if (!Array.isArray(list)) continue;
    list.forEach((item, i) => {
      const step = parseStep(item, section, [section, i], host, src, report);
      if (step) raw.push(step);
    });
  }

  // Ids: explicit ones must be unique across sections; `end` is reserved.
  const ids = new Map<string, RawStep>();
  for (const s of raw) {
    if (!s.named) continue;
    if (s.id === END) report('SB_FLOW_DUPLICATE_ID', `step id "${END}" is reserved (it means: end the flow)`, src.locate([...s.path, 'id']), { step: s.id });
    else if (ids.has(s.id)) {
      const first = ids.get(s.id) as RawStep;
      report('SB_FLOW_DUPLICATE_ID', `step id "${s.id}" is used twice (first at line ${first.line})`, src.locate([...s.path, 'id']), { step: s.id });
    } else ids.set(s.id, s);
  }
  const targetIndex = (target: string, s: RawStep, at: Array<string | number>): number | null | undefined => {
    if (target === END) return null;
    const t = ids.get(target);
    if (t) return raw.indexOf(t);
    report('SB_FLOW_UNKNOWN_TARGET', `step "${s.id}": no step with id "${target}"${suggestion(target, [...ids.keys(), END])}`, src.locate(at), { step: s.id });
    return undefined;
  };

  // Templates.
  const definedVars = new Set(Object.keys(vars));
  for (const s of raw) for (const v of analyse(s).defines) definedVars.add(v);
  const checkTemplates = (value: unknown, basePath: Array<string | number>, step: string | undefined): void => {
    for (const { text: str, path } of stringsIn(value)) {
      for (const ref of findRefs(str)) {
        const at = src.locate([...basePath, ...path]);
        const name = ref.path[0];
        const where = step ? `step "${step}": ` : '';
        if (!(TEMPLATE_ROOTS as readonly string[]).includes(ref.root)) {
          report('SB_FLOW_UNKNOWN_VARIABLE', `${where}unknown template root "${ref.root}" in ${ref.text}; use vars, env, call or steps${suggestion(ref.root, TEMPLATE_ROOTS)}`, at, { step });
        } else if (name === undefined) {
          report('SB_FLOW_UNKNOWN_VARIABLE', `${where}${ref.text} names no field`, at, { step });
        } else if (ref.root === 'vars' && !definedVars.has(name)) {
          report('SB_FLOW_UNKNOWN_VARIABLE', `${where}unknown variable ${ref.text}${suggestion(name, definedVars)}`, at, { step });
        } else if (ref.root === 'steps' && !ids.has(name)) {
          report('SB_FLOW_UNKNOWN_VARIABLE', `${where}${ref.text}: no step with id "${name}"${suggestion(name, ids.keys())}`, at, { step });
        } else if (ref.root === 'call' && !(CALL_FIELDS as readonly string[]).includes(name)) {
          report('SB_FLOW_UNKNOWN_VARIABLE', `${where}unknown call field ${ref.text}; known: ${CALL_FIELDS.join(', ')}${suggestion(name, CALL_FIELDS)}`, at, { step });
        } else if (ref.root === 'env' && env[name] === undefined && ref.fallback === undefined) {
          diagnostics.push({ file, ...at, code: 'SB_FLOW_UNKNOWN_VARIABLE', severity: 'warning', step, message: `${where}environment variable ${name} is not set here and ${ref.text} has no default (write \${env.${name}:-value})` });
        }
      }
    }
  };
  checkTemplates(vars, ['vars'], undefined);
  for (const s of raw) checkTemplates(s.options, [...s.path, ...(s.name === 'goto' ? [] : [s.name])], s.id);

  // Links.
  const entry: Record<Section, number | null> = { steps: null, on_error: null, on_hangup: null };
  const steps: PlanStep[] = raw.map((s, i) => {
    if (entry[s.section] === null) entry[s.section] = i;
    const following = raw[i + 1];
    const next = following && following.section === s.section ? i + 1 : null;
    const on: Record<string, number | null> = {};
    for (const [outcome, target] of Object.entries(s.on)) {
      const t = targetIndex(target, s, [...s.path, 'on', outcome]);
      if (t !== undefined) on[outcome] = t;
    }
    let gotoIndex: number | null | undefined;
    if (s.name === 'goto') gotoIndex = targetIndex(String(s.options.target), s, [...s.path, 'goto']);
    for (const j of s.jumps) targetIndex(j, s, [...s.path, s.name]);
    return {
      index: i,
      id: s.id,
      named: s.named,
      name: s.name,
      section: s.section,
      options: deepFreeze(s.options),
      plugin: s.plugin,
      next,
      on,
      goto: gotoIndex,
      line: s.line,
      column: s.column,
    };
  });

  if (!diagnostics.some((d) => d.severity === 'error')) {
    // Unreachable steps of the main section (on_error / on_hangup are entered by events).
    const seen = new Set<number>();
    const visit = (i: number | null | undefined): void => {
      if (i === null || i === undefined || seen.has(i)) return;
      seen.add(i);
      const s = steps[i] as PlanStep;
      const r = raw[i] as RawStep;
      if (s.goto !== undefined) return visit(s.goto);
      for (const t of Object.values(s.on)) visit(t);
      for (const j of r.jumps) visit(ids.has(j) ? raw.indexOf(ids.get(j) as RawStep) : null);
      if (!s.plugin || !isTerminal(s.plugin.plugin.meta, r.options) || Object.keys(s.on).length > 0) visit(s.next);
    };
    for (const section of SECTIONS) visit(entry[section]);
    for (const s of steps) {
      if (!seen.has(s.index)) {
        const r = raw[s.index] as RawStep;
        report('SB_FLOW_UNREACHABLE', `step "${s.id}" can never run: nothing jumps to it and the step before it ends the flow`, { line: r.line, column: r.column }, { step: s.id });
      }
    }
  }

  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { plan: undefined, diagnostics };
  const plan: Plan = {
    name: flowName,
    file,
    description: typeof flow.description === 'string' ? flow.description : undefined,
    trigger: flow.trigger === 'outbound' ? 'outbound' : 'inbound',
    isDefault: flow.default === true,
    match: parseMatch(flow.match),
    vars: deepFreeze({ ...vars }),
    steps: Object.freeze(steps),
    entry: Object.freeze(entry),
    maxSteps: typeof flow.max_steps === 'number' ? flow.max_steps : 500,
  };
  return { plan: Object.freeze(plan), diagnostics };
}

type Report = (code: ErrorCode, message: string, at: { line: number; column: number }, extra?: Partial<Diagnostic>) => void;

function parseStep(item: unknown, section: Section, path: Array<string | number>, host: PluginHost, src: YamlSource, report: Report): RawStep | undefined {
  const at = src.locate(path);
  const knownNames = [...host.steps.keys(), 'goto'];
  let name: string;
  let value: unknown;
  let id: string | undefined;
  let on: Record<string, string> = {};
  if (typeof item === 'string') {
    name = item;
    value = undefined;
  } else if (isRecord(item)) {
    const keys = Object.keys(item).filter((k) => !(RESERVED_STEP_KEYS as readonly string[]).includes(k));
    const plugins = keys.filter((k) => knownNames.includes(k));
    for (const k of keys.filter((k) => !knownNames.includes(k))) {
      report('SB_FLOW_UNKNOWN_STEP', `unknown step "${k}"${suggestion(k, [...knownNames, ...RESERVED_STEP_KEYS])}`, src.locate([...path, k], true), { step: k });
    }
    if (plugins.length === 0) {
      if (keys.length === 0) report('SB_FLOW_UNKNOWN_STEP', `this step names no plugin (known: ${knownNames.sort().join(', ')})`, at);
      return undefined;
    }
    if (plugins.length > 1) {
      report('SB_FLOW_SCHEMA', `one step per list item: found ${plugins.map((p) => `"${p}"`).join(' and ')}; start each with its own "-"`, src.locate([...path, plugins[1] as string], true), { step: plugins[1] });
      return undefined;
    }
    name = plugins[0] as string;
    value = item[name];
    if (item.id !== undefined) {
      if (typeof item.id !== 'string' || !ID_PATTERN.test(item.id)) {
        report('SB_FLOW_SCHEMA', `step "${name}": id must be a word (letters, digits, - and _, starting with a letter)`, src.locate([...path, 'id']), { step: name });
      } else id = item.id;
    }
    if (item.on !== undefined) {
      if (!isRecord(item.on) || Object.values(item.on).some((v) => typeof v !== 'string')) {
        report('SB_FLOW_SCHEMA', `step "${id ?? name}": on: must map outcomes to step ids, e.g. on: { busy: voicemail }`, src.locate([...path, 'on']), { step: id ?? name });
      } else on = item.on as Record<string, string>;
    }
  } else {
    report('SB_FLOW_SCHEMA', `a step must be a plugin name or a mapping, not ${item === null ? 'null' : typeof item}`, at);
    return undefined;
  }
  const stepLabel = id ?? name;

  if (name === 'goto') {
    if (typeof value !== 'string' || value === '') {
      report('SB_FLOW_BAD_OPTION', 'step "goto": needs the id of the step to jump to, e.g. goto: menu', src.locate([...path, 'goto']), { step: stepLabel });
      return undefined;
    }
    return { section, path, id: id ?? `${section}[${path[1]}]:goto`, named: id !== undefined, name, options: { target: value }, plugin: undefined, on: {}, jumps: [], ...at };
  }

  const plugin = host.steps.get(name);
  if (!plugin) {
    report('SB_FLOW_UNKNOWN_STEP', `unknown step "${name}"${suggestion(name, knownNames)}`, at, { step: name });
    return undefined;
  }
  const meta = plugin.plugin.meta;
  let options: Record<string, unknown>;
  const optionsPath = typeof item === 'string' ? path : [...path, name];
  if (value === undefined || value === null) options = {};
  else if (isRecord(value)) options = structuredClone(value);
  else if (meta.shorthand) options = { [meta.shorthand]: value };
  else {
    report('SB_FLOW_BAD_OPTION', `step "${stepLabel}": options must be a mapping (see plugins/${name}/README.md)`, src.locate(optionsPath), { step: stepLabel });
    return undefined;
  }

  if (!plugin.validate(options)) {
    const props = Object.keys((meta.schema.properties as Record<string, unknown> | undefined) ?? {});
    const errors = typosExplained(plugin.validate.errors ?? [], props).filter((e) => !isTemplated(options, e.instancePath));
    for (const e of errors) {
      const valuePath = typeof item === 'string' || (meta.shorthand && !isRecord(value)) ? optionsPath : [...optionsPath];
      reportSchemaError(e, valuePath, src, report, props, `step "${stepLabel}"`, stepLabel);
    }
  }

  if (meta.check && plugin.validate(structuredClone(options))) {
    for (const problem of meta.check(options, { tools: host.tools })) report('SB_FLOW_BAD_OPTION', `step "${stepLabel}": ${problem}`, src.locate(optionsPath), { step: stepLabel });
  }

  const outcomes = [...BASE_OUTCOMES, ...(meta.outcomes ?? [])];
  for (const outcome of Object.keys(on)) {
    if (!meta.openOutcomes && !outcomes.includes(outcome)) {
      report('SB_FLOW_UNKNOWN_OUTCOME', `step "${stepLabel}": "${name}" has no outcome "${outcome}"; it has ${outcomes.join(', ')}${suggestion(outcome, outcomes)}`, src.locate([...path, 'on', outcome], true), { step: stepLabel });
    }
  }
  const step: RawStep = { section, path, id: id ?? `${section}[${path[1]}]:${name}`, named: id !== undefined, name, options, plugin, on, jumps: [], ...at };
  step.jumps = analyse(step).jumps;
  return step;
}

function analyse(s: RawStep): { jumps: string[]; defines: string[] } {
  const hook = s.plugin?.plugin.meta.analyse;
  if (!hook) return { jumps: [], defines: [] };
  const r = hook(s.options);
  return { jumps: r.jumps ?? [], defines: r.defines ?? [] };
}

function reportSchemaError(e: ErrorObject, basePath: Array<string | number>, src: YamlSource, report: Report, knownProps: string[], label: string, step?: string): void {
  const instance = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = [...basePath, ...instance];
  const field = instance.length > 0 ? `option "${instance.join('.')}"` : 'options';
  const code: ErrorCode = label === 'flow' ? 'SB_FLOW_SCHEMA' : 'SB_FLOW_BAD_OPTION';
  const extra = { step, pointer: pointer(path) };
  const where = label === 'flow' ? (instance.length > 0 ? `"${instance.join('.')}"` : 'flow') : label;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const props = instance.length === 0 ? knownProps : Object.keys((e.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
      const what = label === 'flow' && instance.length === 0 ? `unknown key "${key}" in the flow` : `${label === 'flow' ? where : label}: unknown option "${key}"`;
      report(code, `${what}${suggestion(key, props)}`, src.locate([...path, key], true), { ...extra, pointer: pointer([...path, key]) });
      return;
    }
    case 'required':
      report(code, `${label === 'flow' ? where : label}: missing ${label === 'flow' ? 'key' : 'option'} "${String(e.params.missingProperty)}"`, src.locate(path), extra);
      return;
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const got = valueAt(src.value, path);
      const hint = typeof got === 'string' && didYouMean(got, allowed) ? ` (did you mean "${didYouMean(got, allowed)}"?)` : '';
      report(code, `${label === 'flow' ? where : `${label}: ${field}`} must be one of ${allowed.join(', ')}, not ${JSON.stringify(got)}${hint}`, src.locate(path), extra);
      return;
    }
    default:
      report(code, `${label === 'flow' ? where : `${label}: ${field}`} ${e.message ?? 'is invalid'}`, src.locate(path), extra);
  }
}

/** Drops "missing option X" when an unknown option next to it is a likely typo of X: one error, with the did-you-mean. */
function typosExplained(errors: readonly ErrorObject[], props: readonly string[]): ErrorObject[] {
  const typoFor = new Set(
    errors
      .filter((e) => e.keyword === 'additionalProperties')
      .map((e) => `${e.instancePath}/${didYouMean(String(e.params.additionalProperty), props) ?? ''}`),
  );
  return errors.filter((e) => !(e.keyword === 'required' && typoFor.has(`${e.instancePath}/${String(e.params.missingProperty)}`)));
}

function valueAt(root: unknown, path: Array<string | number>): unknown {
  let v = root;
  for (const p of path) v = isRecord(v) || Array.isArray(v) ? (v as Record<string, unknown>)[p as string] : undefined;
  return v;
}

/** An option written as a template is checked after rendering, at run time. */
function isTemplated(options: Record<string, unknown>, instancePath: string): boolean {
  const v = valueAt(options, instancePath.split('/').slice(1));
  return typeof v === 'string' && v.includes('${');
}

function parseMatch(m: unknown): FlowMatch {
  const list = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.map(String) : []);
  const r = isRecord(m) ? m : {};
  const direction = r.direction === 'inbound' || r.direction === 'outbound' ? r.direction : 'any';
  return Object.freeze({ destination: list(r.destination), context: list(r.context), domain: list(r.domain), direction });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as Record<string, unknown>)) deepFreeze(child);
  }
  return v;
}
