import { SimChannel } from './channel.ts';
import type { OriginatePlan, OriginateRequest, SimHost } from './host.ts';
import type { DialLeg, DialString } from './originate.ts';

export interface DialerHost extends SimHost {
  planFor(req: OriginateRequest): Promise<OriginatePlan>;
}

export interface DialOptions {
  /** OriginateRequest.app: `&park()`, `&socket(…)`, an extension, or `bridge`. */
  appLabel: string;
  /** What the new leg runs once answered (its whole life after that). */
  afterAnswer: (leg: SimChannel) => Promise<void>;
  cidName?: string;
  cidNum?: string;
  timeoutSec: number;
  /** Cancels the dial (the bridging leg hung up): ringing legs end with ORIGINATOR_CANCEL. */
  signal?: AbortSignal;
  /** Variables every new leg inherits before its own (e.g. exported by the A leg). */
  inherit?: Array<[string, string]>;
}

export type DialResult = { leg: SimChannel } | { cause: string };

/**
 * switch_ivr_originate for the simulator: `|` groups are tried in turn, the `,` legs of a group
 * ring together and the first to answer wins (the others end with LOSE_RACE). Each leg asks the
 * test's onOriginate handler what the far end does.
 */
export async function dial(host: DialerHost, ds: Extract<DialString, { ok: true }>, opts: DialOptions): Promise<DialResult> {
  let lastCause = 'NORMAL_CLEARING';
  let first = true;
  for (const group of ds.groups) {
    if (opts.signal?.aborted) return { cause: 'ORIGINATOR_CANCEL' };
    const race = new AbortController();
    const attempts = group.map((leg) => {
      const useOriginationUuid = first;
      first = false;
      return ringLeg(host, ds.vars, leg, opts, race.signal, useOriginationUuid);
    });
    const winner = await firstAnswered(attempts);
    if (winner) {
      race.abort();
      const rest = await Promise.all(attempts);
      for (const r of rest) if ('leg' in r && r.leg !== winner) r.leg.hangupNow('LOSE_RACE');
      return { leg: winner };
    }
    const results = await Promise.all(attempts);
    const failed = results.find((r): r is { cause: string } => 'cause' in r);
    if (failed) lastCause = failed.cause;
  }
  return { cause: lastCause };
}

async function firstAnswered(attempts: Array<Promise<DialResult>>): Promise<SimChannel | undefined> {
  return new Promise<SimChannel | undefined>((resolve) => {
    let pending = attempts.length;
    if (pending === 0) resolve(undefined);
    for (const a of attempts) {
      void a.then((r) => {
        if ('leg' in r) resolve(r.leg);
        if (--pending === 0) resolve(undefined);
      });
    }
  });
}

function channelNameFor(leg: DialLeg): { name: string; source: string; sip: boolean } {
  switch (leg.kind) {
    case 'loopback':
      return { name: `loopback/${leg.destination}-a`, source: 'mod_loopback', sip: false };
    case 'gateway':
      return { name: `sofia/gateway/${leg.gateway}/${leg.destination}`, source: 'mod_sofia', sip: true };
    case 'sofia':
      return { name: leg.endpoint, source: 'mod_sofia', sip: true };
    case 'user':
      return { name: `sofia/internal/${leg.destination}${leg.domain ? `@${leg.domain}` : ''}`, source: 'mod_sofia', sip: true };
    case 'error':
      return { name: leg.endpoint, source: 'mod_error', sip: false };
  }
}

