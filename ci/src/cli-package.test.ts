/**
 * The release checker of ci/publish-cli.sh on packages made here: a good one passes, and each kind of
 * broken package (undeclared import, missing shebang, packed tests, unbuilt bin, private) is reported.
 * Real `npm pack --dry-run` decides what would be published.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkCliPackage, importedPackages } from './cli-package.js';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function makePackage(files: Record<string, string>, manifest: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-clipkg-'));
  made.push(dir);
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: '@example/tool',
      version: '1.2.3',
      type: 'module',
      bin: { tool: './dist/bin.js' },
      files: ['dist'],
      engines: { node: '>=20.9' },
      dependencies: { commander: '^14.0.0' },
      ...manifest,
    }),
  );
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

const goodBin =
  "#!/usr/bin/env node\nimport { program } from 'commander';\nimport fs from 'node:fs';\nimport './lib.js';\n";

describe('CLI package release checks', () => {
  test('import scanning finds bare packages in static, re-exported and dynamic imports, not builtins', () => {
    const src = `import a from 'commander';
import { b } from "@scope/pkg/sub/path.js";
export { c } from 'picocolors';
import 'side-effect';
const d = await import('lazy-dep');
import fs from 'fs';
import path from 'node:path';
import x from './local.js';`;
    assert.deepEqual(importedPackages(src), [
      '@scope/pkg',
      'commander',
      'lazy-dep',
      'picocolors',
      'side-effect',
    ]);
  });

  test('a complete package passes', () => {
    const dir = makePackage({ 'dist/bin.js': goodBin, 'dist/lib.js': 'export const x = 1;\n' });
    assert.deepEqual(checkCliPackage(dir), []);
  });

  test('an import of a package that is not a declared dependency is reported with the file', () => {
    const dir = makePackage({
      'dist/bin.js': goodBin,
      'dist/lib.js': "export const up = () => import('@example/api');\n",
    });
    assert.deepEqual(checkCliPackage(dir), [
      'imports @example/api (dist/lib.js) but does not declare it in dependencies',
    ]);
  });

  test('a bin without a shebang, packed tests and a private manifest are each reported', () => {
    const dir = makePackage(
      {
        'dist/bin.js': "import { program } from 'commander';\n",
        'dist/bin.test.js': "import { program } from 'commander';\n",
      },
      { private: true },
    );
    const problems = checkCliPackage(dir);
    assert.ok(problems.includes('package.json is private: npm refuses to publish it'), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('does not start with #!/usr/bin/env node')));
    assert.ok(problems.includes('test file packed: dist/bin.test.js'));
  });

  test('a dependency that is a private package (a workspace sibling) is reported', () => {
    const dir = makePackage(
      {
        'dist/bin.js': "#!/usr/bin/env node\nimport '@example/server';\n",
        'node_modules/@example/server/package.json': JSON.stringify({
          name: '@example/server',
          private: true,
        }),
      },
      { dependencies: { '@example/server': '1.2.3' } },
    );
    assert.deepEqual(checkCliPackage(dir), [
      'depends on @example/server, which is private: users could not install it',
    ]);
  });

  test('an unbuilt bin is reported', () => {
    const dir = makePackage({ 'dist/other.js': 'export {};\n' });
    assert.deepEqual(checkCliPackage(dir), [
      'bin tool -> ./dist/bin.js is not in the package (build first?)',
    ]);
  });
});
