#!/usr/bin/env bash
# `sam build` wall time, the two ways sam can run the Makefile's targets (BuildMethod: makefile,
# CodeUri: .), reproduced with the make targets it calls (no SAM CLI on these machines):
#
#   copied     sam's default: the repository copied into a scratch folder per function and
#              `make build-<LogicalId>Function ARTIFACTS_DIR=...` run in each, all six at once
#              (--parallel). Each copy builds libcurl and every bootstrap from nothing.
#   in source  build_in_source = true (samconfig.example.toml, ./deploy --build-in-source): the six
#              targets run at once in the repository; build-static's lock makes the first build
#              everything and the other five find it done.
#
#   bench/sam_build.sh [ARCH]     (arm64 by default, as the template)
#
# Both start cold, from a fresh clone of HEAD (no build/ folder), as a first `sam build` does.
# Tens of minutes on 2 cores: the copied way is six whole builds.
set -euo pipefail
arch="${1:-arm64}"
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
functions=(GetFiles DetermineOperationType CombineLogFiles DeleteOriginals CrawlerTrigger ManifestBuilder)

git clone -q "$root" "$scratch/source"

run_six() {  # DIRECTORY_OF_EACH... : one make per function, all at once, as sam --parallel
  local pids=() i=0
  for directory in "$@"; do
    local function=${functions[$i]}
    (cd "$directory" && make --no-print-directory ARCH="$arch" "build-${function}Function" \
      ARTIFACTS_DIR="$scratch/out/$function" >"$scratch/make-$function.log" 2>&1) &
    pids+=($!)
    i=$((i + 1))
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

seconds() { date +%s.%N; }
since() { awk -v start="$1" -v now="$(seconds)" 'BEGIN { printf "%.1f", now - start }'; }

copies=()
for function in "${functions[@]}"; do
  cp -a "$scratch/source" "$scratch/copy-$function"
  copies+=("$scratch/copy-$function")
done
start=$(seconds)
run_six "${copies[@]}"
copied=$(since "$start")
rm -rf "${copies[@]}" "$scratch/out"

start=$(seconds)
run_six "$scratch/source" "$scratch/source" "$scratch/source" "$scratch/source" "$scratch/source" "$scratch/source"
in_source=$(since "$start")
ls "$scratch"/out/*/bootstrap >/dev/null

start=$(seconds)
run_six "$scratch/source" "$scratch/source" "$scratch/source" "$scratch/source" "$scratch/source" "$scratch/source"
again=$(since "$start")

printf 'sam build, %s, %s cores, cold (fresh clone):\n' "$arch" "$(nproc)"
printf '  copied (sam default, 6 copies at once)   %8.1f s\n' "$copied"
printf '  in source (build_in_source = true)       %8.1f s   %sx faster\n' "$in_source" "$(awk -v a="$copied" -v b="$in_source" 'BEGIN { printf "%.1f", a / b }')"
printf '  in source, again (nothing changed)       %8.1f s\n' "$again"
