import type { ExecRequest, SimChannel } from './channel.ts';
import { dialStatus, parseCause } from './hangup-causes.ts';
import type { SimHost } from './host.ts';
import { separateString } from './originate.ts';

/**
 * Dialplan applications (mod_dptools and friends), simulated. Each returns what it sets as
 * `current_application_response` (→ Application-Response), or undefined for none (`_none_`).
 */
type App = (ch: SimChannel, host: SimHost, req: ExecRequest) => Promise<string | undefined>;

const done = async (): Promise<undefined> => undefined;

let conferenceMembers = 0;

function int(text: string | undefined, fallback: number): number {
  const n = Number.parseInt(text ?? '', 10);
  return Number.isFinite(n) ? n : fallback;
}

/** Resolves when any signal aborts. */
function untilAborted(host: SimHost, ...signals: AbortSignal[]): Promise<boolean> {
  return host.wait(Infinity, ...signals);
}

function setVarFromAssignment(ch: SimChannel, text: string): void {
  const eq = text.indexOf('=');
  const name = (eq < 0 ? text : text.slice(0, eq)).trim();
  if (!name) return;
  const value = eq < 0 ? '' : text.slice(eq + 1);
  ch.setVar(name, value === '' ? undefined : value);
}

const APPS: Record<string, App> = {
  answer: async (ch) => {
    ch.answer();
    return undefined;
  },
  pre_answer: async (ch) => {
    ch.preAnswer();
    return undefined;
  },
  ring_ready: async (ch) => {
    ch.ringReady();
    return undefined;
  },
  hangup: async (ch, _host, req) => {
    ch.hangupNow(parseCause(req.arg) ?? 'NORMAL_CLEARING');
    return undefined;
  },
  playback: async (ch, _host, req) => {
    if (!ch.answered) ch.preAnswer();
    await ch.playFile(req.arg, req.via);
    return ch.hungUp ? 'PLAYBACK ERROR' : 'FILE PLAYED';
  },
  endless_playback: async (ch, _host, req) => {
    if (!ch.answered) ch.preAnswer();
    while (!ch.hungUp) {
      const { completed } = await ch.playFile(req.arg, req.via);
      if (!completed) break;
    }
    return ch.hungUp ? 'PLAYBACK ERROR' : 'FILE PLAYED';
  },
  speak: async (ch, host, req) => {
    await ch.playFile(`tone_stream://%(${host.options.defaultPlaybackMs},0,0)`, req.via);
    return undefined;
  },
  say: async (ch, host, req) => {
    await ch.playFile(`tone_stream://%(${host.options.defaultPlaybackMs},0,0)`, req.via);
    return undefined;
  },
  phrase: async (ch, host, req) => {
    await ch.playFile(`tone_stream://%(${host.options.defaultPlaybackMs},0,0)`, req.via);
    return undefined;
  },
  echo: async (ch, host) => {
    const brk = ch.beginBreakable();
    try {
      await untilAborted(host, ch.signal, brk.signal, ch.transferSignal);
    } finally {
      brk.end();
    }
    return undefined;
  },
  park: async (ch) => {
    await ch.park(ch.transferSignal);
    return undefined;
  },
  sleep: async (ch, _host, req) => {
    await ch.breakableWait(Math.max(0, int(req.arg, 0)));
    return undefined;
  },
  set: async (ch, _host, req) => {
    setVarFromAssignment(ch, req.arg);
    return undefined;
  },
  multiset: async (ch, _host, req) => {
    for (const part of separateString(req.arg, ' ')) setVarFromAssignment(ch, part);
    return undefined;
  },
  export: async (ch, _host, req) => {
    let text = req.arg;
    const noLocal = text.startsWith('nolocal:');
    if (noLocal) text = text.slice('nolocal:'.length);
    const name = text.split('=')[0]?.trim() ?? '';
    if (!noLocal) setVarFromAssignment(ch, text);
    if (name) {
      const list = (ch.vars.get('export_vars') ?? '').split(',').filter(Boolean);
      if (!list.includes(name)) list.push(name);
      ch.setVar('export_vars', list.join(','));
    }
    return undefined;
  },
  unset: async (ch, _host, req) => {
    ch.setVar(req.arg.trim(), undefined);
    return undefined;
  },
  set_global: done,
  log: done,
  info: done,
  event: done,
  respond: done,
  start_dtmf: done,
  stop_dtmf: done,
  bind_meta_app: done,
  unbind_meta_app: done,
  record_session: async (ch, _host, req) => {
    ch.setVar('record_session_path', req.arg);
    return undefined;
  },
  stop_record_session: done,
  flush_dtmf: async (ch) => {
    ch.flushDtmf();
    return undefined;
  },
  send_dtmf: async (ch, _host, req) => {
    ch.dtmfSent.push(req.arg.split('@')[0] ?? '');
    return undefined;
  },
  sched_hangup: async (ch, host, req) => {
    const [when, causeText] = separateString(req.arg, ' ');
    const secs = int((when ?? '').replace(/^\+/, ''), 0);
    const cause = parseCause(causeText) ?? 'ALLOTTED_TIMEOUT';
    void host.wait(host.scaled(secs * 1000), ch.signal).then((elapsed) => {
      if (elapsed) ch.hangupNow(cause);
    });
    return undefined;
  },
  transfer: async (ch, _host, req) => {
    const argv = separateString(req.arg, ' ');
    let i = 0;
    if (argv[0]?.startsWith('-')) i++;
    const dest = argv[i];
    if (dest) ch.transfer(dest, argv[i + 1] ?? 'XML', argv[i + 2] ?? ch.context);
    return undefined;
  },
  socket: async (ch, host, req) => {
    const argv = separateString(req.arg, ' ', 80);
    let target = argv[0] ?? '';
    if (!target) return undefined;
    let port = 8084;
    const colon = target.lastIndexOf(':');
    let portText = '';
    if (colon >= 0) {
      portText = target.slice(colon + 1);
      target = target.slice(0, colon);
      const slash = portText.indexOf('/');
      if (slash >= 0) {
        ch.setVar('socket_path', portText.slice(slash + 1));
        portText = portText.slice(0, slash);
      }
      port = int(portText, 0);
    }
    ch.setVar('socket_host', target);
    const flags = argv.slice(1).map((a) => a.toLowerCase());
    const isAsync = flags.includes('async');
    const full = flags.includes('full');
    const link = await host.connectSocket(ch, { host: target, port, async: isAsync, full });
    if (!link) {
      // Nothing after the socket in this dialplan: the call ends, the way FusionPBX's does.
      ch.endCause = 'DESTINATION_OUT_OF_ORDER';
      return undefined;
    }
    if (isAsync) {
      const ok = await link.connected;
      if (ok && !ch.hungUp && !link.closed.aborted) await ch.park(AbortSignal.any([link.closed, ch.transferSignal]));
    } else {
      await untilAborted(host, ch.signal, link.closed, ch.transferSignal);
    }
    return undefined;
  },
  bridge: async (ch, host, req) => {
    const transfer = ch.transferSignal;
    const res = await host.dialLeg(ch, req.arg, AbortSignal.any([ch.signal, transfer]));
    if ('cause' in res) {
      ch.setVar('originate_disposition', res.cause);
      ch.setVar('originate_failed_cause', res.cause);
      ch.setVar('DIALSTATUS', dialStatus(res.cause));
      return undefined;
    }
    const b = res.leg;
    if (!ch.answered) ch.answer();
    ch.setVar('originate_disposition', 'SUCCESS');
    ch.setVar('DIALSTATUS', 'SUCCESS');
    ch.markBridged(b);
    b.markBridged(ch);
    const ids: Array<[string, string]> = [
      ['Bridge-A-Unique-ID', ch.uuid],
      ['Bridge-B-Unique-ID', b.uuid],
    ];
    ch.fire('CHANNEL_BRIDGE', { post: ids });
    await untilAborted(host, ch.signal, b.signal, transfer);
    ch.fire('CHANNEL_UNBRIDGE', { post: ids });
    ch.markBridged(undefined);
    b.markBridged(undefined);
    if (b.hungUp) {
      ch.setVar('last_bridge_hangup_cause', b.hangupCause);
      ch.setVar('bridge_hangup_cause', b.hangupCause);
    }
    if (!b.hungUp) b.hangupNow('NORMAL_CLEARING');
    if (!ch.hungUp && b.hungUp && ch.vars.get('hangup_after_bridge') === 'true') ch.hangupNow('NORMAL_CLEARING');
    return undefined;
  },
  read: async (ch, _host, req) => {
    const a = separateString(req.arg, ' ');
    const min = int(a[0], 0);
    const max = int(a[1], 128);
    const file = a[2];
    const varName = a[3] || 'read_result';
    const timeoutMs = int(a[4], 5000);
    const terminators = a[5] ?? '#';
    if (!ch.answered) ch.preAnswer();
    const res = await ch.collectDigits({ min, max, terminators, timeoutMs, prompt: file, via: req.via });
    ch.setVar(varName, res.digits || undefined);
    ch.setVar('read_result', res.result);
    if (res.terminator) ch.setVar('read_terminator_used', res.terminator);
    return undefined;
  },
  play_and_get_digits: async (ch, _host, req) => {
    const a = separateString(req.arg, ' ');
    const min = int(a[0], 0);
    const max = int(a[1], 128);
    const tries = Math.max(1, int(a[2], 1));
    const timeoutMs = int(a[3], 5000);
    const terminators = a[4] ?? '#';
    const file = a[5];
    const invalidFile = a[6];
    const varName = a[7] || 'pagd_input';
    const regexpText = a[8];
    const digitTimeoutMs = a[9] !== undefined ? int(a[9], timeoutMs) : undefined;
    const failure = a[10];
    let re: RegExp | undefined;
    try {
      re = regexpText ? new RegExp(regexpText) : undefined;
    } catch {
      re = undefined;
    }
    if (!ch.answered) ch.preAnswer();
    for (let t = 0; t < tries && !ch.hungUp; t++) {
      const res = await ch.collectDigits({ min, max, terminators, timeoutMs, digitTimeoutMs, prompt: file, via: req.via });
      if (ch.hungUp) break;
      if (res.digits.length >= min && res.digits.length > 0 && (!re || re.test(res.digits))) {
        ch.setVar(varName, res.digits);
        ch.setVar('read_result', 'success');
        if (res.terminator) ch.setVar('read_terminator_used', res.terminator);
        return undefined;
      }
      if (invalidFile && !ch.hungUp) await ch.playFile(invalidFile, req.via);
    }
    ch.setVar(varName, undefined);
    ch.setVar('read_result', 'failure');
    if (failure && !ch.hungUp) {
      const [ext, dp, ctx] = separateString(failure, ' ');
      if (ext) ch.transfer(ext, dp ?? 'XML', ctx ?? ch.context);
    }
    return undefined;
  },
  record: async (ch, host, req) => {
    const a = separateString(req.arg, ' ');
    const path = a[0] ?? '';
    const limitSec = int(a[1], 0);
    if (!ch.answered) ch.preAnswer();
    const pathHeader: Array<[string, string]> = [['Record-File-Path', path]];
    ch.fire('RECORD_START', { post: pathHeader });
    const started = host.now();
    const res = await ch.waitWithTerminators(limitSec > 0 ? limitSec * 1000 : Infinity, ch.vars.get('playback_terminators') ?? '*');
    const scale = host.options.timeScale;
    const ms = res.completed ? limitSec * 1000 : scale > 0 ? (host.now() - started) / scale : 0;
    ch.setVar('record_ms', String(Math.round(ms)));
    ch.setVar('record_seconds', String(Math.floor(ms / 1000)));
    ch.setVar('record_samples', String(Math.round((ms * 8000) / 1000)));
    if (res.terminator) ch.setVar('playback_terminator_used', res.terminator);
    ch.fire('RECORD_STOP', {
      post: [...pathHeader, ['Record-Completion-Cause', res.completed ? 'success-maxtime' : res.terminator ? 'success-terminator' : 'success']],
    });
    return undefined;
  },
  conference: async (ch, host, req) => {
    const name = (req.arg.split('@')[0] ?? '').split('+')[0] ?? '';
    if (!ch.answered) ch.answer();
    ch.conference = name;
    const memberId = String(++conferenceMembers);
    const leave = new AbortController();
    const flags = (/\+flags\{([^}]*)\}/.exec(req.arg)?.[1] ?? '').split('|');
    const member = (action: string): Array<[string, string]> => [
      ['Conference-Name', name],
      ['Conference-Profile-Name', req.arg.split('@')[1]?.split('+')[0] ?? 'default'],
      ['Member-ID', memberId],
      ['Action', action],
    ];
    // Members of one room instance share its conference_uuid; a room emptied and re-created gets a new one.
    const roomUuid = [...host.channels.values()].find((c) => c.conferenceMember?.name === name && !c.hungUp)?.conferenceMember?.roomUuid ?? host.uuid();
    ch.conferenceMember = {
      name,
      roomUuid,
      memberId,
      joinedAt: host.now(),
      muted: flags.includes('mute'),
      moderator: flags.includes('moderator'),
      talking: false,
      leave,
      event: (action) => ch.fire('CUSTOM', { subclass: 'conference::maintenance', post: member(action) }),
    };
    ch.fire('CUSTOM', { subclass: 'conference::maintenance', post: member('add-member') });
    await untilAborted(host, ch.signal, ch.transferSignal, leave.signal);
    ch.conferenceMember = undefined;
    ch.fire('CUSTOM', { subclass: 'conference::maintenance', post: member('del-member') });
    return undefined;
  },
};

export function isKnownApp(name: string): boolean {
  return Object.hasOwn(APPS, name.toLowerCase());
}

export const APP_NAMES: readonly string[] = Object.keys(APPS);

export async function runApp(ch: SimChannel, host: SimHost, req: ExecRequest): Promise<string | undefined> {
  const name = req.app.toLowerCase();
  if (!Object.hasOwn(APPS, name)) return undefined;
  return (APPS[name] as App)(ch, host, req);
}
