import type { SimChannel } from './channel.ts';
import { parseCause } from './hangup-causes.ts';
import type { AudioStreamAction } from './host.ts';
import { parseOriginateArgs, separateString, ORIGINATE_SYNTAX } from './originate.ts';
import { conferenceApi } from './conference-api.ts';

/** What the api commands need from the simulator. */
export interface ApiHost {
  readonly channels: Map<string, SimChannel>;
  readonly hostname: string;
  readonly startedAt: number;
  readonly sessionsSinceStartup: number;
  readonly peakSessions: number;
  now(): number;
  originate(arg: string): Promise<string>;
  audioStream(action: AudioStreamAction): void;
}

type ApiFn = (host: ApiHost, arg: string | undefined) => string | Promise<string>;

/** `-ERR No such channel!` as FreeSWITCH 1.11 answers uuid_kill for an unknown uuid (02-api-bgapi.bin). */
const NO_SUCH_CHANNEL = '-ERR No such channel!\n';

function live(host: ApiHost, uuid: string | undefined): SimChannel | undefined {
  if (!uuid) return undefined;
  const ch = host.channels.get(uuid);
  return ch && !ch.isDestroyed ? ch : undefined;
}

const VERSION = '1.11.3-dev';

const SHOW_COLUMNS = [
  'uuid', 'direction', 'created', 'created_epoch', 'name', 'state', 'cid_name', 'cid_num', 'ip_addr', 'dest',
  'application', 'application_data', 'dialplan', 'context', 'read_codec', 'read_rate', 'read_bit_rate', 'write_codec',
  'write_rate', 'write_bit_rate', 'secure', 'hostname', 'presence_id', 'presence_data', 'accountcode', 'callstate',
  'callee_name', 'callee_num', 'callee_direction', 'call_uuid', 'sent_callee_name', 'sent_callee_num',
  'initial_cid_name', 'initial_cid_num', 'initial_ip_addr', 'initial_dest', 'initial_dialplan', 'initial_context',
];

const AUDIO_STREAM_SYNTAX =
  '<uuid> [start | stop | send_text | pause | resume | graceful-shutdown ] [wss-url | path] [mono | mixed | stereo] [8000 | 16000 | 24000 | 32000 | 64000] [metadata]';

function uptimeText(ms: number): string {
  const us = Math.floor((ms % 1) * 1000);
  let rest = Math.floor(ms);
  const msPart = rest % 1000;
  rest = Math.floor(rest / 1000);
  const s = rest % 60;
  rest = Math.floor(rest / 60);
  const m = rest % 60;
  rest = Math.floor(rest / 60);
  const h = rest % 24;
  rest = Math.floor(rest / 24);
  const d = rest % 365;
  const y = Math.floor(rest / 365);
  return `${y} years, ${d} days, ${h} hours, ${m} minutes, ${s} seconds, ${msPart} milliseconds, ${us} microseconds`;
}

function activeChannels(host: ApiHost): SimChannel[] {
  return [...host.channels.values()].filter((c) => !c.isDestroyed);
}

