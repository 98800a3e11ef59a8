import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DCLinter } from 'dclint';
import { parse } from 'yaml';
import { z } from 'zod';
import { SEARCH_ATTRIBUTE_NAMES } from '../../common/contract';
import { CONTROL_WORKER_NODE_FLAGS } from '../../common/control-worker-flags';

/**
 * The deployable stack (issue 11 item 7) without Docker: docker-compose.yml against the Compose
 * specification's schema and dclint's rules, plus what the services rely on from each other; the
 * GPU host's systemd unit and image. scripts/prod-check.sh runs the same topology for real.
 */

const REPO = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(REPO, file), 'utf8');

const Service = z
  .object({
    image: z.string().optional(),
    build: z.unknown().optional(),
    ports: z.array(z.string()).optional(),
    volumes: z.array(z.string()).optional(),
    environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    depends_on: z.record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) })).optional(),
    restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).optional(),
    healthcheck: z.object({ test: z.array(z.string()) }).loose().optional(),
    entrypoint: z.array(z.string()).optional(),
    command: z.array(z.string()).optional(),
  })
  .loose();
const compose = z.object({ services: z.record(z.string(), Service) }).loose().parse(parse(read('docker-compose.yml')));
const services = Object.entries(compose.services);
/** Services that run once and exit (set-up steps), as opposed to servers and workers. */
const oneShots = services.filter(([, s]) => s.restart === 'on-failure').map(([name]) => name);
/** Everything long-running except the control worker, which serves nothing (it polls Temporal). */
const servers = services.filter(([name, s]) => s.restart !== 'on-failure' && name !== 'control-worker').map(([name]) => name);

