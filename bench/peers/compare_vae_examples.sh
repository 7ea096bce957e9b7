#!/usr/bin/env bash
# Side-by-side: the pytorch/examples VAE (bench/peers/vae_examples.py, /usr/bin/python3 with
# python3-torch) against `deepgen train vae` with the same model, data, optimiser and batch.
#
#   bench/peers/compare_vae_examples.sh [--epochs N] [--threads T] [--blas-threads B]
#                                       [--repeat R] [--skip-peer] [--out DIR]
#
#   --epochs N        epochs for both sides (default 10)
#   --threads T       intra-op threads for both sides (default: number of cores)
#   --blas-threads B  deepgen's --blas-threads (default: deepgen's own default); the peer keeps
#                     the OpenBLAS default of python3-torch, as a user running main.py would
#   --repeat R        run each side R times, alternating peer and ours (default 1)
#   --skip-peer       run only our side (e.g. to try another thread setting)
#   --out DIR         keep logs and run directories here (default: a fresh temporary folder)
#
# Environment: DEEPGEN_DATA (data root, default <repo>/data), DEEPGEN_BIN (default
# <repo>/build/bin/deepgen).
#
# What the columns mean:
#   train s/epoch    peer: the train() loops only (per-sample loading + steps), summed / epochs;
#                    ours: steps / steps_per_sec of the last training row of metrics.jsonl
#                    (training loop incl. gathering batches and checkpoints, no test pass) / epochs
#   e2e s/epoch      the whole command's wall time / epochs: start-up and loading MNIST included;
#                    the peer also runs a test pass after every epoch, ours one test pass at the
#                    end plus samples, reconstructions and report.html
#   test loss        one-sample -ELBO in nats per test image after the last epoch: the peer's
#                    main.py test loss (sum over the 10 000 test images / 10 000), ours the
#                    final test/neg_elbo of metrics.jsonl (the same number `deepgen eval` gives)
#   peak RSS         /usr/bin/time -v maximum resident set size (else the peer's getrusage)
# Note the epochs differ slightly: main.py runs 469 batches per epoch (the last of 96 images),
# deepgen 468 full batches (60000 // 128).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py=/usr/bin/python3
peer="$here/bench/peers/vae_examples.py"
bin="${DEEPGEN_BIN:-$here/build/bin/deepgen}"
data_root="${DEEPGEN_DATA:-$here/data}"

epochs=10
threads="$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
blas_threads=""
repeat=1
skip_peer=0
out=""

die() { echo "compare_vae_examples: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="${2:?--epochs needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --blas-threads) blas_threads="${2:?--blas-threads needs a value}"; shift 2 ;;
    --repeat) repeat="${2:?--repeat needs a value}"; shift 2 ;;
    --skip-peer) skip_peer=1; shift ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for v in "$epochs" "$threads" "$repeat"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "--epochs, --threads and --repeat take positive integers"
done
[ -z "$blas_threads" ] || [[ "$blas_threads" =~ ^[0-9]+$ ]] || die "--blas-threads takes an integer"

# --- prerequisites ------------------------------------------------------------------------------
[ -x "$py" ] || die "$py not found: the peer needs Debian's python3 with python3-torch (./scripts/setup.sh)"
"$py" -c 'import torch, numpy, PIL' 2>/dev/null \
  || die "$py cannot import torch, numpy and PIL: install python3-torch python3-numpy python3-pil (apt)"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$data_root/mnist/$f" ] || [ -f "$data_root/mnist/$f.gz" ] \
    || die "MNIST missing: $data_root/mnist/$f not found; run ./scripts/setup.sh (or set DEEPGEN_DATA)"
done
[ -x "$bin" ] || die "$bin not found: build it first (cmake --build build) or set DEEPGEN_BIN"

timev=()
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then timev=(/usr/bin/time -v); fi

[ -n "$out" ] || out="$(mktemp -d /tmp/compare_vae_examples.XXXXXX)"
mkdir -p "$out"
cfg="$out/vae_examples.json"
cat >"$cfg" <<'EOF'
{"model": "vae",
 "model_options": {"likelihood": "bernoulli", "binarize": "none",
                   "hidden": [400], "latent": 20, "activation": "relu"}}
EOF

# Wall time and peak RSS (MiB) from a /usr/bin/time -v log; empty when there is none.
time_field() {  # LOG FIELD(wall|rss)
  [ -f "$1" ] || return 0
  "$py" - "$1" "$2" <<'EOF'
import sys
log, field = sys.argv[1], sys.argv[2]
for line in open(log, errors="replace"):
    line = line.strip()
    if field == "rss" and line.startswith("Maximum resident set size"):
        print("%.1f" % (int(line.split(":")[-1]) / 1024.0))
    if field == "wall" and line.startswith("Elapsed (wall clock) time"):
        parts = [float(p) for p in line.split(": ", 1)[1].split(":")]
        s = 0.0
        for p in parts:
            s = s * 60 + p
        print("%.2f" % s)
EOF
}

