/**
 * Dial strings and `originate` arguments, parsed the way FreeSWITCH 1.11 does (measured table in
 * shared/fixtures/esl/README.md):
 * - the argument line is split on unquoted spaces; a pair of single quotes protects spaces and is
 *   removed, a lone quote is kept; `\,` survives this first pass;
 * - a `{…}` block ends at the first `}` whatever the quoting (nested `{` counts);
 *   no closing `}` → DESTINATION_OUT_OF_ORDER;
 * - inside the block a comma separates (quotes are already gone, so they do not protect it),
 *   `\,` is a literal comma, double quotes mean nothing, `%XX` is not decoded;
 * - an unknown endpoint type (`y}loopback/…` after an early `}`) → CHAN_NOT_IMPLEMENTED.
 * Note what follows from the first rule: `&socket(h:p async full)` without quotes is three
 * arguments, so the application only gets `h:p` (FreeSWITCH then connects in static mode).
 */

const ESCAPE = '\\';

function unescapeChar(c: string): string {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 's':
      return ' ';
    default:
      return c;
  }
}

/** cleanup_separated_string: drop paired quotes, unescape, trim unquoted spaces. */
export function cleanupSeparated(str: string, delim: string): string {
  let i = 0;
  while (i < str.length && str[i] === ' ') i++;
  let out = '';
  let end = -1;
  let inside = false;
  for (; i < str.length; i++) {
    const c = str[i] as string;
    if (c === ESCAPE && i + 1 < str.length) {
      const e = str[i + 1] as string;
      const u = unescapeChar(e);
      if (e === "'" || e === '"' || e === delim || e === ESCAPE || u !== e) {
        out += u;
        end = out.length;
        i++;
        continue;
      }
    }
    if (c === "'" && (inside || str.indexOf("'", i + 1) >= 0)) {
      inside = !inside;
      if (inside) end = out.length;
      continue;
    }
    out += c;
    if (c !== ' ' || inside) end = out.length;
  }
  return end >= 0 ? out.slice(0, end) : out;
}

/**
 * switch_separate_string: quote- and escape-aware split, `^^<c>` picks another delimiter, at most
 * `max` parts (the last keeps the rest), each part cleaned up. A space delimiter swallows runs of
 * spaces; another delimiter yields empty parts between two delimiters.
 */
export function separateString(input: string, delim: string, max = Number.MAX_SAFE_INTEGER): string[] {
  let buf = input;
  if (buf.startsWith('^^') && buf.length > 2) {
    delim = buf[2] as string;
    buf = buf.slice(3);
  }
  const blank = delim === ' ';
  const starts: number[] = [];
  const ends: number[] = [];
  let inside = false;
  let i = 0;
  let state: 'start' | 'skipInitial' | 'find' | 'skipEnding' = 'start';
  while (i < buf.length && starts.length < max) {
    const c = buf[i];
    switch (state) {
      case 'start':
        starts.push(i);
        inside = false;
        state = blank ? 'skipInitial' : 'find';
        break;
      case 'skipInitial':
        if (c === ' ') i++;
        else state = 'find';
        break;
      case 'find':
        if (c === ESCAPE) i++;
        else if (c === "'" && (inside || buf.indexOf("'", i + 1) >= 0)) inside = !inside;
        else if (c === delim && !inside) {
          ends[starts.length - 1] = i;
          state = blank ? 'skipEnding' : 'start';
        }
        i++;
        break;
      case 'skipEnding':
        if (c === ' ') i++;
        else state = 'start';
        break;
    }
  }
  return starts.map((st, k) => cleanupSeparated(buf.slice(st, ends[k] ?? buf.length), delim));
}

