// The FreeSWITCH configuration shipped in freeswitch-conf/: valid XML, consistent with the
// service's settings (core/config.ts), with the firewall and with fail2ban.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ESL_PASSWORD, isLoopback, loadConfig } from '../core/config.ts';
import { findTool, run, titleFor } from '../test/support/system-tools.ts';

const here = dirname(fileURLToPath(import.meta.url));
const read = (rel: string): string => readFileSync(join(here, rel), 'utf8');

/** Every file under dir whose name ends with suffix, as paths relative to freeswitch-conf/. */
function filesEndingWith(suffix: string, dir = here): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesEndingWith(suffix, path);
    return entry.name.endsWith(suffix) ? [relative(here, path)] : [];
  });
}

/** The XML without its comments: commented-out examples must not count as configuration. */
const live = (xml: string): string => xml.replace(/<!--[\s\S]*?-->/g, '');

/** name → value of every <param name=… value=…/> (live XML only). */
function params(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of live(xml).matchAll(/<param\s+name="([^"]+)"\s+value="([^"]*)"\s*\/>/g)) out.set(m[1]!, m[2]!);
  return out;
}

/** [application, data] of every live <action/>, in order. */
function actions(xml: string): Array<[string, string]> {
  return [...live(xml).matchAll(/<action\s+application="([^"]+)"(?:\s+data="([^"]*)")?\s*\/>/g)].map((m) => [m[1]!, m[2] ?? '']);
}