function audioStream(host: ApiHost, arg: string | undefined): string {
  const argv = separateString(arg ?? '', ' ', 6);
  const usage = `-USAGE: ${AUDIO_STREAM_SYNTAX}\n`;
  const action = (argv[1] ?? '').toLowerCase();
  if (argv.length < 2 || (action === 'start' && argv.length < 4)) return usage;
  const ch = live(host, argv[0]);
  const failed = '-ERR Operation Failed\n';
  if (!ch || ch.hungUp) return failed;
  const stream = ch.audioStream && ch.audioStream.stoppedAt === undefined ? ch.audioStream : undefined;
  switch (action) {
    case 'start': {
      const url = argv[2] ?? '';
      const mix = (argv[3] ?? '').toLowerCase();
      const rateText = (argv[4] ?? '8k').toLowerCase();
      if (!/^wss?:\/\/\S+$/i.test(url)) return failed;
      if (!['mono', 'mixed', 'stereo'].includes(mix)) return failed;
      const rate = rateText === '8k' ? 8000 : rateText === '16k' ? 16000 : Number(rateText);
      if (!Number.isInteger(rate) || rate < 8000 || rate > 64000 || rate % 8000 !== 0) return failed;
      if (stream) return failed;
      const metadata = argv[5];
      ch.audioStream = { url, mix, rate, metadata, startedAt: host.now(), paused: false, sentTexts: [] };
      host.audioStream({ uuid: ch.uuid, action: 'start', url, mix, rate, metadata });
      return '+OK Success\n';
    }
    case 'stop':
    case 'graceful-shutdown': {
      if (!stream) return failed;
      stream.stoppedAt = host.now();
      const text = argv.slice(2).join(' ') || undefined;
      if (text) stream.sentTexts.push(text);
      host.audioStream({ uuid: ch.uuid, action: 'stop', text });
      return '+OK Success\n';
    }
    case 'pause':
    case 'resume': {
      if (!stream) return failed;
      stream.paused = action === 'pause';
      host.audioStream({ uuid: ch.uuid, action });
      return '+OK Success\n';
    }
    case 'send_text': {
      const text = argv.slice(2).join(' ');
      if (!text) return usage;
      if (!stream) return failed;
      stream.sentTexts.push(text);
      host.audioStream({ uuid: ch.uuid, action: 'send_text', text });
      return '+OK Success\n';
    }
    default:
      return usage;
  }
}

