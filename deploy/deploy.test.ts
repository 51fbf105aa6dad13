// The static deployment files: compose, Dockerfile, systemd units, env example, Prometheus and
// Grafana provisioning, checked against each other and against the service's settings.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { findTool, run, titleFor } from '../test/support/system-tools.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const read = (rel: string): string => readFileSync(join(here, rel), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'sb-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Dict = Record<string, unknown>;

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  network_mode?: string;
  env_file?: Array<string | { path: string; required?: boolean }>;
  volumes?: string[];
  profiles?: string[];
  healthcheck?: Dict;
  deploy?: { replicas?: number };
  read_only?: boolean;
  cap_drop?: string[];
  stop_grace_period?: string;
  environment?: Record<string, string>;
}

const compose = yaml.load(read('docker-compose.yml')) as { services: Record<string, Service>; volumes: Dict };
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};

/** [source, target] of a short-syntax volume; ${VAR:-default} sources may contain ':'. */
function splitVolume(volume: string): [string, string] {
  const parts = volume.match(/^(\$\{[^}]+\}|[^:]+):(\$\{[^}]+\}|[^:]+)(?::\w+)?$/);
  if (!parts) throw new Error(`cannot read volume "${volume}"`);
  return [parts[1]!, parts[2]!];
}

/** Metric names listed in the README's metrics table: the contract. */
const contract = [...read('README.md').matchAll(/^\| `(switchboard_[a-z_]+)` \|/gm)].map((m) => m[1]!);

describe('docker-compose.yml', () => {
  it('parses and has switchboard, worker, redis, prometheus and grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'prometheus', 'redis', 'switchboard', 'worker']);
  });

  it('runs the service and the workers from the same image, with the right subcommands', () => {
    expect(service('switchboard').command).toEqual(['start']);
    expect(service('worker').command).toEqual(['worker']);
    expect(service('worker').deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(service('worker').build).toEqual(service('switchboard').build);
    for (const name of ['switchboard', 'worker']) {
      const s = service(name);
      expect(s.network_mode, name).toBe('host');
      expect(s.read_only, name).toBe(true);
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.stop_grace_period, name).toMatch(/^\d+s$/);
    }
  });

  it('configures Redis for BullMQ: noeviction, append-only persistence, loopback', () => {
    const command = service('redis').command!.join(' ');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--bind 127.0.0.1');
    expect(service('redis').volumes).toContain('redis-data:/data');
    expect(service('switchboard').environment?.REDIS_URL).toContain('redis://127.0.0.1:6379');
  });

  it('keeps Prometheus and Grafana in the monitoring profile, on loopback', () => {
    expect(service('prometheus').profiles).toEqual(['monitoring']);
    expect(service('grafana').profiles).toEqual(['monitoring']);
    expect(service('prometheus').command).toContain('--web.listen-address=127.0.0.1:9090');
    expect(service('grafana').environment?.GF_SERVER_HTTP_ADDR).toBe('127.0.0.1');
    expect(service('grafana').environment?.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  });

  it('references only files that exist (build context, Dockerfile, bind mounts, required env files)', () => {
    const missing: string[] = [];
    const named = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build) {
        const context = resolve(here, s.build.context);
        if (!existsSync(context)) missing.push(`${name}: build context ${s.build.context}`);
        if (!existsSync(resolve(context, s.build.dockerfile))) missing.push(`${name}: dockerfile ${s.build.dockerfile}`);
      }
      for (const volume of s.volumes ?? []) {
        const [source, target] = splitVolume(volume);
        if (source.startsWith('${')) {
          // A host path taken from a setting: it is created on the host, not shipped.
          if (source !== target) missing.push(`${name}: ${source} must be mounted at the same path`);
        } else if (source.startsWith('.') || source.startsWith('/')) {
          if (!existsSync(resolve(here, source))) missing.push(`${name}: volume ${source}`);
        } else if (!named.has(source)) missing.push(`${name}: undeclared named volume ${source}`);
      }
      for (const entry of s.env_file ?? []) {
        const file = typeof entry === 'string' ? { path: entry, required: true } : entry;
        if (file.required !== false && !existsSync(resolve(here, file.path))) missing.push(`${name}: env_file ${file.path}`);
      }
    }
    expect(missing).toEqual([]);
    // The optional env file is the one users create from the documented example.
    expect(service('switchboard').env_file).toEqual([{ path: '.env', required: false }]);
    expect(existsSync(join(here, '.env.example'))).toBe(true);
  });

  it.skipIf(!findTool('docker'))(titleFor('docker compose config accepts it', 'docker', 'docker.io'), async (ctx) => {
    const env = { ...process.env, GRAFANA_ADMIN_PASSWORD: 'test-only' };
    const probe = await run(findTool('docker')!, ['compose', 'version'], { env });
    if (probe.code !== 0) ctx.skip('docker is installed without the compose plugin (apt-get install docker-compose-plugin)');
    const result = await run(findTool('docker')!, ['compose', '--file', join(here, 'docker-compose.yml'), '--profile', 'monitoring', 'config', '--quiet'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line));

  it('builds in stages and installs production dependencies only', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=20\.\d+$/m);
  });

  it('runs as a non-root user', () => {
    const users = instructions.filter((line) => line.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|\s|$)/);
  });

  it('starts `node bin/switchboard.js start` and checks /health on the HTTP port', () => {
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/switchboard.js"]');
    expect(dockerfile).toContain('CMD ["start"]');
    const health = instructions.find((line) => line.startsWith('HEALTHCHECK '));
    expect(health).toContain('/health');
    expect(health).toContain(`process.env.SB_HTTP_PORT || ${loadConfig({}).http.port}`);
  });

  it('copies only files that exist, and keeps secrets out of the build context', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const sources = line.split(/\s+/).slice(1, -1).filter((word) => !word.startsWith('--'));
      for (const source of sources) expect(existsSync(join(repo, source)), line).toBe(true);
    }
    const ignored = read('Dockerfile.dockerignore').split('\n');
    for (const entry of ['.git', '**/node_modules', '.env', '**/.env']) expect(ignored).toContain(entry);
  });
});

