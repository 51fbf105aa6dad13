// install.sh in throw-away FreeSWITCH configuration trees: what it writes, that a second run
// changes nothing, --dry-run, --fusionpbx, and shellcheck on every script of this folder.
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ESL_PASSWORD } from '../core/config.ts';
import { findTool, run, titleFor, type RunResult } from '../test/support/system-tools.ts';

const here = dirname(fileURLToPath(import.meta.url));
const installer = join(here, 'install.sh');
const scratch = mkdtempSync(join(tmpdir(), 'sb-install-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let trees = 0;
/** A minimal stand-in for a vanilla FreeSWITCH conf dir (the parts install.sh touches). */
function vanillaTree(): { root: string; conf: string } {
  const root = join(scratch, `tree-${++trees}`);
  const conf = join(root, 'conf');
  for (const dir of ['autoload_configs', 'dialplan/default', 'dialplan/public', 'sip_profiles', 'directory/default']) {
    mkdirSync(join(conf, dir), { recursive: true });
  }
  writeFileSync(
    join(conf, 'autoload_configs/event_socket.conf.xml'),
    '<configuration name="event_socket.conf" description="Socket Client">\n  <settings>\n' +
      '    <param name="listen-ip" value="::"/>\n    <param name="listen-port" value="8021"/>\n' +
      '    <param name="password" value="ClueCon"/>\n  </settings>\n</configuration>\n',
  );
  writeFileSync(join(conf, 'sip_profiles/internal.xml'), '<profile name="internal">\n  <settings>\n    <param name="log-auth-failures" value="false"/>\n  </settings>\n</profile>\n');
  writeFileSync(join(conf, 'dialplan/default/01_example.com.xml'), '<include/>\n');
  return { root, conf };
}

/** Every file under dir with its mode and content: two equal snapshots mean nothing changed. */
function snapshot(dir: string): Array<[string, string, string]> {
  const walk = (d: string): Array<[string, string, string]> =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => {
      const path = join(d, e.name);
      if (e.isDirectory()) return walk(path);
      return [[relative(dir, path), (statSync(path).mode & 0o777).toString(8), readFileSync(path, 'utf8')] as [string, string, string]];
    });
  return walk(dir).sort(([a], [b]) => a.localeCompare(b));
}

const install = (...args: string[]): Promise<RunResult> => run('bash', [installer, ...args]);
const passwordIn = (secretFile: string): string => readFileSync(secretFile, 'utf8').match(/switchboard_esl_password=([^"]*)"/)![1]!;
const src = (rel: string): string => readFileSync(join(here, 'conf', rel), 'utf8');

describe('install.sh on plain FreeSWITCH', () => {
  it('--dry-run reports what it would do and writes nothing', async () => {
    const { root, conf } = vanillaTree();
    const before = snapshot(root);
    const result = await install('--prefix', conf, '--dry-run', '--env-file', join(root, 'switchboard.env'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would create  dialplan/default/00_switchboard.xml');
    expect(result.stdout).toContain('would update  autoload_configs/event_socket.conf.xml');
    expect(result.stdout).toContain('would generate  a new Event Socket password');
    expect(result.stdout).toContain('Dry run: 6 file(s) would change.');
    expect(snapshot(root)).toEqual(before);
  });

  it('installs the hook, the loopback event socket with a fresh password, and a second run changes nothing', async () => {
    const { root, conf } = vanillaTree();
    const envFile = join(root, 'switchboard.env');
    const original = readFileSync(join(conf, 'autoload_configs/event_socket.conf.xml'), 'utf8');

    const first = await install('--prefix', conf, '--env-file', envFile);
    expect(first.code, first.stderr).toBe(0);
    for (const rel of ['autoload_configs/acl.conf.xml', 'dialplan/default/00_switchboard.xml', 'dialplan/public/00_switchboard.xml', 'switchboard/esl-password.xml']) {
      expect(first.stdout).toContain(`created    ${rel}`);
    }
    expect(first.stdout).toContain('updated    autoload_configs/event_socket.conf.xml (old one kept as autoload_configs/event_socket.conf.xml.before-switchboard)');
    expect(first.stdout).toContain('6 file(s) changed.');

    // Installed verbatim, the replaced file kept.
    for (const rel of ['autoload_configs/event_socket.conf.xml', 'autoload_configs/acl.conf.xml', 'dialplan/default/00_switchboard.xml', 'dialplan/public/00_switchboard.xml']) {
      expect(readFileSync(join(conf, rel), 'utf8'), rel).toBe(src(rel));
    }
    expect(readFileSync(join(conf, 'autoload_configs/event_socket.conf.xml.before-switchboard'), 'utf8')).toBe(original);

    // A private, random password shared with Switchboard, never printed.
    const secret = join(conf, 'switchboard/esl-password.xml');
    const password = passwordIn(secret);
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(password).not.toBe(DEFAULT_ESL_PASSWORD);
    expect((statSync(secret).mode & 0o777).toString(8)).toBe('640');
    expect(readFileSync(envFile, 'utf8')).toBe(`SB_ESL_PASSWORD=${password}\n`);
    expect((statSync(envFile).mode & 0o777).toString(8)).toBe('600');
    expect(first.stdout + first.stderr).not.toContain(password);

    // The vanilla profile does not log auth failures: the installer says so.
    expect(first.stdout).toContain('does not set log-auth-failures=true');

    const afterFirst = snapshot(root);
    const second = await install('--prefix', conf, '--env-file', envFile);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('0 file(s) changed.');
    expect(second.stdout).not.toMatch(/^(created|updated|generated)/m);
    expect(snapshot(root)).toEqual(afterFirst);
  });

  it.skipIf(!findTool('xmllint'))(titleFor('what it installs is well-formed XML', 'xmllint', 'libxml2-utils'), async () => {
    const { conf } = vanillaTree();
    expect((await install('--prefix', conf, '--sip-profiles')).code).toBe(0);
    const files = snapshot(conf)
      .map(([rel]) => rel)
      .filter((rel) => rel.endsWith('.xml'));
    const result = await run(findTool('xmllint')!, ['--noout', ...files.map((rel) => join(conf, rel))]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('--esl-password sets that password; changing it later updates both sides and keeps the old file', async () => {
    const { root, conf } = vanillaTree();
    const envFile = join(root, 'switchboard.env');
    writeFileSync(envFile, 'SB_LOG_LEVEL=debug\nSB_ESL_PASSWORD=ClueCon\n', { mode: 0o644 });
    expect((await install('--prefix', conf, '--env-file', envFile, '--esl-password', 'first.Secret-0123456789')).code).toBe(0);
    expect(passwordIn(join(conf, 'switchboard/esl-password.xml'))).toBe('first.Secret-0123456789');
    expect(readFileSync(envFile, 'utf8')).toBe('SB_LOG_LEVEL=debug\nSB_ESL_PASSWORD=first.Secret-0123456789\n');
    // Now that it holds the password, nobody but owner and group may read it.
    expect((statSync(envFile).mode & 0o777).toString(8)).toBe('640');

    // Without --esl-password a later run keeps the installed one.
    expect((await install('--prefix', conf, '--env-file', envFile)).stdout).toContain('0 file(s) changed.');

    const rotated = await install('--prefix', conf, '--env-file', envFile, '--esl-password', 'second~Secret_0123456789');
    expect(rotated.stdout).toContain('updated    switchboard/esl-password.xml');
    expect(rotated.stdout).toContain('2 file(s) changed.');
    expect(passwordIn(join(conf, 'switchboard/esl-password.xml'))).toBe('second~Secret_0123456789');
    expect(passwordIn(join(conf, 'switchboard/esl-password.xml.before-switchboard'))).toBe('first.Secret-0123456789');
    expect(readFileSync(envFile, 'utf8')).toContain('SB_ESL_PASSWORD=second~Secret_0123456789\n');
  });

  it.each([
    ['too short', 'short'],
    ['the FreeSWITCH default', DEFAULT_ESL_PASSWORD],
    ['a space', 'has a space in it 12345'],
    ['XML/shell metacharacters', 'abc"def<ghi>$jkl&0123456'],
  ])('refuses an ESL password with %s and writes nothing', async (_, password) => {
    const { root, conf } = vanillaTree();
    const before = snapshot(root);
    const result = await install('--prefix', conf, '--esl-password', password);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--esl-password must be 16 to 128 characters');
    expect(snapshot(root)).toEqual(before);
  });

  it('--sip-profiles replaces the profiles, keeping the originals', async () => {
    const { conf } = vanillaTree();
    const original = readFileSync(join(conf, 'sip_profiles/internal.xml'), 'utf8');
    const result = await install('--prefix', conf, '--sip-profiles');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('updated    sip_profiles/internal.xml');
    expect(result.stdout).toContain('created    sip_profiles/external.xml');
    expect(result.stdout).not.toContain('log-auth-failures');
    expect(readFileSync(join(conf, 'sip_profiles/internal.xml'), 'utf8')).toBe(src('sip_profiles/internal.xml'));
    expect(readFileSync(join(conf, 'sip_profiles/internal.xml.before-switchboard'), 'utf8')).toBe(original);
  });

  it('--fail2ban-dir installs the filters and the jail', async () => {
    const { root, conf } = vanillaTree();
    const f2b = join(root, 'fail2ban');
    mkdirSync(join(f2b, 'filter.d'), { recursive: true });
    const result = await install('--prefix', conf, '--fail2ban-dir', f2b);
    expect(result.code).toBe(0);
    for (const rel of ['filter.d/switchboard-sip-auth.conf', 'filter.d/switchboard-sip-challenge.conf', 'jail.d/switchboard-freeswitch.conf']) {
      expect(readFileSync(join(f2b, rel), 'utf8')).toBe(readFileSync(join(here, 'fail2ban', rel), 'utf8'));
    }
    expect((await install('--prefix', conf, '--fail2ban-dir', f2b)).stdout).toContain('0 file(s) changed.');
  });

  it('refuses a directory that is not a FreeSWITCH configuration', async () => {
    const result = await install('--prefix', join(scratch, 'nowhere'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('does not look like a FreeSWITCH configuration directory');
  });
});

describe('install.sh --fusionpbx', () => {
  it('installs only the event socket, syncs FusionPBX’s password and prints the web UI steps', async () => {
    const { root, conf } = vanillaTree();
    const fusionConfig = join(root, 'config.conf');
    writeFileSync(fusionConfig, 'database.0.host = 127.0.0.1\nswitch.event_socket.host = 127.0.0.1\nswitch.event_socket.port = 8021\nswitch.event_socket.password = ClueCon\n');
    // FusionPBX's web server (www-data) reads that file: rewriting it must keep its owner.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(fusionConfig, 33, 33);

    const first = await install('--prefix', conf, '--fusionpbx', '--fusionpbx-config', fusionConfig);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Dialplan > Dialplan Manager');
    expect(first.stdout).not.toContain('log-auth-failures=true: fail2ban'); // FusionPBX profiles live in its database

    // FusionPBX keeps dialplans and ACLs in its database: none of those files are written.
    for (const rel of ['autoload_configs/acl.conf.xml', 'dialplan/default/00_switchboard.xml', 'dialplan/public/00_switchboard.xml']) {
      expect(() => statSync(join(conf, rel)), rel).toThrow();
    }
    const esl = readFileSync(join(conf, 'autoload_configs/event_socket.conf.xml'), 'utf8');
    expect(esl).toContain('<param name="apply-inbound-acl" value="loopback.auto"/>');
    expect(esl).toContain('<param name="listen-ip" value="127.0.0.1"/>');

    const password = passwordIn(join(conf, 'switchboard/esl-password.xml'));
    expect(readFileSync(fusionConfig, 'utf8')).toBe(
      `database.0.host = 127.0.0.1\nswitch.event_socket.host = 127.0.0.1\nswitch.event_socket.port = 8021\nswitch.event_socket.password = ${password}\n`,
    );

    if (asRoot) expect([statSync(fusionConfig).uid, statSync(fusionConfig).gid]).toEqual([33, 33]);

    const afterFirst = snapshot(root);
    expect((await install('--prefix', conf, '--fusionpbx', '--fusionpbx-config', fusionConfig)).stdout).toContain('0 file(s) changed.');
    expect(snapshot(root)).toEqual(afterFirst);
  });

  it('refuses --sip-profiles: FusionPBX keeps SIP profiles in its database', async () => {
    const { conf } = vanillaTree();
    const result = await install('--prefix', conf, '--fusionpbx', '--sip-profiles');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Advanced > SIP Profiles');
  });
});

describe(titleFor('shell scripts are shellcheck-clean', 'shellcheck', 'shellcheck'), () => {
  const scripts = snapshot(here)
    .map(([rel]) => rel)
    .filter((rel) => rel.endsWith('.sh'));
  it('finds the scripts', () => expect(scripts).toEqual(expect.arrayContaining(['install.sh', 'mod_audio_stream/build.sh'])));
  it.skipIf(!findTool('shellcheck')).each(scripts)('%s', async (script) => {
    const result = await run(findTool('shellcheck')!, ['--shell=bash', '--severity=style', join(here, script)]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
