/**
 * The Kubernetes manifests in k8s/, checked without a cluster: every YAML document is parsed and the
 * rules of the scaled-out deployment are asserted on the objects (resources, secrets, probes, pinned
 * images, security contexts, the Ingress split that mirrors `peep up`). When kubectl is installed,
 * `kubectl kustomize k8s` must also build. No schema validator (kubeconform) runs here: these
 * structural checks are the validation.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_SCHEMA } from '@peep/pkg';
import { parseAllDocuments } from 'yaml';
import { ROOT, requireProgram, run } from './components.js';

const K8S = path.join(ROOT, 'k8s');

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
  tcpSocket?: { port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: {
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  volumes?: { name: string }[];
  automountServiceAccountToken?: boolean;
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    serviceName?: string;
    clusterIP?: string;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: PodTemplate;
    jobTemplate?: { spec: { template: PodTemplate } };
    volumeClaimTemplates?: {
      metadata: { name: string };
      spec: { resources: { requests: { storage: string } } };
    }[];
    ports?: { name?: string; port: number; targetPort?: string | number }[];
    ingressClassName?: string;
    rules?: {
      host?: string;
      http: {
        paths: {
          path: string;
          pathType: string;
          backend: { service: { name: string; port: { name?: string; number?: number } } };
        }[];
      };
    }[];
  };
}
interface Loaded {
  file: string;
  obj: K8sObject;
}

function loadAll(): Loaded[] {
  const out: Loaded[] = [];
  for (const file of fs.readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f))) {
    if (file === 'kustomization.yaml') continue;
    const docs = parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8'));
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      assert.deepEqual(
        doc.errors.map((e) => e.message),
        [],
        `${file}: YAML errors`,
      );
      const obj = doc.toJS() as K8sObject | null;
      if (obj !== null) out.push({ file, obj });
    }
  }
  return out;
}

const all = loadAll();
const ofKind = (kind: string) => all.filter((l) => l.obj.kind === kind);
const byName = (kind: string, name: string) => {
  const found = all.find((l) => l.obj.kind === kind && l.obj.metadata.name === name);
  assert.ok(found, `no ${kind} named ${name} in k8s/`);
  return found.obj;
};
function podTemplate(o: K8sObject): PodTemplate | null {
  return o.spec?.template ?? o.spec?.jobTemplate?.spec.template ?? null;
}
const workloads = all.filter((l) => podTemplate(l.obj) !== null);
function containersOf(o: K8sObject): Container[] {
  const t = podTemplate(o);
  return t ? [...(t.spec.initContainers ?? []), ...t.spec.containers] : [];
}
const where = (l: Loaded, c?: Container) =>
  `${l.file}: ${l.obj.kind}/${l.obj.metadata.name}${c ? ` container ${c.name}` : ''}`;
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|DATABASE_URL|KEY/i;

describe('k8s manifests', () => {
  test('every document parses, names its kind and object, and lives in the peep namespace', () => {
    assert.ok(all.length >= 15, `expected the whole deployment, found ${all.length} objects`);
    for (const l of all) {
      assert.ok(l.obj.apiVersion && l.obj.kind && l.obj.metadata?.name, `${l.file}: incomplete object`);
      if (l.obj.kind === 'Namespace') assert.equal(l.obj.metadata.name, 'peep');
      else assert.equal(l.obj.metadata.namespace, 'peep', where(l));
    }
  });

  test('kustomization.yaml lists every manifest except the secret instructions and the migrate Job', () => {
    const k = parseAllDocuments(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'));
    const kust = (Array.isArray(k) ? k[0] : k)?.toJS() as { resources: string[]; namespace: string };
    assert.equal(kust.namespace, 'peep');
    const expected = fs
      .readdirSync(K8S)
      .filter((f) => f.endsWith('.yaml'))
      .filter((f) => !['kustomization.yaml', 'secrets.example.yaml', 'migrate-job.yaml'].includes(f))
      .sort();
    assert.deepEqual([...kust.resources].sort(), expected);
  });

  test('every container has cpu and memory requests and limits', () => {
    assert.ok(workloads.length >= 6);
    for (const l of workloads) {
      for (const c of containersOf(l.obj)) {
        for (const kind of ['requests', 'limits'] as const) {
          for (const res of ['cpu', 'memory']) {
            assert.ok(c.resources?.[kind]?.[res], `${where(l, c)}: no ${kind}.${res}`);
          }
        }
      }
    }
  });

  test('no secret value is written in a manifest: passwords, tokens and URLs come from secretKeyRef', () => {
    const documented = fs.readFileSync(path.join(K8S, 'secrets.example.yaml'), 'utf8');
    for (const l of all) {
      assert.notEqual(l.obj.kind, 'Secret', `${where(l)}: Secrets are created with kubectl, never committed`);
      for (const key of Object.keys(l.obj.data ?? {}))
        assert.doesNotMatch(key, SECRET_NAME, `${where(l)}: ${key} belongs in the Secret`);
      for (const c of containersOf(l.obj)) {
        assert.ok(!c.envFrom?.some((e) => e.secretRef), `${where(l, c)}: name each secret key instead`);
        for (const e of c.env ?? []) {
          if (!SECRET_NAME.test(e.name)) continue;
          assert.equal(e.value, undefined, `${where(l, c)}: ${e.name} has a plaintext value`);
          const ref = e.valueFrom?.secretKeyRef;
          assert.ok(ref, `${where(l, c)}: ${e.name} must come from a secretKeyRef`);
          assert.equal(ref.name, 'peep-secrets');
          assert.match(
            documented,
            new RegExp(`--from-literal=${ref.key}=`),
            `secrets.example.yaml does not tell how to create ${ref.key}`,
          );
        }
      }
    }
    // The instructions hold no manifest at all (a committed Secret would be a default password).
    const doc = parseAllDocuments(documented);
    assert.equal((Array.isArray(doc) ? doc[0] : doc)?.toJS() ?? null, null);
  });

  test('PostgreSQL is a StatefulSet with a volume claim template mounted at its data directory', () => {
    const pg = byName('StatefulSet', 'postgres');
    const claims = pg.spec?.volumeClaimTemplates ?? [];
    assert.equal(claims.length, 1);
    const claim = claims[0];
    assert.ok(claim?.spec.resources.requests.storage);
    const c = pg.spec?.template?.spec.containers[0];
    const mount = c?.volumeMounts?.find((m) => m.name === claim?.metadata.name);
    assert.equal(mount?.mountPath, '/var/lib/postgresql/data');
    const pgdata = c?.env?.find((e) => e.name === 'PGDATA')?.value ?? '';
    assert.ok(pgdata.startsWith('/var/lib/postgresql/data/'), 'PGDATA is a subdirectory of the volume');
    const svc = byName('Service', pg.spec?.serviceName ?? '');
    assert.equal(svc.spec?.clusterIP, 'None', 'the StatefulSet has a headless Service');
  });

  test('every Deployment has readiness and liveness probes on a port the container declares', () => {
    const deployments = ofKind('Deployment');
    assert.deepEqual(deployments.map((l) => l.obj.metadata.name).sort(), [
      'api',
      'builder',
      'dashboard',
      'nats',
    ]);
    for (const l of deployments) {
      for (const c of containersOf(l.obj)) {
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          assert.ok(probe, `${where(l, c)}: missing a readiness or liveness probe`);
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (port !== undefined)
            assert.ok(
              c.ports?.some((p) => p.name === port || p.containerPort === port),
              `${where(l, c)}: probe port ${port} is not declared`,
            );
        }
      }
    }
    for (const name of ['api', 'dashboard', 'builder']) {
      const c = byName('Deployment', name).spec?.template?.spec.containers[0];
      assert.equal(c?.readinessProbe?.httpGet?.path, '/ready', name);
      assert.equal(c?.livenessProbe?.httpGet?.path, '/health', name);
    }
  });

  test('every image tag is pinned: no missing tag, no latest', () => {
    for (const l of workloads) {
      for (const c of containersOf(l.obj)) {
        const m = /^(?<repo>[^@]+?)(?::(?<tag>[\w][\w.-]*))?(?:@sha256:[0-9a-f]{64})?$/.exec(c.image);
        assert.ok(m?.groups, `${where(l, c)}: unreadable image ${c.image}`);
        const pinned = c.image.includes('@sha256:') || (m.groups.tag && m.groups.tag !== 'latest');
        assert.ok(pinned, `${where(l, c)}: image ${c.image} is not pinned`);
      }
    }
  });

  test('every pod runs as non-root with no privilege escalation, no capabilities and a read-only root', () => {
    for (const l of workloads) {
      const spec = podTemplate(l.obj)?.spec;
      assert.equal(spec?.automountServiceAccountToken, false, `${where(l)}: no API token needed`);
      assert.equal(spec?.securityContext?.runAsNonRoot, true, `${where(l)}: runAsNonRoot`);
      assert.ok((spec?.securityContext?.runAsUser ?? 0) > 0, `${where(l)}: numeric non-root runAsUser`);
      assert.equal(spec?.securityContext?.seccompProfile?.type, 'RuntimeDefault', where(l));
      for (const c of containersOf(l.obj)) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, where(l, c));
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, where(l, c));
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], where(l, c));
        for (const m of c.volumeMounts ?? [])
          assert.ok(
            spec?.volumes?.some((v) => v.name === m.name) ||
              l.obj.spec?.volumeClaimTemplates?.some((v) => v.metadata.name === m.name),
            `${where(l, c)}: mount ${m.name} has no volume`,
          );
      }
    }
  });

  test('the peep processes are split like `peep up`: api, dashboard and builder each run their part', () => {
    const env = (name: string) => {
      const c = byName('Deployment', name).spec?.template?.spec.containers[0];
      return { c, vars: Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? 'secretKeyRef'])) };
    };
    const api = env('api');
    assert.equal(byName('Deployment', 'api').spec?.replicas, 2);
    assert.deepEqual(api.c?.command, ['peep', 'serve']);
    assert.deepEqual(
      [api.vars.PEEP_API, api.vars.PEEP_DASHBOARD, api.vars.PEEP_BUILDER, api.vars.PEEP_HOST],
      ['true', 'false', 'false', '0.0.0.0'],
    );
    assert.equal(api.vars.PEEP_TRUST_PROXY, 'true');
    assert.equal(api.vars.DATABASE_URL, 'secretKeyRef');
    assert.ok(api.c?.ports?.some((p) => p.containerPort === 7070));
    const dash = env('dashboard');
    assert.deepEqual(dash.c?.command, ['peep', 'serve']);
    assert.deepEqual(
      [dash.vars.PEEP_API, dash.vars.PEEP_DASHBOARD, dash.vars.PEEP_BUILDER],
      ['false', 'true', 'false'],
    );
    assert.equal(dash.vars.DATABASE_URL, undefined, 'the dashboard never touches the database');
    assert.deepEqual(env('builder').c?.command, ['peep', 'builder']);
    const job = byName('Job', 'peep-migrate');
    assert.deepEqual(job.spec?.template?.spec.containers[0]?.command, ['peep', 'migrate']);
  });

  test('every PEEP_* variable a manifest sets is one peep reads (docs/config.md)', () => {
    const known = new Set(Object.values(CONFIG_SCHEMA).map((f) => f.env));
    const configMap = byName('ConfigMap', 'peep-config');
    for (const key of Object.keys(configMap.data ?? {})) assert.ok(known.has(key), `peep-config: ${key}`);
    for (const l of workloads)
      for (const c of containersOf(l.obj))
        if (c.image.startsWith('peep:'))
          for (const e of c.env ?? [])
            assert.ok(known.has(e.name), `${where(l, c)}: unknown variable ${e.name}`);
  });

  test('every Service selects the pods of one workload, on a port name those pods declare', () => {
    for (const l of ofKind('Service')) {
      const sel = l.obj.spec?.selector ?? {};
      const targets = workloads.filter((w) => {
        const labels = podTemplate(w.obj)?.metadata?.labels ?? {};
        return w.obj.kind !== 'Job' && Object.entries(sel).every(([k, v]) => labels[k] === v);
      });
      assert.equal(targets.length, 1, `${where(l)} selects ${targets.length} workloads`);
      const target = targets[0] as Loaded;
      for (const p of l.obj.spec?.ports ?? []) {
        assert.ok(
          containersOf(target.obj).some((c) =>
            c.ports?.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort),
          ),
          `${where(l)}: targetPort ${p.targetPort} is not a port of ${where(target)}`,
        );
      }
    }
    for (const l of [...ofKind('Deployment'), ...ofKind('StatefulSet')]) {
      const labels = l.obj.spec?.template?.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(l.obj.spec?.selector?.matchLabels ?? {}))
        assert.equal(labels[k], v, `${where(l)}: selector does not match its pod labels`);
    }
  });

  test('the Ingress (nginx class) sends /api, /.well-known and the probes to api, the rest to the dashboard', () => {
    const ing = byName('Ingress', 'peep');
    assert.equal(ing.spec?.ingressClassName, 'nginx');
    const paths = ing.spec?.rules?.flatMap((r) => r.http.paths) ?? [];
    const backend = (p: string) => paths.find((x) => x.path === p)?.backend.service.name;
    for (const p of ['/api', '/v1', '/.well-known', '/health', '/ready']) assert.equal(backend(p), 'api', p);
    assert.equal(paths.find((x) => x.path === '/api')?.pathType, 'Prefix');
    assert.equal(backend('/'), 'dashboard');
    assert.equal(backend('/metrics'), undefined, '/metrics is scraped in-cluster, not published');
    for (const p of paths) {
      const svc = byName('Service', p.backend.service.name);
      assert.ok(
        svc.spec?.ports?.some((sp) => sp.name === p.backend.service.port.name),
        p.path,
      );
    }
  });

  test('kubectl kustomize builds the deployment (when kubectl is installed)', (t) => {
    const kubectl = requireProgram('kubectl', 'kustomize build not checked', false);
    if (!kubectl) return t.skip('kubectl not installed');
    const r = run(kubectl, ['kustomize', K8S]);
    assert.equal(r.status, 0, r.stderr);
    const kinds = [...r.stdout.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    assert.equal(kinds.length, all.length - 1, 'every object but the Job is in the build');
    assert.match(r.stdout, /image: peep:0\.1\.0/);
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);

  test('is multi-stage on a pinned node:20 slim base and runs as a non-root user', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages)
      assert.match(s, /^node:20\.\d+\.\d+-[\w-]*slim\b/, `pinned base: FROM ${s.split('\n')[0]}`);
    const last = stages.at(-1) ?? '';
    const user = /^USER\s+(\S+)/m.exec(last)?.[1] ?? '';
    assert.ok(user && !/^(0|root)(:|$)/.test(user), `final stage USER ${user || '(none)'}`);
    assert.match(last, /\bpeep\b/, 'the final stage provides the peep command the manifests run');
  });

  test('.dockerignore keeps local state and build output out of the image context', () => {
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', '.peep', '.git'])
      assert.ok(
        ignore.some((l) => l.includes(p)),
        p,
      );
  });
});
