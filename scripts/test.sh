#!/usr/bin/env bash
# Runs every check: vet, the race-enabled test suite, and each fuzz target
# for a short while. FUZZTIME shortens or lengthens the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
fuzztime=${FUZZTIME:-20s}

go vet ./...
go test -race -count=1 -timeout 30m ./...

# Every fuzz target in the tree, one at a time (go test runs one per call).
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | cut -d' ' -f2); do
		echo "fuzzing $pkg $target for $fuzztime"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
echo "all checks passed"
