#!/usr/bin/env bash
# run_doc_commands.sh itself: a failing block fails the run, skipped blocks are counted,
# an unknown fence is refused, and commands run in the build folder. Usage: runner_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
build=${1:?usage: runner_test.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd -P)
doc=$(mktemp --suffix=.md)
trap 'rm -f "$doc"' EXIT
export GLIA_SOURCE_DIR=$src  # the document is outside the checkout
fail() { echo "FAIL: $*" >&2; exit 1; }

printf '```sh\ntest -f CMakeCache.txt\n```\n```sh no-run\nfalse\n```\n```sh requires=no-such-program-glia\nfalse\n```\n' > "$doc"
out=$(bash "$here/run_doc_commands.sh" "$doc" "$build" 2>&1) || fail "passing document failed: $out"
grep -q "3 blocks: 1 ran, 2 skipped, 0 failed" <<< "$out" || fail "wrong counts: $out"

printf '```sh\ntrue\n```\n```sh\ntrue\nfalse\necho after\n```\n' > "$doc"
out=$(bash "$here/run_doc_commands.sh" "$doc" "$build" 2>&1) && fail "failing block passed: $out"
grep -q "2 blocks: 1 ran, 0 skipped, 1 failed" <<< "$out" || fail "wrong counts: $out"
grep -q "^    after" <<< "$out" && fail "ran on after a failing command: $out"

printf '```sh run-me\ntrue\n```\n' > "$doc"
out=$(bash "$here/run_doc_commands.sh" "$doc" "$build" 2>&1) && fail "unknown fence accepted: $out"
grep -q "unknown fence info 'run-me'" <<< "$out" || fail "no reason given: $out"
echo "runner ok"
