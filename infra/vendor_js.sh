#!/usr/bin/env bash
# Re-fetches the console's vendored JavaScript libraries at their pinned versions and rewrites
# alerts/console/static/vendor/VENDOR.json (name, version, licence, tarball integrity, file → sha256).
#
# Not run by setup: the files are committed, so the console works with no network. Run this only to
# check the committed files against npm (`git diff` shows nothing when they match) or, after changing
# a pin below (version and the tarball's integrity, from `npm view NAME@VERSION dist.integrity`),
# to update them. npm reaches the registry configured for it; the tarball is refused unless its
# sha512 integrity is the pinned one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/alerts/console/static/vendor"

# folder|npm package|version|licence (SPDX)|tarball integrity|files (package path:vendored name, space-separated)
pins=(
  "htmx|htmx.org|2.0.11|0BSD|sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==|dist/htmx.min.js:htmx.min.js LICENSE:LICENSE"
  "uplot|uplot|1.6.32|MIT|sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==|dist/uPlot.iife.min.js:uPlot.iife.min.js dist/uPlot.min.css:uPlot.min.css LICENSE:LICENSE"
  "swagger-ui|swagger-ui-dist|5.35.0|Apache-2.0|sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==|swagger-ui-bundle.js:swagger-ui-bundle.js swagger-ui.css:swagger-ui.css favicon-32x32.png:favicon-32x32.png LICENSE:LICENSE NOTICE:NOTICE swagger-ui-bundle.js.LICENSE.txt:swagger-ui-bundle.js.LICENSE.txt"
)

say() { printf '[vendor-js] %s\n' "$*" >&2; }
command -v npm >/dev/null 2>&1 || { say "npm is needed (apt-get install npm)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$work/manifest.tsv"
: >"$manifest"

for pin in "${pins[@]}"; do
  IFS='|' read -r folder package version licence integrity files <<<"$pin"
  say "$package@$version"
  (cd "$work" && npm pack --silent --json "$package@$version" >"$work/$folder.json")
  tarball="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["filename"])' "$work/$folder.json")"
  got="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    say "$package@$version: tarball integrity $got is not the pinned $integrity; nothing changed"
    exit 1
  fi
  mkdir -p "$work/$folder"
  tar -xzf "$work/$tarball" -C "$work/$folder"
  rm -rf "${vendor:?}/$folder"
  mkdir -p "$vendor/$folder"
  for pair in $files; do
    cp "$work/$folder/package/${pair%%:*}" "$vendor/$folder/${pair#*:}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$folder" "$package" "$version" "$licence" "$integrity" "${pair#*:}" >>"$manifest"
  done
done

python3 - "$vendor" "$manifest" <<'PY'
import hashlib, json, sys
from pathlib import Path

vendor, manifest = Path(sys.argv[1]), Path(sys.argv[2])
out: dict = {}
for line in manifest.read_text().splitlines():
    folder, package, version, licence, integrity, name = line.split("\t")
    entry = out.setdefault(folder, {"package": package, "version": version, "license": licence,
                                    "integrity": integrity, "files": {}})
    entry["files"][f"{folder}/{name}"] = hashlib.sha256((vendor / folder / name).read_bytes()).hexdigest()
(vendor / "VENDOR.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
PY
say "wrote $vendor/VENDOR.json"