async function ringLeg(
  host: DialerHost,
  globalVars: Array<[string, string]>,
  leg: DialLeg,
  opts: DialOptions,
  race: AbortSignal,
  useOriginationUuid: boolean,
): Promise<DialResult> {
  const vars = new Map<string, string>([...(opts.inherit ?? []), ...globalVars, ...leg.vars]);
  let uuid = host.uuid();
  const wanted = vars.get('origination_uuid');
  if (wanted && useOriginationUuid) {
    if (host.channels.has(wanted)) return { cause: 'DESTINATION_OUT_OF_ORDER' };
    uuid = wanted;
  }
  const { name, source, sip } = channelNameFor(leg);
  const cidNum = vars.get('origination_caller_id_number') ?? opts.cidNum ?? '0000000000';
  const cidName = vars.get('origination_caller_id_name') ?? opts.cidName;
  const ch = new SimChannel(host, {
    uuid,
    direction: 'outbound',
    name,
    source,
    callerIdName: cidName,
    callerIdNumber: cidNum,
    calleeIdName: 'Outbound Call',
    calleeIdNumber: leg.destination,
    destinationNumber: leg.destination,
    context: leg.context,
    dialplan: 'XML',
    hitDialplan: false,
    sip,
    codec: sip ? { name: 'PCMU', rate: 8000, bitRate: 64000 } : { name: 'L16', rate: 8000, bitRate: 128000 },
  });
  const sessionId = String(host.nextSessionId());
  ch.setVar('direction', 'outbound');
  ch.setVar('is_outbound', 'true');
  ch.setVar('session_id', sessionId);
  ch.setVar('read_codec', sip ? 'PCMU' : 'L16');
  ch.setVar('read_rate', '8000');
  ch.setVar('write_codec', sip ? 'PCMU' : 'L16');
  ch.setVar('write_rate', '8000');
  ch.setVar('channel_name', name);
  ch.setVar('uuid', uuid);
  ch.setVar('call_uuid', uuid);
  for (const [k, v] of vars) ch.setVar(k, v);
  if (leg.kind === 'gateway') {
    ch.setVar('sip_gateway_name', leg.gateway);
    ch.setVar('sip_profile_name', 'external');
  }
  ch.setVar('originate_early_media', 'true');
  ch.setVar('originate_endpoint', leg.kind === 'gateway' || leg.kind === 'user' ? 'sofia' : leg.kind);
  host.registerChannel(ch);

  if (wanted && uuid === wanted) ch.fire('CHANNEL_UUID', { pre: [['Old-Unique-ID', host.uuid()]] });
  ch.fire('CHANNEL_OUTGOING');
  ch.setState('CS_INIT');
  ch.fire('CHANNEL_CREATE');
  ch.fire('CHANNEL_ORIGINATE');
  ch.setState('CS_ROUTING');
  ch.setState('CS_CONSUME_MEDIA');

  let openGate: (answered: boolean) => void = () => {};
  const gate = new Promise<boolean>((resolve) => (openGate = resolve));
  ch.start(async (c) => {
    if (await gate) await opts.afterAnswer(c);
  });

  const plan: OriginatePlan =
    leg.kind === 'error' ? { fail: leg.errorCause ?? 'NORMAL_CLEARING' } : await host.planFor({ uuid, vars: Object.fromEntries(vars), endpoint: leg.endpoint, app: opts.appLabel });

  const stop = (cause: string): DialResult => {
    if (!ch.hungUp) ch.hangupNow(cause);
    openGate(false);
    return { cause: ch.hangupCause ?? cause };
  };

  const signals = [opts.signal, race, ch.signal];
  if ('fail' in plan) {
    if (plan.ringing) ch.ringReady();
    const finished = await host.wait(host.scaled(plan.afterMs ?? 0), ...signals);
    if (ch.hungUp) return stop(ch.hangupCause ?? plan.fail);
    if (!finished) return stop(race.aborted ? 'LOSE_RACE' : 'ORIGINATOR_CANCEL');
    return stop(plan.fail);
  }
  const timeoutSec = Number.parseInt(vars.get('leg_timeout') ?? vars.get('originate_timeout') ?? '', 10);
  const limitMs = (Number.isFinite(timeoutSec) && timeoutSec > 0 ? timeoutSec : opts.timeoutSec) * 1000;
  const answerAfter = Math.max(0, plan.answerAfterMs ?? 0);
  if (answerAfter > 0) {
    ch.ringReady();
    if (plan.earlyMedia) ch.preAnswer();
  }
  const finished = await host.wait(host.scaled(Math.min(answerAfter, limitMs)), ...signals);
  if (ch.hungUp) return stop(ch.hangupCause ?? 'NORMAL_CLEARING');
  if (!finished) return stop(race.aborted ? 'LOSE_RACE' : 'ORIGINATOR_CANCEL');
  if (answerAfter > limitMs) return stop('NO_ANSWER');
  ch.answer();
  openGate(true);
  if (plan.hangupAfterMs !== undefined) {
    const talk = plan.hangupAfterMs;
    void host.wait(host.scaled(talk), ch.signal).then((elapsed) => {
      if (elapsed) ch.hangupNow('NORMAL_CLEARING', 'recv_bye');
    });
  }
  return { leg: ch };
}
