#!/usr/bin/env bash
# Release gate for the `peep` CLI (@peep/cli): build, run the suites, check what would be published,
# then let npm do a dry-run publish. Publishes nothing; see ci/release.md for the real release.
#
#   bash ci/publish-cli.sh            # checks only
#   bash ci/publish-cli.sh --smoke    # also installs the packed tarball into a temp prefix and runs
#                                     # `peep --help` from it (fetches the CLI's dependencies from npm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "build (tsc -b)"
npm run --silent build:ts

step "tests of the CLI and the release checker"
node scripts/test.mjs cli/dist ci/dist/cli-package

step "what would be published (npm pack --dry-run)"
node ci/dist/cli-package.js cli

version=$(node -p "require('./cli/package.json').version")
step "npm publish --dry-run (@peep/cli@$version)"
npm publish --workspace @peep/cli --dry-run --access public --ignore-scripts

if [ "${1:-}" = "--smoke" ]; then
  step "install the tarball into a temporary prefix and run peep --help"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npm pack --workspace @peep/cli --pack-destination "$tmp" --ignore-scripts >/dev/null
  npm install --prefix "$tmp/prefix" --global --no-audit --no-fund "$tmp"/peep-cli-*.tgz >/dev/null
  "$tmp/prefix/bin/peep" --help >/dev/null
  echo "peep --help from the installed package: ok"
fi

step "ready: @peep/cli@$version passes the release checks"
