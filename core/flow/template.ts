/** `${root.path.to.value}` or `${root.path:-default}` inside a string. */
const REF = /\$\{([a-z]+)((?:\.[A-Za-z0-9_-]+)*)(?::-([^}]*))?\}/g;

export const TEMPLATE_ROOTS = ['vars', 'env', 'call', 'steps'] as const;
export type TemplateRoot = (typeof TEMPLATE_ROOTS)[number];

/** What `${call.*}` exposes. */
export const CALL_FIELDS = ['uuid', 'caller', 'caller_name', 'destination', 'context', 'domain', 'direction'] as const;

export interface TemplateRef {
  root: string;
  path: string[];
  fallback: string | undefined;
  text: string;
}

export function findRefs(text: string): TemplateRef[] {
  const refs: TemplateRef[] = [];
  for (const m of text.matchAll(REF)) {
    refs.push({ root: m[1] as string, path: (m[2] ?? '').split('.').filter(Boolean), fallback: m[3], text: m[0] });
  }
  return refs;
}

/** Every string inside a value (options object), with its path, for load-time checks. */
export function* stringsIn(value: unknown, path: Array<string | number> = []): Generator<{ text: string; path: Array<string | number> }> {
  if (typeof value === 'string') yield { text: value, path };
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* stringsIn(value[i], [...path, i]);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* stringsIn(v, [...path, k]);
}

export type Scope = Record<TemplateRoot, unknown>;

function lookup(scope: Scope, ref: TemplateRef): unknown {
  let v: unknown = scope[ref.root as TemplateRoot];
  for (const key of ref.path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * Renders templates in a value. A string that is exactly one reference keeps the referenced
 * value's type (number, list, object); otherwise values are joined as text. What a caller typed
 * stays data: it is substituted, never re-parsed as a template.
 */
export function render(value: unknown, scope: Scope): unknown {
  if (typeof value === 'string') return renderString(value, scope);
  if (Array.isArray(value)) return value.map((v) => render(v, scope));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = render(v, scope);
    return out;
  }
  return value;
}

function renderString(text: string, scope: Scope): unknown {
  if (!text.includes('${')) return text;
  const refs = findRefs(text);
  if (refs.length === 1 && refs[0]?.text === text) {
    const v = lookup(scope, refs[0]);
    return v === undefined || v === '' ? (refs[0].fallback ?? '') : v;
  }
  return text.replace(REF, (whole: string, root: string, path: string, fallback: string | undefined) => {
    const v = lookup(scope, { root, path: (path ?? '').split('.').filter(Boolean), fallback, text: whole });
    if (v === undefined || v === null || v === '') return fallback ?? '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}
