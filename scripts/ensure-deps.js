#!/usr/bin/env node
// Installs what `npm test`, `npm run demo` and `npm start` need and a fresh Debian 12 machine
// lacks: npm dependencies (npm ci) and the system tools below (apt-get, when root). Runs before
// those scripts (npm "pre" hooks) and from .ci/run. Plain Node, no dependencies: it runs before
// node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lifecycle = process.env.npm_lifecycle_event ?? '';
const forTests = lifecycle === 'pretest' || process.argv.includes('--test');

/** Debian packages: the binary that proves each is there, and who needs it. */
const tools = [
  { bin: 'redis-server', pkg: 'redis-server', why: 'BullMQ queues (demo, start, tests)', always: true },
  { bin: 'sox', pkg: 'sox', why: 'audio conversion', always: true },
  { bin: 'sox', pkg: 'libsox-fmt-all', why: 'sox MP3/OGG/FLAC/GSM formats', always: true, probe: () => soxHas('mp3') },
  { bin: 'opusenc', pkg: 'opus-tools', why: 'OGG Opus (.opus) conversion: opusenc, opusdec', always: true },
  { bin: 'fail2ban-regex', pkg: 'fail2ban', why: 'tests of the fail2ban filter' },
  { bin: 'xmllint', pkg: 'libxml2-utils', why: 'tests of the FreeSWITCH XML' },
  { bin: 'shellcheck', pkg: 'shellcheck', why: 'tests of the shell scripts' },
  { bin: 'nft', pkg: 'nftables', why: 'tests of the firewall rule set' },
  { bin: 'espeak-ng', pkg: 'espeak-ng', why: 'speaking prompts for prepare-sounds' },
  { bin: 'chromium', pkg: 'chromium', why: 'tests of the web pages (Swagger UI at /docs), driven by playwright-core' },
];

function has(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function soxHas(format) {
  const r = spawnSync('sox', ['--help'], { encoding: 'utf8' });
  return r.status === 0 && new RegExp(`AUDIO FILE FORMATS:.*\\b${format}\\b`).test(r.stdout);
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('[switchboard] installing npm dependencies (npm ci)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

function ensureSystemTools() {
  const wanted = tools.filter((t) => t.always || forTests);
  const missing = wanted.filter((t) => !has(t.bin) || (t.probe && !t.probe()));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !has('apt-get')) {
    console.error(`[switchboard] missing system packages: ${pkgs.join(' ')}`);
    for (const t of missing) console.error(`  ${t.pkg.padEnd(16)} for ${t.why}`);
    console.error(`Install them with: sudo apt-get install -y ${pkgs.join(' ')}`);
    if (missing.some((t) => t.always)) process.exit(1);
    return;
  }
  console.log(`[switchboard] installing ${pkgs.join(' ')} (apt-get)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`[switchboard] Node ${process.versions.node} is too old: Node 20.12 or newer is needed.`);
  process.exit(1);
}
ensureNodeModules();
ensureSystemTools();