/** switch_find_end_paren: index of the closing bracket (nesting counted), or -1. */
export function findEndParen(s: string, start: number, open: string, close: string): number {
  let depth = 0;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (c === open && open !== close) depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

export type EndpointKind = 'loopback' | 'gateway' | 'sofia' | 'user' | 'error';

export interface DialLeg {
  /** The endpoint as written, e.g. `sofia/gateway/trunk1/+15551234567`. */
  endpoint: string;
  kind: EndpointKind;
  /** Caller-Destination-Number of the new leg. */
  destination: string;
  context: string;
  gateway?: string;
  profile?: string;
  domain?: string;
  /** error/<cause>: the cause it fails with. */
  errorCause?: string;
  /** `[…]` variables of this leg. */
  vars: Array<[string, string]>;
}

export type DialString =
  | { ok: true; vars: Array<[string, string]>; /** `|` groups (tried in turn) of `,` legs (rung together) */ groups: DialLeg[][] }
  | { ok: false; cause: string };

/** Variables of a `{…}` / `[…]` block body: comma separated `name=value`, first `=` splits. */
export function parseVarBlock(body: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const item of separateString(body, ',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    out.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

/** Split on a delimiter outside `{…}`, `[…]` and `<…>`. */
function splitTopLevel(s: string, delim: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === ESCAPE && i + 1 < s.length) {
      cur += c + (s[i + 1] as string);
      i++;
      continue;
    }
    if (c === '[' || c === '{' || c === '<') depth++;
    else if ((c === ']' || c === '}' || c === '>') && depth > 0) depth--;
    if (c === delim && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

export function parseEndpoint(endpoint: string, vars: Array<[string, string]>): DialLeg | undefined {
  const slash = endpoint.indexOf('/');
  if (slash <= 0) return undefined;
  const type = endpoint.slice(0, slash).toLowerCase();
  const rest = endpoint.slice(slash + 1);
  const parts = rest.split('/');
  switch (type) {
    case 'loopback': {
      const ext = parts[0] ?? '';
      if (!ext) return undefined;
      return { endpoint, kind: 'loopback', destination: ext, context: parts[1] || 'default', vars };
    }
    case 'sofia': {
      if ((parts[0] ?? '').toLowerCase() === 'gateway') {
        const gateway = parts[1] ?? '';
        const num = parts.slice(2).join('/');
        if (!gateway || !num) return undefined;
        return { endpoint, kind: 'gateway', destination: num.split('@')[0] as string, context: 'default', gateway, vars };
      }
      const profile = parts[0] ?? '';
      const dest = parts.slice(1).join('/');
      if (!profile || !dest) return undefined;
      const [user, domain] = dest.split('@') as [string, string | undefined];
      return { endpoint, kind: 'sofia', destination: user, context: 'default', profile, domain, vars };
    }
    case 'user': {
      const [user, domain] = rest.split('@') as [string, string | undefined];
      if (!user) return undefined;
      return { endpoint, kind: 'user', destination: user, context: 'default', domain, vars };
    }
    case 'error': {
      const cause = rest.toUpperCase() || 'NORMAL_CLEARING';
      return { endpoint, kind: 'error', destination: rest, context: 'default', errorCause: cause, vars };
    }
    default:
      return undefined;
  }
}

/** switch_ivr_originate's view of a dial string. */
export function parseDialString(dial: string): DialString {
  let data = dial.replace(/^ +/, '');
  let vars: Array<[string, string]> = [];
  if (data.startsWith('{')) {
    const end = findEndParen(data, 0, '{', '}');
    if (end < 0) return { ok: false, cause: 'DESTINATION_OUT_OF_ORDER' };
    vars = parseVarBlock(data.slice(1, end));
    data = data.slice(end + 1);
  }
  if (!data) return { ok: false, cause: 'DESTINATION_OUT_OF_ORDER' };
  const groups: DialLeg[][] = [];
  for (const group of splitTopLevel(data, '|')) {
    const legs: DialLeg[] = [];
    for (const raw of splitTopLevel(group, ',')) {
      let legText = raw.trim();
      let legVars: Array<[string, string]> = [];
      while (legText.startsWith('[') || legText.startsWith('<')) {
        const close = legText.startsWith('[') ? ']' : '>';
        const end = findEndParen(legText, 0, legText[0] as string, close);
        if (end < 0) return { ok: false, cause: 'DESTINATION_OUT_OF_ORDER' };
        legVars = legVars.concat(parseVarBlock(legText.slice(1, end)));
        legText = legText.slice(end + 1);
      }
      if (!legText) continue;
      const leg = parseEndpoint(legText, legVars);
      if (!leg) return { ok: false, cause: 'CHAN_NOT_IMPLEMENTED' };
      legs.push(leg);
    }
    if (legs.length > 0) groups.push(legs);
  }
  if (groups.length === 0) return { ok: false, cause: 'DESTINATION_OUT_OF_ORDER' };
  return { ok: true, vars, groups };
}

export type OriginateTarget =
  | { kind: 'app'; name: string; arg: string }
  | { kind: 'extension'; extension: string; dialplan: string; context: string };

export interface OriginateArgs {
  dial: string;
  target: OriginateTarget;
  /** The application part as written after cleanup (`&park()`, `&socket(…)`, `7000`). */
  appText: string;
  cidName?: string;
  cidNum?: string;
  timeoutSec: number;
}

export const ORIGINATE_SYNTAX =
  '<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]';

/** originate_function's argument handling; undefined → `-USAGE`. */
export function parseOriginateArgs(arg: string): OriginateArgs | undefined {
  const argv: Array<string | undefined> = separateString(arg, ' ', 10);
  if (argv.length < 2 || argv.length > 7) return undefined;
  for (let i = 0; i < argv.length; i++) if (argv[i]?.toLowerCase() === 'undef') argv[i] = undefined;
  const [dial, exten, dp, context, cidName, cidNum, timeout] = argv;
  if (!dial || !exten) return undefined;
  let target: OriginateTarget;
  if (exten.startsWith('&') && exten.length > 1) {
    let name = exten.slice(1);
    const close = name.indexOf(')');
    if (close >= 0) name = name.slice(0, close);
    let appArg = '';
    const open = name.indexOf('(');
    if (open >= 0) {
      appArg = name.slice(open + 1);
      name = name.slice(0, open);
    }
    target = { kind: 'app', name, arg: appArg };
  } else {
    target = { kind: 'extension', extension: exten, dialplan: dp ?? 'XML', context: context ?? 'default' };
  }
  const t = timeout ? Number.parseInt(timeout, 10) : 60;
  return { dial, target, appText: exten, cidName, cidNum, timeoutSec: Number.isFinite(t) && t > 0 ? t : 60 };
}
