#!/usr/bin/env bash
# Run a command N times in a row while two CPU-bound processes run beside it; print how many passed.
# Usage: .ci/under_load.sh N COMMAND [ARGS…]
#   .ci/under_load.sh 30 .venv/bin/blandbot demo --quiet
#   .ci/under_load.sh 5 .venv/bin/python -m pytest -q -p no:cacheprovider
# Output of failed runs is kept in a temporary folder, named at the end.
set -u
runs=${1:?usage: under_load.sh N COMMAND [ARGS…]}
shift
logs=$(mktemp -d)
python3 -c 'while 1: pass' & hog1=$!
python3 -c 'while 1: pass' & hog2=$!
trap 'kill "$hog1" "$hog2" 2>/dev/null' EXIT
passed=0
failed=0
started=$(date +%s)
for i in $(seq 1 "$runs"); do
  if "$@" >"$logs/run.$i.txt" 2>&1; then
    passed=$((passed + 1))
    rm -f "$logs/run.$i.txt"
  else
    failed=$((failed + 1))
    echo "run $i failed (output: $logs/run.$i.txt)"
  fi
done
echo "under load (2 CPU hogs): $passed passed, $failed failed of $runs runs in $(( $(date +%s) - started ))s: $*"
[ "$failed" -eq 0 ]
