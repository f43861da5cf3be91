#!/usr/bin/env bash
# Installs what forewarn needs on this machine, idempotently, and quickly when already done:
#   1. Debian packages (Mosquitto, InfluxDB 1.x, Java, Maven, gcc), after one `apt-get update`;
#   2. a Python virtual environment in .venv with forewarn installed editable (+ dev tools);
#   3. Maven artifacts into the state folder: the Kafka broker's jars and Spark's Kafka connector;
#   4. local development credentials (<state>/forewarn.env).
# Each step leaves a stamp keyed by its inputs, so a second run only checks.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${FOREWARN_STATE_DIR:-$root/.state}"
venv="${FOREWARN_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
mkdir -p "$state/jars"

say() { printf '[setup] %s\n' "$*" >&2; }
sha() { cat "$@" | sha256sum | cut -c1-16; }

# --- 1. Debian packages -------------------------------------------------------------------------
# PostgreSQL: the work-order store's tested alternative; chromium (+ a font): the console's browser tests;
# gcc (+ libc headers): the scoring workers compile the champion's boosted trees (models/compiled.py)
debs=(mosquitto mosquitto-clients influxdb postgresql chromium fonts-dejavu-core gcc libc6-dev)
command -v java >/dev/null 2>&1 || debs+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || debs+=(maven)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  # The packages' own system services must not start: forewarn runs its own instances on the same
  # ports. policy-rc.d answering 101 is Debian's switch for that.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$guard" ] || $sudo rm -f /usr/sbin/policy-rc.d
else
  say "Debian packages present: ${debs[*]}"
fi

# --- 2. Python virtual environment ----------------------------------------------------------------
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "forewarn needs Python >= 3.11 (found $("$python" --version 2>&1)); set PYTHON=" >&2; exit 1; }
[ -x "$venv/bin/python" ] || { say "creating $venv"; "$python" -m venv "$venv"; }
want="$(sha "$root/pyproject.toml")"
if [ "$(cat "$venv/.forewarn-stamp" 2>/dev/null)" != "$want" ]; then
  say "installing forewarn and its dependencies into $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e "$root[dev]"
  echo "$want" > "$venv/.forewarn-stamp"
else
  say "virtual environment up to date"
fi

# --- 3. Maven artifacts ---------------------------------------------------------------------------
resolve() {  # resolve POM OUTDIR [mvn args...]: copy a POM's run-time dependencies into OUTDIR
  local pom="$1" out="$2"; shift 2
  local key; key="$(sha "$pom")-$(echo "$*" | sha256sum | cut -c1-8)"
  if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$key" ]; then
    say "$(basename "$out") jars up to date"; return
  fi
  say "resolving $(basename "$(dirname "$pom")") jars with Maven into $out"
  rm -rf "$out.tmp"
  local log="$state/logs/maven.log"; mkdir -p "$state/logs"
  mvn -q -B -Dstyle.color=never -f "$pom" "$@" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$out.tmp" >"$log" 2>&1 || { cat "$log" >&2; echo "Maven could not resolve $pom (log: $log)" >&2; exit 1; }
  rm -rf "$out"; mv "$out.tmp" "$out"; echo "$key" > "$out/.stamp"
}
resolve "$root/infra/kafka/pom.xml" "$state/jars/kafka"
spark_version="$("$venv/bin/python" -c 'import pyspark; print(pyspark.__version__)')"
resolve "$root/infra/spark/pom.xml" "$state/jars/spark" "-Dspark.version=$spark_version"

# --- 4. Local development credentials ---------------------------------------------------------------
FOREWARN_STATE_DIR="$state" "$venv/bin/forewarn" stack credentials
say "done"