describe('.env.example', () => {
  const example = read('.env.example');
  const values = parseEnv(example) as Record<string, string>;
  // Every variable core/config.ts reads, found in its source so that new settings are caught.
  const source = readFileSync(join(repo, 'core/config.ts'), 'utf8');
  // (env, 'NAME' …) for str/int/port, env.NAME and env['NAME'] for direct reads.
  const settings = [...new Set([...source.matchAll(/\benv(?:, '|\.|\[')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!))];

  it('documents every setting the service reads, each with a comment', () => {
    expect(settings.length).toBeGreaterThanOrEqual(12);
    const lines = example.split('\n');
    for (const name of settings) {
      const at = lines.findIndex((line) => line.startsWith(`${name}=`));
      expect(at, `${name} is missing from .env.example`).toBeGreaterThan(0);
      expect(lines[at - 1], `${name} has no comment above it`).toMatch(/^#|^[A-Z_]+=/);
    }
  });

  it('shows the defaults: loading the example as-is gives the built-in configuration, plus Redis', () => {
    // REDIS_URL has no default (no queues); every deployment here sets it.
    expect(loadConfig(values)).toEqual({ ...loadConfig({}), redisUrl: 'redis://127.0.0.1:6379' });
  });

  it('compose passes the settings that name FreeSWITCH-side paths with the same defaults', () => {
    const env = service('switchboard').environment!;
    expect(env.SB_SOUNDS_DIR).toBe('${SB_SOUNDS_DIR:-/usr/share/switchboard/sounds}');
    expect(values.SB_RECORDINGS_DIR).toBe(loadConfig({}).recordingsDir);
    expect(service('switchboard').volumes).toContain(`\${SB_RECORDINGS_DIR:-${loadConfig({}).recordingsDir}}:\${SB_RECORDINGS_DIR:-${loadConfig({}).recordingsDir}}`); // read-write: the audio worker writes conversions beside recordings
  });

  it('leaves the ESL password empty (install.sh fills it) and marks room for later settings', () => {
    expect(values.SB_ESL_PASSWORD).toBe('');
    expect(example).toMatch(/^# --- Added by later versions/m);
  });
});

describe('metrics: Prometheus, Grafana and the README contract', () => {
  const dashboard = JSON.parse(read('grafana/dashboards/switchboard.json')) as { uid: string; panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string; datasource: { uid: string } }> }> };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(switchboard_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?=[{[)\s]|$)/g)].map((m) => m[1]!)));

  it('the README lists the seven metric names', () => {
    expect(contract).toEqual([
      'switchboard_calls_total',
      'switchboard_calls_active',
      'switchboard_originate_total',
      'switchboard_queue_depth',
      'switchboard_esl_reconnects_total',
      'switchboard_step_duration_seconds',
      'switchboard_nova_sessions_active',
    ]);
  });

  it('the dashboard uses exactly the contract’s metrics', () => {
    expect([...used].sort()).toEqual([...contract].sort());
  });

  it('the dashboard shows calls, CPS, queue depth, originate causes and Nova sessions', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['calls', 'calls per second', 'queue depth', 'originate', 'nova']) expect(titles).toContain(topic);
  });

  it('every panel queries the provisioned data source', () => {
    const datasources = yaml.load(read('grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string; url: string }> };
    const uid = datasources.datasources[0]!.uid;
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe(uid);
      for (const target of panel.targets) expect(target.datasource.uid, panel.title).toBe(uid);
    }
    expect(datasources.datasources[0]!.url).toBe(`http://${service('prometheus').command!.find((c) => c.startsWith('--web.listen-address='))!.split('=')[1]}`);
  });

  it('Grafana loads the dashboard from where compose mounts it', () => {
    const providers = yaml.load(read('grafana/provisioning/dashboards/switchboard.yml')) as { providers: Array<{ options: { path: string } }> };
    const mount = service('grafana').volumes!.find((v) => v.startsWith('./grafana/dashboards:'))!;
    expect(mount.split(':')[1]).toBe(providers.providers[0]!.options.path);
    expect(service('grafana').environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${providers.providers[0]!.options.path}/switchboard.json`);
  });

  it('Prometheus scrapes /metrics on Switchboard’s HTTP address', () => {
    const prometheus = yaml.load(read('prometheus/prometheus.yml')) as { scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }> };
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'switchboard')!;
    const { http } = loadConfig({});
    expect(job.metrics_path).toBe('/metrics');
    expect(job.static_configs[0]!.targets).toEqual([`${http.host}:${http.port}`]);
  });
});

describe('systemd units', () => {
  const units = { 'switchboard.service': 'start', 'switchboard-worker@.service': 'worker' } as const;

  it.each(Object.entries(units))('%s runs `switchboard %s`, restarts on failure and stops gracefully', (file, subcommand) => {
    const unit = read(`systemd/${file}`);
    expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/node /opt/switchboard/bin/switchboard\\.js ${subcommand}$`, 'm'));
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^TimeoutStopSec=\d+s$/m);
    expect(unit).toMatch(/^User=switchboard$/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/switchboard\/switchboard\.env$/m);
  });

  it.each(Object.keys(units))('%s is hardened', (file) => {
    const unit = read(`systemd/${file}`);
    for (const directive of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'RestrictNamespaces=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service',
    ]) {
      expect(unit.split('\n'), `${file}: ${directive}`).toContain(directive);
    }
    expect(unit).toMatch(/^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX/m);
  });

  it.skipIf(!findTool('systemd-analyze'))(titleFor('systemd-analyze verify accepts both units', 'systemd-analyze', 'systemd'), async () => {
    // verify checks that ExecStart's program exists: point it at the node running this test.
    const target = mkdtempSync(join(scratch, 'units-'));
    const files: string[] = [];
    for (const [file, name] of [
      ['switchboard.service', 'switchboard.service'],
      ['switchboard-worker@.service', 'switchboard-worker@.service'],
      ['switchboard-worker@.service', 'switchboard-worker@1.service'],
    ] as const) {
      const path = join(target, name);
      writeFileSync(path, read(`systemd/${file}`).replaceAll('/usr/bin/node', process.execPath));
      files.push(path);
    }
    const result = await run(findTool('systemd-analyze')!, ['verify', ...files], { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe(titleFor('shell scripts', 'shellcheck', 'shellcheck'), () => {
  // Any script added to deploy/ (by name or by shebang) is checked; there are none today.
  const scripts: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.sh') || ((statSync(path).mode & 0o111) !== 0 && readFileSync(path, 'utf8').startsWith('#!/'))) {
        scripts.push(relative(here, path));
      }
    }
  };
  walk(here);

  it.skipIf(!findTool('shellcheck'))(`every script in deploy/ is shellcheck-clean (${scripts.length} found)`, async () => {
    for (const script of scripts) {
      const result = await run(findTool('shellcheck')!, ['--severity=style', join(here, script)]);
      expect(result.stdout + result.stderr, script).toBe('');
    }
  });
});
