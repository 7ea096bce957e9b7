#!/usr/bin/env bash
# run_target.sh BINARY NAME SECONDS WORK_ROOT [SEED]
# Runs the libFuzzer target BINARY for SECONDS on a fresh copy of tests/fuzz/corpus/NAME, with the
# flags of tests/fuzz/options/NAME (input size limit, dictionary), in WORK_ROOT/NAME/, and prints
# one line: executions, executions per second, crashes. Exit status 1 on any finding (crash,
# sanitizer report, uncaught exception, timeout, out of memory), its input kept in
# WORK_ROOT/NAME/artifacts/ and the end of the log printed. A SEED makes the run repeat the same
# mutations (ctest's regression runs); without one libFuzzer picks a new one (exploration).
set -uo pipefail
[ $# -eq 4 ] || [ $# -eq 5 ] || { echo "usage: $0 BINARY NAME SECONDS WORK_ROOT [SEED]" >&2; exit 2; }
binary="$1" name="$2" seconds="$3" work="$4/$2"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seeds="$fuzz_dir/corpus/$name"
[ -x "$binary" ] || { echo "fuzz $name: no binary at $binary (build build-san first)" >&2; exit 2; }
[ -d "$seeds" ] || { echo "fuzz $name: no seed corpus at $seeds" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp -r "$seeds/." "$work/corpus/"
flags=()
[ $# -eq 5 ] && flags+=("-seed=$5")
if [ -f "$fuzz_dir/options/$name" ]; then
  # One flag per line; @FUZZ_DIR@ stands for tests/fuzz (dictionaries).
  while read -r flag; do
    [ -n "$flag" ] && [ "${flag:0:1}" != "#" ] && flags+=("${flag//@FUZZ_DIR@/$fuzz_dir}")
  done < "$fuzz_dir/options/$name"
fi

# Limits: 2 GiB of memory (a bigger allocation or RSS is a finding), 30 s per input (a hang).
"$binary" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=30 \
  -artifact_prefix="$work/artifacts/" "${flags[@]}" "$work/corpus" > "$work/log" 2>&1
status=$?

stat() { sed -n "s/^stat::$1: *//p" "$work/log" | tail -n 1; }
execs="$(stat number_of_executed_units)"
speed="$(stat average_exec_per_sec)"
crashes="$(find "$work/artifacts" -type f | wc -l)"
if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi  # died before writing one
printf 'fuzz %-12s %9s executions  %6s exec/s  %d crashes  (corpus %d files, %s s)\n' \
  "$name" "${execs:-?}" "${speed:-?}" "$crashes" "$(find "$work/corpus" -type f | wc -l)" \
  "$seconds"
if [ "$crashes" -ne 0 ]; then
  echo "fuzz $name: FINDING (exit status $status); log $work/log, inputs:" >&2
  find "$work/artifacts" -type f >&2
  tail -n 60 "$work/log" >&2
  exit 1
fi
