import { SwitchboardError } from '../errors.ts';

/**
 * Every value that reaches an ESL command line, a sendmsg header or a `{…}` channel-variable
 * block passes through here. The rules follow what FreeSWITCH 1.11 was measured to do
 * (../shared/fixtures/esl/README.md): CR/LF end a command and start another; in a `{…}` block
 * a comma separates (only a backslash protects it), single quotes protect spaces, and a `}`
 * ends the block however it is quoted; `${…}` asks FreeSWITCH to expand variables and APIs.
 */

function unsafe(what: string, why: string): SwitchboardError {
  return new SwitchboardError('SB_ESL_UNSAFE_VALUE', [what, why]);
}

const LINE_BREAK = /[\r\n\0]/;

/** A value that goes on one line of the ESL protocol (command or header). */
export function assertOneLine(what: string, value: string): string {
  if (LINE_BREAK.test(value)) throw unsafe(what, 'contains a line break or NUL');
  return value;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function assertUuid(what: string, value: string): string {
  if (!UUID.test(value)) throw unsafe(what, `"${printable(value)}" is not a UUID`);
  return value;
}

/** One space-separated argument of an api command: no whitespace, no line breaks, no expansion. */
export function assertToken(what: string, value: string): string {
  if (value === '') throw unsafe(what, 'is empty');
  if (/\s|\0/.test(value)) throw unsafe(what, `"${printable(value)}" contains whitespace`);
  assertNoExpansion(what, value);
  return value;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export function assertVarName(what: string, name: string): string {
  if (!VAR_NAME.test(name)) throw unsafe(what, `"${printable(name)}" is not a channel variable name`);
  return name;
}

/** FreeSWITCH expands `${var}`, `$${global}` and `${api(args)}` in many places: caller data must never carry it. */
export function assertNoExpansion(what: string, value: string): string {
  if (value.includes('${')) throw unsafe(what, 'contains "${", which FreeSWITCH would expand');
  return value;
}

/**
 * Encodes one value for a `{name=value,…}` / `[…]` / `<…>` variable block.
 * Commas are escaped with a backslash; a value with spaces is wrapped in single quotes.
 */
export function encodeVarValue(what: string, value: string): string {
  assertOneLine(what, value);
  assertNoExpansion(what, value);
  if (/[{}[\]<>]/.test(value)) throw unsafe(what, 'contains a bracket, which would end the variable block');
  if (value.includes('\\')) throw unsafe(what, 'contains a backslash');
  if (value.startsWith('^^')) throw unsafe(what, 'starts with "^^", FreeSWITCH\'s array-separator syntax');
  if (value.startsWith("'")) throw unsafe(what, 'starts with a quote, which FreeSWITCH would strip');
  if ((value.match(/'/g) ?? []).length > 1) throw unsafe(what, 'contains more than one quote (FreeSWITCH drops paired quotes)');
  if (value !== value.trim()) throw unsafe(what, 'starts or ends with whitespace (FreeSWITCH trims it)');
  const escaped = value.replace(/,/g, '\\,');
  if (!/\s/.test(value)) return escaped;
  if (value.includes("'")) throw unsafe(what, 'contains both a quote and whitespace');
  if (/[^\S ]/.test(value)) throw unsafe(what, 'contains whitespace other than spaces');
  return `'${escaped}'`;
}

/** `{a=1,b='x y'}` from a record; names and values validated and escaped. */
export function encodeVarBlock(vars: Record<string, string | number | boolean>, open = '{', close = '}'): string {
  const parts: string[] = [];
  for (const [name, raw] of Object.entries(vars)) {
    assertVarName('channel variable name', name);
    parts.push(`${name}=${encodeVarValue(`channel variable ${name}`, String(raw))}`);
  }
  return parts.length === 0 ? '' : `${open}${parts.join(',')}${close}`;
}

const DIALABLE = /^\+?[0-9*#]{1,64}$/;

/** A number to dial: digits, `*`, `#`, optional leading `+`. */
export function assertDialable(what: string, value: string): string {
  if (!DIALABLE.test(value)) throw unsafe(what, `"${printable(value)}" is not a dialable number`);
  return value;
}

const ENDPOINT_PART = /^[A-Za-z0-9_.+*#@:=;-]{1,128}$/;

/** A part of a dial string (`sofia/gateway/<gw>/<num>`, `user/<ext>@<domain>`): no separators, quotes or blocks. */
export function assertEndpointPart(what: string, value: string): string {
  if (!ENDPOINT_PART.test(value)) throw unsafe(what, `"${printable(value)}" has characters not allowed in a dial string`);
  return value;
}

const DTMF = /^[0-9A-Da-d*#wW]{1,128}$/;

export function assertDtmf(what: string, value: string): string {
  if (!DTMF.test(value)) throw unsafe(what, `"${printable(value)}" is not a DTMF string`);
  return value;
}

const CAUSE = /^[A-Z][A-Z_]{1,63}$/;

export function assertHangupCause(what: string, value: string): string {
  if (!CAUSE.test(value)) throw unsafe(what, `"${printable(value)}" is not a hangup cause`);
  return value;
}

/** For error messages: shows control characters instead of printing them. */
export function printable(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return JSON.stringify(shown).slice(1, -1);
}
