import { assertDialable, assertEndpointPart, assertToken, assertUuid, encodeVarBlock } from './escape.ts';

/** Where a leg is dialled. Each part is validated; the string is only ever built here. */
export type Endpoint =
  | { kind: 'gateway'; gateway: string; number: string }
  | { kind: 'user'; user: string; domain?: string }
  | { kind: 'sofia'; profile: string; destination: string }
  | { kind: 'loopback'; extension: string; context?: string };

export type ChannelVars = Record<string, string | number | boolean>;

export function endpointString(ep: Endpoint): string {
  switch (ep.kind) {
    case 'gateway':
      return `sofia/gateway/${assertEndpointPart('gateway', ep.gateway)}/${assertDialable('number', ep.number)}`;
    case 'user':
      return `user/${assertEndpointPart('user', ep.user)}${ep.domain ? `@${assertEndpointPart('domain', ep.domain)}` : ''}`;
    case 'sofia':
      return `sofia/${assertEndpointPart('profile', ep.profile)}/${assertEndpointPart('destination', ep.destination)}`;
    case 'loopback':
      return `loopback/${assertEndpointPart('extension', ep.extension)}${ep.context ? `/${assertEndpointPart('context', ep.context)}` : ''}`;
  }
}

/**
 * A bridge/originate dial string: `{global vars}[leg vars]endpoint` joined with `,` (ring all at
 * once) or `|` (one after another).
 */
export function dialString(legs: ReadonlyArray<{ endpoint: Endpoint; vars?: ChannelVars }>, options: { vars?: ChannelVars; mode?: 'simultaneous' | 'sequential' } = {}): string {
  if (legs.length === 0) throw new Error('dialString needs at least one leg');
  const sep = options.mode === 'sequential' ? '|' : ',';
  const parts = legs.map((leg) => `${leg.vars ? encodeVarBlock(leg.vars, '[', ']') : ''}${endpointString(leg.endpoint)}`);
  return `${encodeVarBlock(options.vars ?? {})}${parts.join(sep)}`;
}

/** What the originated leg runs once answered. */
export type OriginateApp =
  | { socket: { host: string; port: number } }
  | { park: true }
  | { extension: string; dialplan?: string; context?: string };

export function originateAppString(app: OriginateApp): string {
  if ('socket' in app) {
    const port = app.socket.port;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad socket port ${port}`);
    // Quoted: originate splits its arguments on unquoted spaces before the application sees them.
    return `'&socket(${assertToken('socket host', app.socket.host)}:${port} async full)'`;
  }
  if ('park' in app) return '&park()';
  return [assertEndpointPart('extension', app.extension), assertToken('dialplan', app.dialplan ?? 'XML'), assertToken('context', app.context ?? 'default')].join(' ');
}

export interface OriginateRequest {
  /** Chosen before dialling, so a retry can ask `uuid_exists` instead of dialling twice. */
  uuid: string;
  endpoint: Endpoint;
  app: OriginateApp;
  callerIdNumber?: string;
  callerIdName?: string;
  timeoutSec?: number;
  vars?: ChannelVars;
}

/** The argument of `originate` (after the word itself). */
export function originateArgs(req: OriginateRequest): string {
  // The request's own fields win over free-form vars: a var cannot change the pre-chosen uuid.
  const vars: ChannelVars = { ...req.vars, origination_uuid: assertUuid('origination_uuid', req.uuid) };
  if (req.callerIdNumber !== undefined) vars.origination_caller_id_number = req.callerIdNumber;
  if (req.callerIdName !== undefined) vars.origination_caller_id_name = req.callerIdName;
  if (req.timeoutSec !== undefined) vars.originate_timeout = Math.max(1, Math.round(req.timeoutSec));
  return `${dialString([{ endpoint: req.endpoint }], { vars })} ${originateAppString(req.app)}`;
}

/**
 * Reads an endpoint written in a flow: `user/1001[@domain]`, `sofia/gateway/<gw>/<number>`,
 * `sofia/<profile>/<destination>`, `loopback/<ext>[/<context>]`, or a bare extension/number
 * (`1001`, `+15551234567`), which becomes `user/<n>@<domain>` (the call's domain when known).
 * Throws SB_ESL_UNSAFE_VALUE on anything else.
 */
export function parseEndpoint(text: string, defaults: { domain?: string } = {}): Endpoint {
  const parts = text.split('/');
  switch (parts[0]) {
    case 'user': {
      const [user, domain] = (parts[1] ?? '').split('@');
      if (parts.length !== 2 || !user) break;
      return { kind: 'user', user: assertEndpointPart('user', user), ...(domain ? { domain: assertEndpointPart('domain', domain) } : {}) };
    }
    case 'sofia':
      if (parts[1] === 'gateway' && parts.length === 4) return { kind: 'gateway', gateway: assertEndpointPart('gateway', parts[2] ?? ''), number: assertDialable('number', parts[3] ?? '') };
      if (parts.length === 3) return { kind: 'sofia', profile: assertEndpointPart('profile', parts[1] ?? ''), destination: assertEndpointPart('destination', parts[2] ?? '') };
      break;
    case 'loopback':
      if (parts.length === 2 || parts.length === 3) return { kind: 'loopback', extension: assertEndpointPart('extension', parts[1] ?? ''), ...(parts[2] ? { context: assertEndpointPart('context', parts[2]) } : {}) };
      break;
    default:
      if (parts.length === 1) return { kind: 'user', user: assertDialable('extension', text), ...(defaults.domain ? { domain: assertEndpointPart('domain', defaults.domain) } : {}) };
  }
  return { kind: 'user', user: assertDialable('endpoint', text) };
}
