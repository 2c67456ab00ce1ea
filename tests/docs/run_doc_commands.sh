#!/usr/bin/env bash
# Runs every ```sh block of a Markdown walkthrough (docs/tour.md) from the build folder,
# so the commands in the docs cannot rot. Fence info strings:
#   ```sh                 run; the test fails if any command of the block fails
#   ```sh no-run          shown only (it edits source or needs a GPU): skipped, counted
#   ```sh requires=PROG   run when PROG is on PATH, else skipped, counted, with the reason
# Usage: run_doc_commands.sh DOC.md BUILD_DIR
set -euo pipefail

doc=${1:?usage: run_doc_commands.sh DOC.md BUILD_DIR}
build=${2:?usage: run_doc_commands.sh DOC.md BUILD_DIR}
[ -f "$doc" ] || { echo "no such document: $doc" >&2; exit 2; }
build=$(cd "$build" && pwd -P)
# The checkout: GLIA_SOURCE_DIR, else the folder above the document's (docs/).
src=$(cd "${GLIA_SOURCE_DIR:-$(dirname "$doc")/..}" && pwd -P)
# The tour's commands name sources as ../kernels/... : the build folder must sit in the checkout.
if [ "$(cd "$build/.." && pwd -P)" != "$src" ]; then
  echo "the build folder $build is not directly inside the checkout $src; the tour's ../ paths assume it is" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Split the document into numbered blocks: $work/N.sh plus $work/N.info (the fence's info string).
awk -v dir="$work" '
  /^```/ {
    if (!inside && $0 ~ /^```sh([ \t]|$)/) {
      inside = 1; n++; info = substr($0, 6); sub(/^[ \t]+/, "", info)
      printf "%s", info > (dir "/" n ".info"); close(dir "/" n ".info")
      printf "" > (dir "/" n ".sh"); start[n] = NR; next
    } else if (inside) { inside = 0; close(dir "/" n ".sh"); next }
  }
  inside { print >> (dir "/" n ".sh") }
  END { if (inside) { print "unterminated ```sh block at line " start[n] > "/dev/stderr"; exit 1 } }
' "$doc"

ran=0 skipped=0 failed=0
shopt -s nullglob
blocks=("$work"/*.sh)
[ "${#blocks[@]}" -gt 0 ] || { echo "no \`\`\`sh blocks in $doc" >&2; exit 1; }
for i in $(seq 1 "${#blocks[@]}"); do
  info=$(cat "$work/$i.info")
  first=$(grep -m1 -v '^\s*\(#.*\)\?$' "$work/$i.sh" || true)
  case "$info" in
    "") ;;
    no-run)
      echo "SKIP block $i (no-run): $first"; skipped=$((skipped + 1)); continue ;;
    requires=*)
      prog=${info#requires=}
      if ! command -v "$prog" > /dev/null; then
        echo "SKIP block $i (requires $prog, not on PATH): $first"; skipped=$((skipped + 1)); continue
      fi ;;
    *) echo "block $i: unknown fence info '$info' (use no-run or requires=PROG)" >&2; exit 1 ;;
  esac
  echo "=== block $i: $first"
  # Each block in its own shell, from the build folder, stopping at the first failing command.
  if (cd "$build" && bash -euo pipefail "$work/$i.sh") > "$work/$i.out" 2>&1; then
    ran=$((ran + 1))
    tail -n 5 "$work/$i.out" | sed 's/^/    /'
  else
    failed=$((failed + 1))
    echo "FAILED block $i of $doc:" >&2
    sed 's/^/    /' "$work/$i.sh" >&2
    echo "--- its output (last 40 lines):" >&2
    tail -n 40 "$work/$i.out" >&2
  fi
done
echo "$doc: ${#blocks[@]} blocks: $ran ran, $skipped skipped, $failed failed"
[ "$failed" -eq 0 ]
