#!/usr/bin/env bash
# The sanitizer build and its fuzz targets (tests/fuzz/, issue 18).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   build build-san/, then run every libFuzzer target for
#                                          SECONDS (default 60) on a copy of its seed corpus;
#                                          one line per target; exit 1 on any crash
#   scripts/fuzz.sh --build                only configure and build build-san/
#   scripts/fuzz.sh --seeds                rewrite tests/fuzz/corpus/ from the targets' seeds
#
# FUZZ_TARGETS="idx csv" picks targets. build-san/ is clang with ASan+UBSan (cmake/sanitize.cmake)
# and holds only the parser layers, the fuzz targets and test_core/io/data; its ctest has labels
# fuzz (each target 20 s, and the saved findings) and sanitize (those unit tests under the
# sanitizers): `ctest --test-dir build-san -L 'fuzz|sanitize'`. A finding's input is kept in
# build-san/fuzz-work/<target>/artifacts/; reproduce it with build-san/fuzz/fuzz_<target> FILE.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
all_targets=(idx idx_gz image csv safetensors checkpoint config)
read -r -a targets <<< "${FUZZ_TARGETS:-${all_targets[*]}}"

# clang and its sanitizer / libFuzzer runtimes (Debian's clang only recommends the latter).
ensure_clang() {
  local missing=()
  command -v clang++ >/dev/null 2>&1 || missing+=(clang)
  compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null ||
    missing+=(libclang-rt-dev)
  [ ${#missing[@]} -eq 0 ] && return
  echo "fuzz: installing ${missing[*]}" >&2
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  ensure_clang
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B build-san -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
    -DDEEPGEN_SANITIZE=ON -DDEEPGEN_BUILD_TESTS=ON -DDEEPGEN_BUILD_BENCH=OFF "${launcher[@]}" \
    >/dev/null
  # Only what the fuzz targets and the sanitize tests need: not `all` (no families, no CLI).
  cmake --build build-san --target deepgen_sanitize_all -j "$(nproc)"
}

case "${1:-}" in
  --build)
    build
    exit 0
    ;;
  --seeds)
    build
    for t in "${targets[@]}"; do
      rm -rf "tests/fuzz/corpus/$t"
      DEEPGEN_FUZZ_WRITE_SEEDS="tests/fuzz/corpus/$t" "build-san/fuzz/fuzz_$t"
      echo "fuzz: seeds of $t: $(ls "tests/fuzz/corpus/$t" | wc -l) files"
    done
    exit 0
    ;;
  -h | --help)
    sed -n '2,13p' "$0"
    exit 0
    ;;
esac

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS_PER_TARGET | --build | --seeds]" >&2; exit 2; }
build
failed=()
for t in "${targets[@]}"; do
  tests/fuzz/run_target.sh "build-san/fuzz/fuzz_$t" "$t" "$seconds" build-san/fuzz-work ||
    failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs under build-san/fuzz-work/<target>/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crashes"