now() { date +%s.%N; }

rows="$out/rows.tsv"
: >"$rows"

run_peer() {  # RUN_INDEX
  local i="$1" log="$out/peer$1.log" tlog="$out/peer$1.time" t0 t1
  echo "compare_vae_examples: peer run $i: $py $peer --epochs $epochs --threads $threads" >&2
  t0="$(now)"
  "${timev[@]}" "$py" "$peer" --epochs "$epochs" --threads "$threads" --data-root "$data_root" \
    --json >"$log" 2>"$tlog" || { cat "$tlog" >&2; die "peer run $i failed (log: $log)"; }
  t1="$(now)"
  "$py" - "$log" "$epochs" "$(time_field "$tlog" wall)" "$(time_field "$tlog" rss)" "$t0" "$t1" \
    "peer $i" "torch $threads thr" >>"$rows" <<'EOF'
import json, sys
log, epochs, wall, rss, t0, t1, name, setting = sys.argv[1:9]
j = json.loads(open(log).read().strip().splitlines()[-1])
epochs = int(epochs)
wall = float(wall) if wall else float(t1) - float(t0)
rss = float(rss) if rss else j["peak_rss_mib"]
print("\t".join([name, setting, str(epochs), "%.2f" % (j["train_s"] / epochs),
                 "%.2f" % (wall / epochs), "%.2f" % j["final_test_loss"], "%.0f" % rss]))
EOF
}

run_ours() {  # RUN_INDEX
  local i="$1" dir="$out/ours$1" log="$out/ours$1.log" tlog="$out/ours$1.time" t0 t1
  local args=(train vae --data mnist --config "$cfg" --out "$dir" --epochs "$epochs" --batch 128
              --lr 1e-3 --seed 1 --threads "$threads")
  [ -z "$blas_threads" ] || args+=(--blas-threads "$blas_threads")
  rm -rf "$dir"
  echo "compare_vae_examples: ours run $i: $bin ${args[*]}" >&2
  t0="$(now)"
  DEEPGEN_DATA="$data_root" "${timev[@]}" "$bin" "${args[@]}" >"$log" 2>"$tlog" \
    || { tail -20 "$tlog" >&2; die "deepgen run $i failed (log: $tlog)"; }
  t1="$(now)"
  "$py" - "$dir/metrics.jsonl" "$epochs" "$(time_field "$tlog" wall)" "$(time_field "$tlog" rss)" \
    "$t0" "$t1" "ours $i" "--threads $threads${blas_threads:+ --blas-threads $blas_threads}" \
    >>"$rows" <<'EOF'
import json, sys
path, epochs, wall, rss, t0, t1, name, setting = sys.argv[1:9]
rows = [json.loads(l) for l in open(path) if l.strip()]
train = [r for r in rows if "steps_per_sec" in r]
test = [r for r in rows if "test/neg_elbo" in r]
if not train or not test:
    sys.exit("compare_vae_examples: %s lacks a training row or a test row" % path)
epochs = int(epochs)
train_s = train[-1]["step"] / train[-1]["steps_per_sec"]
wall = float(wall) if wall else float(t1) - float(t0)
print("\t".join([name, setting, str(epochs), "%.2f" % (train_s / epochs), "%.2f" % (wall / epochs),
                 "%.2f" % test[-1]["test/neg_elbo"], "%.0f" % float(rss) if rss else "n/a"]))
EOF
}

load_before="$(uptime)"
for ((i = 1; i <= repeat; i++)); do
  [ "$skip_peer" -eq 1 ] || run_peer "$i"
  run_ours "$i"
done
load_after="$(uptime)"

"$py" - "$rows" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
head = ["run", "setting", "epochs", "train s/epoch", "e2e s/epoch", "test loss (nats)",
        "peak RSS MiB"]
table = [head] + rows
w = [max(len(r[c]) for r in table) for c in range(len(head))]
for r in table:
    print("  ".join(r[c].rjust(w[c]) if c >= 2 else r[c].ljust(w[c]) for c in range(len(head))))

def mean(side, col):
    vals = [float(r[col]) for r in rows if r[0].startswith(side) and r[col] != "n/a"]
    return sum(vals) / len(vals) if vals else None

if any(r[0].startswith("peer") for r in rows) and any(r[0].startswith("ours") for r in rows):
    print("\nratios ours/peer (means over runs; time < 1: ours faster):")
    for col, name in [(3, "train s/epoch"), (4, "e2e s/epoch"), (5, "test loss"),
                      (6, "peak RSS")]:
        o, p = mean("ours", col), mean("peer", col)
        print("  %-14s %s" % (name, "%.3f" % (o / p) if o is not None and p else "n/a"))
EOF
echo
echo "load before: $load_before"
echo "load after:  $load_after"
echo "logs: $out"
