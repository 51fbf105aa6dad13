// The fail2ban filters against a corpus of FreeSWITCH log lines, with the real fail2ban-regex,
// and the jail file through fail2ban-client --test.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTool, run, titleFor } from '../test/support/system-tools.ts';

const here = join(dirname(fileURLToPath(import.meta.url)), 'fail2ban');
const filters = {
  auth: join(here, 'filter.d/switchboard-sip-auth.conf'),
  challenge: join(here, 'filter.d/switchboard-sip-challenge.conf'),
};
const corpus = {
  attacks: join(here, 'test-logs/freeswitch-attacks.log'),
  challenges: join(here, 'test-logs/freeswitch-challenges.log'),
  normal: join(here, 'test-logs/freeswitch-normal.log'),
};

interface LogLine {
  line: string;
  /** The address the filter must report, from the "# host:" comment above the line. */
  host: string | undefined;
}

function readCorpus(file: string): LogLine[] {
  const out: LogLine[] = [];
  let host: string | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const expected = line.match(/^# host: (\S+)$/);
    if (expected) host = expected[1];
    else if (line.trim() !== '' && !line.startsWith('#')) {
      out.push({ line, host });
      host = undefined;
    }
  }
  return out;
}

/** Log line → address fail2ban-regex found in it, for every line the filter matched. */
async function matches(logFile: string, filterFile: string): Promise<Map<string, string>> {
  const result = await run(findTool('fail2ban-regex')!, ['--usedns=no', '--out', '<ip> | <msg>', logFile, filterFile]);
  expect(result.stderr).not.toMatch(/ERROR/);
  expect(result.code).toBe(0);
  const found = new Map<string, string>();
  for (const out of result.stdout.split('\n').filter(Boolean)) {
    const cut = out.indexOf(' | ');
    found.set(out.slice(cut + 3), out.slice(0, cut));
  }
  return found;
}

const hasRegex = findTool('fail2ban-regex') !== undefined;

describe(titleFor('fail2ban filters on FreeSWITCH log lines (fail2ban-regex)', 'fail2ban-regex', 'fail2ban'), () => {
  // fail2ban-regex takes ~0.5 s to start: run the six filter × corpus pairs at once.
  type Pair = `${keyof typeof filters}:${keyof typeof corpus}`;
  const found = new Map<Pair, Map<string, string>>();
  beforeAll(async () => {
    if (!hasRegex) return;
    const pairs = (Object.keys(filters) as Array<keyof typeof filters>).flatMap((f) =>
      (Object.keys(corpus) as Array<keyof typeof corpus>).map((c) => [f, c] as const),
    );
    const results = await Promise.all(pairs.map(([f, c]) => matches(corpus[c], filters[f])));
    pairs.forEach(([f, c], i) => found.set(`${f}:${c}`, results[i]!));
  });
  const matched = (pair: Pair): Map<string, string> => found.get(pair)!;

  it('the corpus names the expected host of every attack and challenge line', () => {
    for (const file of [corpus.attacks, corpus.challenges]) {
      const lines = readCorpus(file);
      expect(lines.length).toBeGreaterThan(3);
      for (const { line, host } of lines) expect(host, line).toBeDefined();
    }
    expect(readCorpus(corpus.attacks).some(({ host }) => host?.includes(':'))).toBe(true); // IPv6 covered
  });

  it.skipIf(!hasRegex)('switchboard-sip-auth matches every attack line, with the right host', () => {
    const expected = readCorpus(corpus.attacks);
    for (const { line, host } of expected) expect(matched('auth:attacks').get(line), line).toBe(host);
    expect(matched('auth:attacks').size).toBe(expected.length);
  });

  it.skipIf(!hasRegex)('switchboard-sip-auth ignores digest challenges: they come with every normal phone', () => {
    expect([...matched('auth:challenges').keys()]).toEqual([]);
  });

  it.skipIf(!hasRegex)('switchboard-sip-auth ignores ordinary operation (registrations, calls, Switchboard down)', () => {
    expect([...matched('auth:normal').keys()]).toEqual([]);
  });

  it.skipIf(!hasRegex)('switchboard-sip-challenge counts each challenge for its host, and nothing else', () => {
    const expected = readCorpus(corpus.challenges);
    for (const { line, host } of expected) expect(matched('challenge:challenges').get(line), line).toBe(host);
    expect(matched('challenge:challenges').size).toBe(expected.length);
    expect([...matched('challenge:attacks').keys()]).toEqual([]);
    expect([...matched('challenge:normal').keys()]).toEqual([]);
  });
});

describe(titleFor('fail2ban jail file (fail2ban-client --test)', 'fail2ban-client', 'fail2ban'), () => {
  const client = findTool('fail2ban-client');
  const systemConfig = '/etc/fail2ban';
  const temp = mkdtempSync(join(tmpdir(), 'sb-fail2ban-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  const jail = readFileSync(join(here, 'jail.d/switchboard-freeswitch.conf'), 'utf8');
  const section = (name: string): string => {
    const start = jail.indexOf(`[${name}]`);
    const next = jail.indexOf('\n[', start + 1);
    return jail.slice(start, next === -1 ? undefined : next);
  };

  it('the auth jail is on, the challenge jail is off, recidive is on', () => {
    expect(section('switchboard-sip-auth')).toMatch(/^enabled\s*=\s*true$/m);
    expect(section('switchboard-sip-challenge')).toMatch(/^enabled\s*=\s*false$/m);
    expect(section('recidive')).toMatch(/^enabled\s*=\s*true$/m);
    for (const name of ['switchboard-sip-auth', 'switchboard-sip-challenge']) {
      const s = section(name);
      expect(s).toMatch(/^logpath\s*=\s*\/var\/log\/freeswitch\/freeswitch\.log$/m);
      expect(s).toMatch(/^maxretry\s*=\s*\d+$/m);
      expect(s).toMatch(/^findtime\s*=\s*\S+$/m);
      expect(s).toMatch(/^bantime\s*=\s*\S+$/m);
    }
    // The challenge jail must tolerate far more than the auth jail.
    const maxretry = (name: string): number => Number(section(name).match(/^maxretry\s*=\s*(\d+)$/m)![1]);
    expect(maxretry('switchboard-sip-challenge')).toBeGreaterThanOrEqual(20 * maxretry('switchboard-sip-auth'));
  });

  it.skipIf(!client || !existsSync(systemConfig))('loads with the installed fail2ban (filters, actions, interpolation)', async () => {
    // A private copy of the system configuration with only our jails, pointed at a log file that
    // exists (fail2ban refuses a jail whose log is missing).
    const config = join(temp, 'etc');
    cpSync(systemConfig, config, { recursive: true });
    rmSync(join(config, 'jail.d'), { recursive: true, force: true });
    rmSync(join(config, 'jail.local'), { force: true });
    cpSync(join(here, 'jail.d'), join(config, 'jail.d'), { recursive: true });
    cpSync(join(here, 'filter.d'), join(config, 'filter.d'), { recursive: true });
    const log = join(temp, 'freeswitch.log');
    writeFileSync(log, '');
    writeFileSync(join(config, 'jail.local'), `[switchboard-sip-auth]\nlogpath = ${log}\n[switchboard-sip-challenge]\nlogpath = ${log}\n[recidive]\nlogpath = ${log}\n`);
    const result = await run(client!, ['--conf', config, '--test']);
    expect(result.stdout + result.stderr).toContain('OK: configuration test is successful');
    expect(result.code).toBe(0);
  });
});