/** The api commands the simulator knows; anything else is `-ERR <cmd> Command not found!`. */
export const API_COMMANDS: Record<string, ApiFn> = {
  status: (host) => {
    const n = activeChannels(host).length;
    return (
      `UP ${uptimeText(host.now() - host.startedAt)}\n` +
      `FreeSWITCH (Version ${VERSION}  64bit) is ready\n` +
      `${host.sessionsSinceStartup} session(s) since startup\n` +
      `${n} session(s) - peak ${host.peakSessions}, last 5min ${host.peakSessions} \n` +
      `0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n` +
      '1000 session(s) max\n' +
      'min idle cpu 0.00/99.00\n' +
      'Current Stack Size/Max 240K/8192K\n'
    );
  },
  version: (_host, arg) =>
    arg?.trim() === 'short'
      ? `${VERSION.replace(/-.*/, '')}\n`
      : `FreeSWITCH Version ${VERSION}+git~20261101T000000Z~simulator~64bit (git simulator 2026-11-01 00:00:00Z 64bit)\n`,
  uptime: (host) => `${Math.floor((host.now() - host.startedAt) / 1000)}\n`,
  hostname: (host) => host.hostname,
  echo: (_host, arg) => arg ?? '',
  uuid_exists: (host, arg) => (live(host, arg?.trim()) ? 'true' : 'false'),
  uuid_kill: (host, arg) => {
    if (!arg) return '-USAGE: <uuid> [cause]\n';
    const sp = arg.indexOf(' ');
    const ch = live(host, sp < 0 ? arg : arg.slice(0, sp));
    if (!ch) return NO_SUCH_CHANNEL;
    // A leg already hanging up is still there until destroyed: killing it again is a no-op.
    ch.hangupNow(parseCause(sp < 0 ? undefined : arg.slice(sp + 1)) ?? 'NORMAL_CLEARING');
    return '+OK\n';
  },
  uuid_answer: (host, arg) => {
    const ch = live(host, arg?.trim());
    if (!ch || ch.hungUp) return '-ERROR\n';
    ch.answer();
    return '+OK\n';
  },
  uuid_pre_answer: (host, arg) => {
    const ch = live(host, arg?.trim());
    if (!ch || ch.hungUp) return '-ERROR\n';
    ch.preAnswer();
    return '+OK\n';
  },
  uuid_getvar: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 4);
    if (argv.length < 2 || !argv[0]) return '-USAGE: <uuid> <var>\n';
    const ch = live(host, argv[0]);
    if (!ch) return NO_SUCH_CHANNEL;
    const name = argv[1] ?? '';
    if (!name) return '-ERR No variable name specified!\n';
    return ch.vars.get(name) ?? '_undef_';
  },
  uuid_setvar: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 3);
    if (argv.length < 2 || !argv[0]) return '-USAGE: <uuid> <var> [value]\n';
    const ch = live(host, argv[0]);
    if (!ch) return NO_SUCH_CHANNEL;
    const name = argv[1] ?? '';
    if (!name) return '-ERR No variable specified\n';
    ch.setVar(name, argv.length >= 3 ? argv[2] : undefined);
    return '+OK\n';
  },
  uuid_setvar_multi: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 2);
    if (argv.length < 2) return '-USAGE: <uuid> <var>=<value>;<var>=<value>...\n';
    const ch = live(host, argv[0]);
    if (!ch) return NO_SUCH_CHANNEL;
    for (const pair of separateString(argv[1] ?? '', ';')) {
      const eq = pair.indexOf('=');
      if (eq > 0) ch.setVar(pair.slice(0, eq), pair.slice(eq + 1) || undefined);
    }
    return '+OK\n';
  },
  uuid_transfer: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 5);
    const usage = '-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n';
    if (argv.length < 2) return usage;
    const ch = live(host, argv[0]);
    if (!ch || ch.hungUp) return NO_SUCH_CHANNEL;
    let i = 1;
    let which = '';
    if (argv[1]?.startsWith('-')) {
      which = (argv[1] ?? '').slice(1).toLowerCase();
      i = 2;
    }
    const dest = argv[i];
    if (!dest) return usage;
    const dialplan = argv[i + 1] ?? 'XML';
    const context = argv[i + 2];
    const other = ch.bridgedTo ? live(host, ch.bridgedTo) : undefined;
    if (which === 'bleg' && other) other.transfer(dest, dialplan, context ?? other.context);
    else {
      if (which === 'both' && other) other.transfer(dest, dialplan, context ?? other.context);
      ch.transfer(dest, dialplan, context ?? ch.context);
    }
    return '+OK\n';
  },
  uuid_break: (host, arg) => {
    if (!arg?.trim()) return '-USAGE: <uuid> [all]\n';
    const sp = arg.indexOf(' ');
    const uuid = sp < 0 ? arg : arg.slice(0, sp);
    const flag = sp < 0 ? '' : arg.slice(sp + 1);
    const ch = live(host, uuid);
    if (!ch) return NO_SUCH_CHANNEL;
    const all = flag.includes('all');
    ch.breakMedia(all);
    if (flag.includes('both') && ch.bridgedTo) live(host, ch.bridgedTo)?.breakMedia(all);
    // mod_commands writes nothing on success, so the api/response says "-ERR no reply".
    return '';
  },
  uuid_broadcast: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 4);
    if (argv.length < 2) return '-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n';
    const ch = live(host, argv[0]);
    const legs = (argv[2] ?? 'aleg').toLowerCase();
    const file = argv[1] ?? '';
    if (ch && !ch.hungUp) {
      const other = ch.bridgedTo ? live(host, ch.bridgedTo) : undefined;
      if (legs.includes('aleg') || legs.includes('both') || !/bleg/.test(legs)) ch.enqueue({ app: 'playback', arg: file, via: 'broadcast' });
      if ((legs.includes('bleg') || legs.includes('both')) && other) other.enqueue({ app: 'playback', arg: file, via: 'broadcast' });
    }
    // switch_ivr_broadcast's result is not looked at: the reply is the same for a missing channel.
    return '+OK Message Sent\n';
  },
  uuid_bridge: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 4);
    if (argv.length < 2) return '-USAGE: <uuid> <other_uuid>\n';
    const a = live(host, argv[0]);
    const b = live(host, argv[1]);
    if (!a || !b || a.hungUp || b.hungUp || a === b) return '-ERR Invalid uuid\n';
    if (!a.answered) a.answer();
    if (!b.answered) b.answer();
    a.markBridged(b);
    b.markBridged(a);
    a.fire('CHANNEL_BRIDGE', { post: [['Bridge-A-Unique-ID', a.uuid], ['Bridge-B-Unique-ID', b.uuid]] });
    const end = (): void => {
      if (a.bridgedTo !== b.uuid) return;
      a.fire('CHANNEL_UNBRIDGE', { post: [['Bridge-A-Unique-ID', a.uuid], ['Bridge-B-Unique-ID', b.uuid]] });
      a.markBridged(undefined);
      b.markBridged(undefined);
      if (!a.hungUp) a.hangupNow('NORMAL_CLEARING');
      if (!b.hungUp) b.hangupNow('NORMAL_CLEARING');
    };
    a.signal.addEventListener('abort', end, { once: true });
    b.signal.addEventListener('abort', end, { once: true });
    return `+OK ${b.uuid}\n`;
  },
  uuid_send_dtmf: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 2);
    if (argv.length < 2 || !argv[1]) return '-USAGE: <uuid> <dtmf_data>\n';
    const ch = live(host, argv[0]);
    if (!ch) return '-ERR no such session\n';
    ch.dtmfSent.push((argv[1] ?? '').split('@')[0] ?? '');
    return '+OK Success\n';
  },
  uuid_hold: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 3);
    const uuid = argv[0]?.toLowerCase() === 'off' || argv[0]?.toLowerCase() === 'toggle' ? argv[1] : argv[0];
    return live(host, uuid) ? '+OK Success\n' : '-ERR Operation Failed\n';
  },
  uuid_record: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 4);
    if (argv.length < 3) return '-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n';
    const ch = live(host, argv[0]);
    if (!ch) return '-ERR Cannot locate session!\n';
    if ((argv[1] ?? '').toLowerCase() === 'start') ch.setVar('record_session_path', argv[2]);
    return '+OK Success\n';
  },
  uuid_audio_stream: audioStream,
  conference: conferenceApi,
  originate: (host, arg) => {
    if (!arg || !parseOriginateArgs(arg)) return `-USAGE: ${ORIGINATE_SYNTAX}\n`;
    return host.originate(arg);
  },
  hupall: (host, arg) => {
    const argv = separateString(arg ?? '', ' ', 3);
    const cause = parseCause(argv[0]) ?? 'MANAGER_REQUEST';
    const name = argv[2] !== undefined ? argv[1] : undefined;
    const value = argv[2];
    for (const ch of activeChannels(host)) {
      if (ch.hungUp) continue;
      if (name !== undefined && ch.vars.get(name) !== value) continue;
      ch.hangupNow(cause);
    }
    return name !== undefined
      ? `+OK hangup all channels matching [${name}]=[${value}] with cause: ${cause}\n`
      : `+OK hangup all channels with cause ${cause}\n`;
  },
  show: (host, arg) => {
    const words = (arg ?? '').trim().split(/\s+/);
    const what = (words[0] ?? '').toLowerCase();
    if (!['channels', 'calls'].includes(what)) return '-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n';
    const asJson = /\bas json\b/i.test(arg ?? '');
    const count = (words[1] ?? '').toLowerCase() === 'count';
    const rows = activeChannels(host).map((c) => c.showRow(host.hostname));
    if (asJson) {
      if (rows.length === 0 || count) return JSON.stringify({ row_count: rows.length });
      return JSON.stringify({ row_count: rows.length, rows });
    }
    if (count) return `\n${rows.length} total.\n`;
    if (rows.length === 0) return '\n0 total.\n';
    const lines = [SHOW_COLUMNS.join(',')];
    for (const r of rows) lines.push(SHOW_COLUMNS.map((c) => r[c] ?? '').join(','));
    return `${lines.join('\n')}\n\n${rows.length} total.\n`;
  },
};

/** Runs one api command; undefined when FreeSWITCH would not know it. */
export function runApiCommand(host: ApiHost, command: string, arg: string | undefined): Promise<string> | string | undefined {
  const name = command.toLowerCase();
  if (!Object.hasOwn(API_COMMANDS, name)) return undefined;
  return (API_COMMANDS[name] as ApiFn)(host, arg);
}
