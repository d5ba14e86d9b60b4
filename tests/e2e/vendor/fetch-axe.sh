#!/bin/sh
# Refresh the vendored axe-core (the accessibility engine the portal's browser test injects)
# from the npm registry, and record its version in README.md beside it. No CDN at test time.
# Usage: tests/e2e/vendor/fetch-axe.sh [version]   (default: the latest 4.x)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
spec="axe-core@${1:-4}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$spec" >/dev/null && tar -xzf axe-core-*.tgz)
cp "$work/package/axe.min.js" "$here/axe.min.js"
version=$(node -p "require('$work/package/package.json').version")
printf 'axe.min.js: axe-core %s from the npm registry (MPL-2.0), fetched by fetch-axe.sh\n' \
    "$version" >"$here/README.md"
echo "axe-core $version -> $here/axe.min.js"
