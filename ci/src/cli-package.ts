/**
 * Release checks of an npm package with a `bin` (the `peep` CLI, `@peep/cli`), run on what
 * `npm pack --dry-run` would publish: the bin target is packed, executable as a script (shebang), no
 * test files ride along, every package the packed code imports is a declared dependency (a workspace
 * sibling is not installed for the users of a published package) and none of them is private, and the
 * manifest has what npm and users need. `ci/publish-cli.sh` runs it before `npm publish --dry-run`.
 *
 *   node ci/dist/cli-package.js [package-dir]      # prints each problem, exits 1 if any
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Manifest {
  name?: string;
  version?: string;
  private?: boolean;
  bin?: string | Record<string, string>;
  files?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** The files `npm pack` would put in the tarball, relative to the package directory. */
export function packedFiles(dir: string): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed in ${dir}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return (out[0]?.files ?? []).map((f) => f.path).sort();
}

/** Bare package names imported by a JavaScript module (static imports, re-exports, dynamic import()). */
export function importedPackages(source: string): string[] {
  const specs = new Set<string>();
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) if (m[1]) specs.add(m[1]);
  const names = new Set<string>();
  for (const s of specs) {
    if (s.startsWith('.') || s.startsWith('/') || s.startsWith('node:') || s.startsWith('file:')) continue;
    const parts = s.split('/');
    const name = s.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? s);
    if (builtinModules.includes(name)) continue;
    names.add(name);
  }
  return [...names].sort();
}

/** The manifest of `name` as Node would resolve it from `dir` (node_modules up the tree), if any. */
function findInstalled(dir: string, name: string): Manifest | null {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const p = path.join(d, 'node_modules', name, 'package.json');
    if (fs.existsSync(p)) return JSON.parse(fs.readFileSync(p, 'utf8')) as Manifest;
    if (path.dirname(d) === d) return null;
  }
}

/** Every problem that would make the published package broken or leaky; empty when it is fine. */
export function checkCliPackage(dir: string): string[] {
  const problems: string[] = [];
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  if (!pkg.name) problems.push('package.json has no name');
  if (!pkg.version || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(pkg.version))
    problems.push(`version "${pkg.version}" is not semver`);
  if (pkg.private) problems.push('package.json is private: npm refuses to publish it');
  if (!pkg.engines?.node) problems.push('package.json has no engines.node');
  if (!pkg.files?.length) problems.push('package.json has no "files" list: everything would be published');
  const bins = typeof pkg.bin === 'string' ? { [pkg.name ?? 'bin']: pkg.bin } : (pkg.bin ?? {});
  if (!Object.keys(bins).length) problems.push('package.json has no bin');

  const files = packedFiles(dir);
  for (const [cmd, target] of Object.entries(bins)) {
    const rel = path.normalize(target);
    if (!files.includes(rel)) {
      problems.push(`bin ${cmd} -> ${target} is not in the package (build first?)`);
      continue;
    }
    const head = fs.readFileSync(path.join(dir, rel), 'utf8').split('\n', 1)[0];
    if (head !== '#!/usr/bin/env node')
      problems.push(`bin ${cmd} -> ${target} does not start with #!/usr/bin/env node`);
  }
  for (const f of files) {
    if (/(^|\/)[^/]*\.test\.(js|d\.ts|js\.map)$|(^|\/)testkit\./.test(f))
      problems.push(`test file packed: ${f}`);
    if (/(^|\/)\.env|\.pem$|\.key$|credentials\.json$/.test(f))
      problems.push(`secret-looking file packed: ${f}`);
  }

  const declared = new Set([
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
    ...Object.keys(pkg.optionalDependencies ?? {}),
  ]);
  const missing = new Map<string, string[]>();
  for (const f of files.filter((x) => x.endsWith('.js') && !/\.test\.js$/.test(x))) {
    for (const name of importedPackages(fs.readFileSync(path.join(dir, f), 'utf8'))) {
      if (declared.has(name) || name === pkg.name) continue;
      missing.set(name, [...(missing.get(name) ?? []), f]);
    }
  }
  for (const [name, where] of missing)
    problems.push(`imports ${name} (${where.join(', ')}) but does not declare it in dependencies`);

  // A dependency that is a private package here (a workspace sibling) cannot be installed by users.
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    const manifest = findInstalled(dir, name);
    if (manifest?.private) problems.push(`depends on ${name}, which is private: users could not install it`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const dir = path.resolve(process.argv[2] ?? path.join(root, 'cli'));
  const problems = checkCliPackage(dir);
  for (const p of problems) console.error(`cli package: ${p}`);
  if (problems.length) {
    console.error(`cli package: ${problems.length} problem(s) in ${dir}`);
    process.exit(1);
  }
  console.log(`cli package: ${dir} is ready to publish (${packedFiles(dir).length} files)`);
}
