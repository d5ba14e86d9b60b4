#!/bin/sh
# Vendor the staff UI's front-end files from the npm registry into static/vendor/.
#
# Versions are pinned in package.json; the result is committed, so that pages never load anything
# from a CDN (public places often have poor connectivity). Run again after changing a version:
#   sh controller/web/vendor.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest="$here/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$here/package.json" "$work/"
if [ -f "$here/package-lock.json" ]; then
    cp "$here/package-lock.json" "$work/"
    (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund)
else
    (cd "$work" && npm install --ignore-scripts --no-audit --no-fund)
    cp "$work/package-lock.json" "$here/package-lock.json"
fi
modules="$work/node_modules"

rm -rf "$dest"
mkdir -p "$dest/pico" "$dest/socket.io" "$dest/lucide" "$dest/chart.js" "$dest/leaflet"

cp "$modules/@picocss/pico/css/pico.min.css" "$dest/pico/"
cp "$modules/@picocss/pico/LICENSE.md" "$dest/pico/LICENSE.md"
cp "$modules/socket.io-client/dist/socket.io.min.js" "$dest/socket.io/"
cp "$modules/socket.io-client/LICENSE" "$dest/socket.io/LICENSE"
cp "$modules/lucide-static/LICENSE" "$dest/lucide/LICENSE"
# The managers' charts (statistics): one UMD file, no build step.
cp "$modules/chart.js/dist/chart.umd.min.js" "$dest/chart.js/"
cp "$modules/chart.js/LICENSE.md" "$dest/chart.js/LICENSE.md"
# The public map of places; its tile server is a setting, the list works without any tiles.
cp "$modules/leaflet/dist/leaflet.js" "$modules/leaflet/dist/leaflet.css" "$dest/leaflet/"
cp -r "$modules/leaflet/dist/images" "$dest/leaflet/images"
cp "$modules/leaflet/LICENSE" "$dest/leaflet/LICENSE"

# Only the pictograms the pages use, as one small SVG sprite (<svg><use href="…#monitor">).
ICONS="monitor battery-charging wifi wifi-off circle-check circle-x circle-dashed circle-alert
map-pin clock building-2 key-round users scroll-text layout-dashboard log-out radio cpu
memory-stick hard-drive server user-plus rotate-ccw lock lock-open message-square-text power
refresh-cw sunrise download settings file-text send hourglass loader list-filter file-down
wrench printer keyboard ticket circle-help
shield-check chart-column map accessibility locate-fixed globe phone calendar-clock"
python3 - "$modules/lucide-static/icons" "$dest/lucide/sprite.svg" $ICONS <<'PY'
import re
import sys
from pathlib import Path

icons, target, *names = sys.argv[1:]
symbols = []
for name in names:
    path = Path(icons) / f"{name}.svg"
    if not path.exists():
        sys.exit(f"lucide-static has no icon {name!r}")
    body = re.search(r"<svg[^>]*>(.*)</svg>", path.read_text(encoding="utf-8"), re.S).group(1)
    shapes = " ".join(line.strip() for line in body.strip().splitlines())
    symbols.append(f'  <symbol id="{name}" viewBox="0 0 24 24">{shapes}</symbol>')
version = re.search(r"@license lucide-static v[^ ]+ - \w+", path.read_text(encoding="utf-8"))
with open(target, "w", encoding="utf-8") as out:
    out.write(f"<!-- {version.group(0)} -->\n")
    out.write('<svg xmlns="http://www.w3.org/2000/svg" fill="none" stroke="currentColor" '
              'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">\n<defs>\n')
    out.write("\n".join(symbols) + "\n</defs>\n</svg>\n")
PY

# What was vendored, from each package's own package.json: name, version, licence.
{
    echo "# Vendored by controller/web/vendor.sh from the npm registry; do not edit by hand."
    for package in @picocss/pico socket.io-client lucide-static chart.js leaflet; do
        node -e 'const p = require(process.argv[1]); console.log(`${p.name}\t${p.version}\t${p.license}`)' \
            "$modules/$package/package.json"
    done
} > "$dest/VERSIONS.txt"

echo "vendored into $dest:"
cat "$dest/VERSIONS.txt"