describe('docker-compose.yml', () => {
  it('is valid against the Compose schema and passes dclint (explicit image tags, bound port interfaces, no duplicate ports)', () => {
    const linter = new DCLinter({
      rules: {
        'no-unbound-port-interfaces': 2,
        'service-image-require-explicit-tag': 2,
        'no-duplicate-exported-ports': 2,
        'no-duplicate-container-names': 2,
        'no-build-and-image': 2,
        'no-version-field': 2,
        'require-project-name-field': 2,
        // layout rules: this file is ordered by dependency, for reading
        'services-alphabetical-order': 0,
        'service-keys-order': 0,
        'service-dependencies-alphabetical-order': 0,
        'require-quotes-in-ports': 0,
        'top-level-properties-order': 0,
      },
      quiet: false,
      debug: false,
      exclude: [],
    });
    // as `docker compose config` would see it: variables resolved (defaults, a value for required ones)
    const resolved = read('docker-compose.yml').replace(/\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_, name: string, fallback?: string) => fallback ?? `test-${name.toLowerCase()}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gf-compose-'));
    const file = path.join(dir, 'docker-compose.yml');
    writeFileSync(file, resolved);
    const [result] = linter.lintFiles([file], false);
    rmSync(dir, { recursive: true, force: true });
    expect(resolved).toContain('"127.0.0.1:7233:7233"');
    expect(result.messages.map((m) => `${m.line}: ${m.rule}: ${m.message}`)).toEqual([]);
  });

  it('every server has a health check and a restart policy; set-up steps run once and are waited for', () => {
    expect(servers.sort()).toEqual(['fleet-api', 'grafana', 'mlflow', 'postgres', 'seaweedfs', 'temporal', 'temporal-ui']);
    for (const name of servers) {
      expect({ name, healthcheck: compose.services[name].healthcheck?.test.length ?? 0 }).toEqual({ name, healthcheck: expect.any(Number) });
      expect(compose.services[name].healthcheck?.test[0]).toMatch(/^CMD(-SHELL)?$/);
      expect({ name, restart: compose.services[name].restart }).toEqual({ name, restart: 'unless-stopped' });
    }
    expect(compose.services['control-worker'].restart).toBe('unless-stopped');
    expect(oneShots.sort()).toEqual(['create-bucket', 'temporal-search-attributes']);
  });

  it('depends_on names existing services, waits for health only where there is a health check, and for set-up steps to finish', () => {
    for (const [name, service] of services) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = compose.services[dependency];
        expect({ name, dependency, exists: target !== undefined }).toEqual({ name, dependency, exists: true });
        if (condition === 'service_healthy') expect({ name, dependency, healthcheck: target.healthcheck !== undefined }).toEqual({ name, dependency, healthcheck: true });
        const expected = oneShots.includes(dependency) ? 'service_completed_successfully' : 'service_healthy';
        expect({ name, dependency, condition }).toEqual({ name, dependency, condition: expected });
      }
    }
    // the control worker starts once the database, bucket and search attributes it relies on are there
    expect(Object.keys(compose.services['control-worker'].depends_on ?? {}).sort()).toEqual(['create-bucket', 'mlflow', 'temporal', 'temporal-search-attributes']);
    expect(Object.keys(compose.services.mlflow.depends_on ?? {}).sort()).toEqual(['create-bucket', 'postgres']);
  });

  it('publishes ports on loopback only (the servers GPU hosts reach: GF_PUBLISH_ADDRESS, loopback by default)', () => {
    const published = services.flatMap(([name, s]) => (s.ports ?? []).map((port) => ({ name, port })));
    expect(published.length).toBeGreaterThan(0);
    for (const { name, port } of published) {
      const shared = ['temporal', 'mlflow', 'seaweedfs'].includes(name);
      expect({ name, port }).toEqual({ name, port: expect.stringMatching(shared ? /^\$\{GF_PUBLISH_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$/ : /^127\.0\.0\.1:\d+:\d+$/) });
    }
  });

  it('holds no secret: every password, key and token is ${VAR} from the environment', () => {
    const secretName = /PASSWORD|SECRET|TOKEN|_KEY|PWD/;
    const secrets = services.flatMap(([name, s]) => Object.entries(s.environment ?? {}).filter(([key]) => secretName.test(key)).map(([key, value]) => ({ name, key, value: String(value) })));
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    for (const secret of secrets) expect(secret).toEqual({ ...secret, value: expect.stringMatching(/^\$\{[A-Z_]+:\?[^}]+\}$/) });
    // a URL carrying credentials builds them from variables too
    expect(compose.services.mlflow.environment?.MLFLOW_BACKEND_STORE_URI).toBe('postgresql+psycopg2://${POSTGRES_USER:?set POSTGRES_USER}:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@postgres:5432/mlflow');
    expect(read('docker-compose.yml')).not.toMatch(/REPLACE|changeme|password123/i);
  });

  it('pins every image to a version, and builds only from files in the repository', () => {
    for (const [name, s] of services) {
      if (s.image) expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:v?\d+(\.\d+)*$/) });
      else {
        // a folder, or { context, args } (the GuardianFlow image takes GIT_COMMIT, the build id's commit)
        const context = typeof s.build === 'string' ? s.build : (s.build as { context?: unknown } | undefined)?.context;
        expect({ name, context, dockerfile: typeof context === 'string' && existsSync(path.join(REPO, context, 'Dockerfile')) }).toEqual({ name, context, dockerfile: true });
      }
    }
    for (const name of ['control-worker', 'fleet-api']) expect(compose.services[name].build).toEqual({ context: '.', args: { GIT_COMMIT: '${GIT_COMMIT:-}' } });
    for (const file of ['Dockerfile', 'deploy/gpu-host/Dockerfile']) expect(read(file)).toContain('ARG GIT_COMMIT=');
    expect(read('deploy/mlflow/Dockerfile')).toMatch(/^FROM ghcr\.io\/mlflow\/mlflow:v\d+\.\d+\.\d+$/m);
  });

  it('mounts files that exist, and the set-up scripts scripts/prod-check.sh runs', () => {
    const mounted = services.flatMap(([, s]) => (s.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':')[0]));
    for (const file of mounted) expect({ file, exists: existsSync(path.join(REPO, file)) }).toEqual({ file, exists: true });
    const prodCheck = read('scripts/prod-check.sh');
    for (const script of ['deploy/postgres/create-mlflow-db.sql', 'deploy/seaweedfs/create-bucket.sh', 'deploy/seaweedfs/write-s3-config.sh', 'deploy/temporal/register-search-attributes.sh']) {
      expect({ script, mounted: mounted.includes(`./${script}`) }).toEqual({ script, mounted: true });
      expect({ script, inProdCheck: prodCheck.includes(script) }).toEqual({ script, inProdCheck: true });
    }
  });

  it('registers exactly the search attributes of common/contract.ts', () => {
    const script = read('deploy/temporal/register-search-attributes.sh');
    const listed = /^ATTRIBUTES="([^"]*)"$/m.exec(script)?.[1].split(/\s+/) ?? [];
    expect(listed.sort()).toEqual([...SEARCH_ATTRIBUTE_NAMES].sort());
    expect(compose.services['temporal-search-attributes'].entrypoint).toEqual(['sh', '/usr/local/bin/register-search-attributes.sh']);
  });

  it('runs the production Temporal with fairness on, as the dev stack does (stack/servers.ts)', () => {
    const temporal = compose.services.temporal;
    const configPath = String(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH);
    const mount = (temporal.volumes ?? []).find((v) => v.split(':')[1] === `/etc/temporal/${configPath}`);
    expect(mount?.split(':')[0]).toBe('./deploy/temporal/dynamicconfig.yaml');
    expect(parse(read('deploy/temporal/dynamicconfig.yaml'))['matching.enableFairness']).toEqual([{ value: true }]);
    expect(read('stack/servers.ts')).toContain("'matching.enableFairness=true'");
  });

  it('gives the control worker the Python its report and search activities run (charts.py, suggest.py)', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/pip install[^\n]* matplotlib optuna -c \/tmp\/requirements\.lock/);
    expect(dockerfile).toMatch(/^COPY executors executors$/m);
    // the venv where settings' GF_PYTHON default points inside the image (/app/.venv/bin/python)
    expect(dockerfile).toMatch(/^COPY --from=python \/app\/\.venv \.venv$/m);
  });

  it('runs the control worker with the V8 flags of common/control-worker-flags.ts, in the image, in Compose and in prod-check', () => {
    const command = ['node', ...CONTROL_WORKER_NODE_FLAGS, 'dist/workers/control.js'];
    expect(compose.services['control-worker'].command).toEqual(command);
    expect(read('Dockerfile')).toContain(`CMD ${JSON.stringify(command).replace(/,/g, ', ')}`);
    expect(read('scripts/prod-check.sh')).toMatch(new RegExp(`^spawn control env \\S+ ${command.join(' ')}$`, 'm'));
  });
});

/** `[Section]` → key → values (a key may repeat, as Environment= does). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = sections[header[1]] = {};
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`guardianflow-gpu.service: not a key=value line in a section: ${line}`);
    (current[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return sections;
}

describe('GPU host (deploy/gpu-host)', () => {
  const unit = parseUnit(read('deploy/gpu-host/guardianflow-gpu.service'));

  it('the systemd unit runs the GPU worker unprivileged, from its environment file, restarted on failure, its executors cleaned on stop', () => {
    const service = unit.Service;
    expect(service.ExecStart).toEqual([expect.stringMatching(/^\/usr\/bin\/node \S+\/dist\/workers\/gpu\.js$/)]);
    expect(service.User?.[0]).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(service.User?.[0]).not.toBe('root');
    expect(service.EnvironmentFile).toEqual([expect.stringMatching(/^\/etc\/guardianflow\/\S+\.env$/)]);
    expect(service.Restart).toEqual(['on-failure']);
    expect(service.KillMode).toEqual(['mixed']);
    expect(Number(service.TimeoutStopSec?.[0])).toBeGreaterThanOrEqual(30);
    expect(unit.Install.WantedBy).toEqual(['multi-user.target']);
    expect(unit.Unit.After?.[0]).toContain('network-online.target');
  });

  it('the environment file example names every variable a GPU host needs, with no value for the secrets', () => {
    const example = read('deploy/gpu-host/gpu.env.example');
    for (const name of ['GF_GPU_HOST_ID', 'GF_GPU_DEVICES', 'GF_WORK_DIR', 'TEMPORAL_ADDRESS', 'MLFLOW_TRACKING_URI', 'GF_S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      expect({ name, listed: new RegExp(`^#? ?${name}=`, 'm').test(example) }).toEqual({ name, listed: true });
    }
    expect(example).toMatch(/^AWS_SECRET_ACCESS_KEY=$/m);
  });

  it('the image is CUDA-based, installs the pinned executors requirements and runs the GPU worker', () => {
    const dockerfile = read('deploy/gpu-host/Dockerfile');
    expect(dockerfile).toMatch(/^FROM nvidia\/cuda:\d+\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/m);
    expect(dockerfile).toMatch(/pip install[^\n]* -r requirements\.txt -c requirements\.lock/);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/workers\/gpu\.js"\]$/m);
    expect(dockerfile).toMatch(/^USER guardianflow$/m);
  });
});