const xmlFiles = filesEndingWith('.xml');
const dialplans = ['conf/dialplan/default/00_switchboard.xml', 'conf/dialplan/public/00_switchboard.xml', 'fusionpbx/dialplan-switchboard.xml'];
const profiles = ['conf/sip_profiles/internal.xml', 'conf/sip_profiles/external.xml'];
const builtInAcls = new Set(['loopback.auto', 'localnet.auto', 'nat.auto', 'rfc1918.auto', 'wan.auto', 'any_v4.auto', 'any_v6.auto']);
const aclLists = new Set([...live(read('conf/autoload_configs/acl.conf.xml')).matchAll(/<list\s+name="([^"]+)"/g)].map((m) => m[1]!));

describe(titleFor('every XML file is well-formed (xmllint --noout)', 'xmllint', 'libxml2-utils'), () => {
  const xmllint = findTool('xmllint');
  it('finds the XML files', () => {
    expect(xmlFiles.length).toBeGreaterThanOrEqual(12);
  });
  it.skipIf(!xmllint).each(xmlFiles)('%s', async (file) => {
    const result = await run(xmllint!, ['--noout', join(here, file)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('dialplan hook', () => {
  // The defaults, not this process's environment: the shipped dialplan must match the shipped defaults.
  const { outbound } = loadConfig({});

  it.each(dialplans)('%s sends calls to Switchboard’s outbound socket address first', (file) => {
    const socketTargets = actions(read(file)).filter(([app]) => app === 'socket');
    expect(socketTargets.length).toBeGreaterThanOrEqual(1);
    expect(socketTargets[0]![1]).toBe(`${outbound.host}:${outbound.port} async full`);
  });

  it.each(dialplans)('%s falls back when Switchboard cannot be reached', (file) => {
    const all = actions(read(file));
    const afterSocket = all.slice(all.findIndex(([app]) => app === 'socket') + 1).map(([app]) => app);
    // Something that still serves the caller: ring someone, voicemail, or another extension.
    expect(afterSocket.some((app) => app === 'bridge' || app === 'transfer' || app === 'voicemail')).toBe(true);
  });

  it('the default-context fallback rings a person, then voicemail, and tolerates a failed bridge', () => {
    const apps = actions(read('conf/dialplan/default/00_switchboard.xml'));
    const index = (app: string, data?: string): number => apps.findIndex(([a, d]) => a === app && (data === undefined || d === data));
    expect(index('set', 'continue_on_fail=true')).toBeGreaterThan(index('socket'));
    expect(index('set', 'hangup_after_bridge=true')).toBeGreaterThan(index('socket'));
    expect(index('bridge')).toBeGreaterThan(index('set', 'continue_on_fail=true'));
    expect(index('voicemail')).toBeGreaterThan(index('bridge'));
  });

  it('the failover to a second Switchboard is documented in each hook', () => {
    for (const file of dialplans) {
      expect(read(file)).toMatch(/<action application="socket" data="[^"]+:8084 async full"\/>\s*-->/);
    }
  });
});

describe('event socket', () => {
  const config = loadConfig({});
  const xml = read('conf/autoload_configs/event_socket.conf.xml');
  const settings = params(xml);

  it('listens on loopback, on the port Switchboard connects to', () => {
    expect(isLoopback(settings.get('listen-ip') ?? '')).toBe(true);
    expect(Number(settings.get('listen-port'))).toBe(config.esl.port);
    expect(isLoopback(config.esl.host)).toBe(true);
  });

  it('reads the password from the variable install.sh sets, never the FreeSWITCH default', () => {
    expect(settings.get('password')).toBe('$${switchboard_esl_password}');
    expect(live(xml)).not.toContain(DEFAULT_ESL_PASSWORD);
    const include = live(xml).indexOf('<X-PRE-PROCESS cmd="include" data="../switchboard/esl-password.xml"/>');
    expect(include).toBeGreaterThan(-1);
    expect(include).toBeLessThan(live(xml).indexOf('<settings>'));
  });

  it('applies an inbound ACL that acl.conf.xml defines, holding only loopback addresses', () => {
    const acl = settings.get('apply-inbound-acl')!;
    expect(aclLists.has(acl)).toBe(true);
    const list = live(read('conf/autoload_configs/acl.conf.xml')).match(new RegExp(`<list name="${acl}" default="deny">([\\s\\S]*?)</list>`));
    expect(list).not.toBeNull();
    const cidrs = [...list![1]!.matchAll(/cidr="([^"]+)"/g)].map((m) => m[1]!);
    expect(cidrs.length).toBeGreaterThan(0);
    for (const cidr of cidrs) expect(isLoopback(cidr.split('/')[0]!)).toBe(true);
  });
});

describe('SIP profiles', () => {
  const internal = params(read('conf/sip_profiles/internal.xml'));
  const external = params(read('conf/sip_profiles/external.xml'));

  it('internal: registration hardening and the log lines fail2ban needs', () => {
    expect(internal.get('auth-calls')).toBe('true');
    expect(internal.get('inbound-reg-force-matching-username')).toBe('true');
    expect(internal.get('log-auth-failures')).toBe('true');
  });

  it('internal: NAT handling', () => {
    expect(internal.get('ext-rtp-ip')).toBe('$${external_rtp_ip}');
    expect(internal.get('ext-sip-ip')).toBe('$${external_sip_ip}');
    expect(internal.get('apply-nat-acl')).toBe('nat.auto');
    expect(internal.get('local-network-acl')).toBe('localnet.auto');
  });

  it('external: only the trunks ACL may call in, failures are logged', () => {
    expect(external.get('apply-inbound-acl')).toBe('trunks');
    expect(external.get('auth-calls-acl-only')).toBe('true');
    expect(external.get('log-auth-failures')).toBe('true');
    expect(external.get('disable-register')).toBe('true');
  });

  it.each(profiles)('%s only uses ACLs that exist', (file) => {
    const used = ['apply-inbound-acl', 'apply-nat-acl', 'local-network-acl', 'apply-register-acl']
      .map((name) => params(read(file)).get(name))
      .filter((value): value is string => value !== undefined);
    for (const acl of used) expect(builtInAcls.has(acl) || aclLists.has(acl), `${file}: ACL "${acl}"`).toBe(true);
  });
});

describe('firewall, profiles and fail2ban agree', () => {
  const nft = read('nftables/switchboard-freeswitch.nft');
  const ports = (proto: 'udp' | 'tcp'): number[] => {
    const m = nft.match(new RegExp(`^\\s*${proto} dport \\{ ([\\d, ]+) \\} accept$`, 'm'));
    return m ? m[1]!.split(',').map((p) => Number(p.trim())) : [];
  };
  const sipPorts = profiles.flatMap((file) => {
    const p = params(read(file));
    return [Number(p.get('sip-port')), Number(p.get('tls-sip-port'))];
  });

  it('every SIP port of the profiles is open (UDP for plain SIP, TCP for SIP and TLS)', () => {
    expect(sipPorts.sort()).toEqual([5060, 5061, 5080, 5081]);
    expect(ports('tcp').sort()).toEqual(sipPorts);
    expect(ports('udp').sort()).toEqual(profiles.map((file) => Number(params(read(file)).get('sip-port'))).sort());
  });

  it('the RTP range open in the firewall is the one switch.conf.xml uses', () => {
    const rtp = params(read('snippets/switch.conf.rtp-ports.xml'));
    expect(nft).toMatch(new RegExp(`^\\s*udp dport ${rtp.get('rtp-start-port')}-${rtp.get('rtp-end-port')} accept$`, 'm'));
  });

  it('the Event Socket and Switchboard ports are dropped for everyone but the controllers', () => {
    const { esl, outbound, http } = loadConfig({});
    const closed = nft.match(/^\s*tcp dport \{ ([\d, ]+) \} counter drop/m);
    expect(closed).not.toBeNull();
    expect(closed![1]!.split(',').map((p) => Number(p.trim())).sort()).toEqual([esl.port, http.port, outbound.port].sort());
  });

  it('the fail2ban jail bans on the SIP ports, TCP and UDP', () => {
    const jail = read('fail2ban/jail.d/switchboard-freeswitch.conf');
    const section = jail.slice(jail.indexOf('[switchboard-sip-auth]'), jail.indexOf('[switchboard-sip-challenge]'));
    expect(section).toMatch(/^port\s*=\s*5060,5061,5080,5081$/m);
    expect(section).toMatch(/^protocol\s*=\s*tcp,udp$/m);
    expect(section).toMatch(/^enabled\s*=\s*true$/m);
  });

  it.skipIf(!findTool('nft'))(titleFor('the nftables rule set passes nft --check', 'nft', 'nftables'), async (ctx) => {
    const result = await run(findTool('nft')!, ['--check', '--file', join(here, 'nftables/switchboard-freeswitch.nft')]);
    if (/Operation not permitted/.test(result.stderr)) ctx.skip('nft --check needs CAP_NET_ADMIN (run the tests as root to check the rule set)');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
