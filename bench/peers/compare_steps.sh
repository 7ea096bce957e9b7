#!/usr/bin/env bash
# Side-by-side training steps/s: deepgen (build/bin/bench_peer_steps) against Python PyTorch peers
# that build the identical models (bench/peers/step_peers.py, /usr/bin/python3 with python3-torch),
# on the same data, batch, optimiser (Adam, lr 1e-3) and thread settings, one process per run.
#
#   bench/peers/compare_steps.sh [--models LIST] [--threads T] [--blas-threads B] [--seconds S]
#                                [--repeat R] [--peer-foreach] [--omp-wait-policy P] [--no-check]
#                                [--out DIR]
#
#   --models LIST     comma-separated, from vae,vae2d,score2d,vdm_unet (default: all four)
#   --threads T       intra-op threads on both sides (default: number of cores)
#   --blas-threads B  OpenBLAS threads on both sides (default 1: deepgen's own setting)
#   --seconds S       timed seconds per run, after 5 warm-up steps (default 10)
#   --repeat R        runs per side and model, alternating peer and ours (default 2)
#   --peer-foreach    the peer uses torch's multi-tensor Adam (default: its single-tensor loop)
#   --omp-wait-policy P  OMP_WAIT_POLICY for both sides (active | passive; default: libgomp's own).
#                     On a machine where other processes hold cores, libgomp's spinning makes
#                     --threads > 1 many times slower on both sides; passive avoids that
#   --no-check        skip the identity check (ours --dump, then the peer --check)
#   --out DIR         keep the JSON rows and check files here (default: a fresh temporary folder)
#
# Models: vae = the MLP VAE 784-400-20 (Gaussian decoder, learned σ), batch 128; vae2d = the VAE
# on 2-D points, hidden 128,128, latent 2, batch 64; score2d = the NCSN score MLP on 2-D points
# (σ 20 -> 0.05, 10 levels, hidden 128,128), batch 128; vdm_unet = the VDM with its MNIST
# defaults (the ε-U-Net, continuous-time loss + reconstruction + prior), batch 64.
#
# Before timing, both sides must report the same parameter count (else this script fails). The
# identity check loads our initial weights into the peer (every name and shape must match), and
# compares the loss and its gradients on our batch with the noise drawn from the same seed, and
# the loss after one Adam step.
#
# Columns: steps/s as mean (min-max) over the R runs; ratio = mean ours / mean peer (> 1: ours
# faster); peak RSS = getrusage maximum resident set of each process (the peer includes Python).
# The U-Net line: the peer's profiler count of one forward's conv/matmul FLOPs x 3 per step, times
# our steps/s, against the best at::mm rate our binary measured on the same intra-op threads
# (OpenBLAS pinned as in the step, and given all intra-op threads).
#
# Environment: DEEPGEN_BENCH_BIN (default <repo>/build/bin/bench_peer_steps). Everything else
# (e.g. GLIBC_TUNABLES, OMP_* variables) reaches both sides alike.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py=/usr/bin/python3
peer="$here/bench/peers/step_peers.py"
bin="${DEEPGEN_BENCH_BIN:-$here/build/bin/bench_peer_steps}"

models="vae,vae2d,score2d,vdm_unet"
threads="$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
blas_threads=1
seconds=10
repeat=2
foreach=()
wait_policy=""
check=1
out=""

die() { echo "compare_steps: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="${2:?--models needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --blas-threads) blas_threads="${2:?--blas-threads needs a value}"; shift 2 ;;
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    --repeat) repeat="${2:?--repeat needs a value}"; shift 2 ;;
    --peer-foreach) foreach=(--foreach); shift ;;
    --omp-wait-policy) wait_policy="${2:?--omp-wait-policy needs a value}"; shift 2 ;;
    --no-check) check=0; shift ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for v in "$threads" "$blas_threads" "$repeat"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "--threads, --blas-threads and --repeat take positive integers"
done
case "$wait_policy" in
  ""|active|passive|ACTIVE|PASSIVE) ;;
  *) die "--omp-wait-policy takes active or passive" ;;
esac
[ -z "$wait_policy" ] || export OMP_WAIT_POLICY="$wait_policy"
[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--seconds takes a number of seconds"
IFS=, read -r -a model_list <<<"$models"
for m in "${model_list[@]}"; do
  case "$m" in
    vae|vae2d|score2d|vdm_unet) ;;
    *) die "unknown model '$m': use vae, vae2d, score2d, vdm_unet" ;;
  esac
done

# --- prerequisites ------------------------------------------------------------------------------
[ -x "$py" ] || die "$py not found: the peer needs Debian's python3 with python3-torch"
"$py" -c 'import torch, numpy' 2>/dev/null \
  || die "$py cannot import torch and numpy: apt-get install -y python3-torch python3-numpy"
[ -x "$bin" ] || die "$bin not found: build it first" \
  "(cmake --build build --target bench_peer_steps) or set DEEPGEN_BENCH_BIN"

[ -n "$out" ] || out="$(mktemp -d /tmp/compare_steps.XXXXXX)"
mkdir -p "$out"
rows="$out/rows.jsonl"
: >"$rows"
common=(--threads "$threads" --blas-threads "$blas_threads")

# The value of KEY in a one-line JSON object on stdin.
field() { "$py" -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# --- identity check -----------------------------------------------------------------------------
if [ "$check" -eq 1 ]; then
  for m in "${model_list[@]}"; do
    "$bin" --model "$m" "${common[@]}" --dump "$out/check_$m" >/dev/null \
      || die "bench_peer_steps --model $m --dump failed"
    "$py" "$peer" --model "$m" "${common[@]}" "${foreach[@]}" --check "$out/check_$m" \
      >"$out/check_$m.json" \
      || die "step_peers.py --model $m --check failed: it could not load our weights" \
        "(parameter names or shapes differ?)"
    "$py" - "$out/check_$m.json" <<'EOF' || die "identity check failed (see above): the models differ"
import json, sys
c = json.load(open(sys.argv[1]))
print("check %-9s %2d tensors loaded by name, %d parameters; loss ours %.7g peer %.7g (rel diff %.1e); "
      "max grad diff / max |grad| %.1e; loss after one Adam step rel diff %.1e" % (
          c["model"], c["tensors_matched"], c["parameters"], c["loss_ours"], c["loss_peer"],
          c["loss_rel_diff"], c["grad_max_rel_diff"], c["loss_after_step_rel_diff"]))
# float32 on both sides with the same kernels: differences are summation order only.
if c["loss_rel_diff"] > 1e-5 or c["grad_max_rel_diff"] > 1e-3 or c["loss_after_step_rel_diff"] > 1e-4:
    sys.exit("compare_steps: %s: ours and the peer compute different losses or gradients" % c["model"])
EOF
  done
fi

# --- timed runs, alternating peer and ours ------------------------------------------------------
load_before="$(uptime)"
for m in "${model_list[@]}"; do
  for ((i = 1; i <= repeat; i++)); do
    echo "compare_steps: $m run $i/$repeat: peer, then ours" >&2
    p="$("$py" "$peer" --model "$m" "${common[@]}" "${foreach[@]}" --seconds "$seconds" --json)" \
      || die "peer run failed: $py $peer --model $m"
    flops=()
    [ "$m" != vdm_unet ] || flops=(--flops-per-step "$(field flops_per_step <<<"$p")")
    o="$("$bin" --model "$m" "${common[@]}" --seconds "$seconds" "${flops[@]}")" \
      || die "our run failed: $bin --model $m"
    pp="$(field parameters <<<"$p")" op="$(field parameters <<<"$o")"
    [ "$pp" = "$op" ] || die "$m: parameter counts differ (ours $op, peer $pp): the models are not identical"
    printf '%s\n%s\n' "$p" "$o" >>"$rows"
  done
done
load_after="$(uptime)"

"$py" - "$rows" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
models = list(dict.fromkeys(r["model"] for r in rows))

def runs(model, side):
    return [r for r in rows if r["model"] == model and r["side"] == side]

def rate(rs):
    v = [r["steps_per_sec"] for r in rs]
    return sum(v) / len(v), "%.2f (%.2f-%.2f)" % (sum(v) / len(v), min(v), max(v))

head = ["model", "params", "batch", "ours steps/s", "peer steps/s", "ours/peer",
        "ours RSS MiB", "peer RSS MiB"]
table = [head]
for m in models:
    o, p = runs(m, "ours"), runs(m, "peer")
    (om, os), (pm, ps) = rate(o), rate(p)
    table.append([m, str(o[0]["parameters"]), str(o[0]["batch"]), os, ps, "%.2f" % (om / pm),
                  "%.0f" % max(r["peak_rss_mib"] for r in o),
                  "%.0f" % max(r["peak_rss_mib"] for r in p)])
w = [max(len(r[c]) for r in table) for c in range(len(head))]
for r in table:
    print("  ".join(r[c].ljust(w[c]) if c == 0 else r[c].rjust(w[c]) for c in range(len(head))))
r0 = rows[0]
ours0 = next(r for r in rows if r["side"] == "ours")
import os
print("\nOMP_WAIT_POLICY: %s" % os.environ.get("OMP_WAIT_POLICY", "(unset: libgomp default)"))
print("threads: intra-op %s, OpenBLAS %s on both sides; torch %s (peer), %s (ours); Adam: peer %s,"
      " ours %s" % (r0["threads"], r0["blas_threads"], r0["torch"], ours0["torch"], r0["adam"],
                    ours0["adam"]))
gemm = [r for r in rows if r["side"] == "ours" and "gemm_gflops" in r]
if gemm:
    for n in ("1024", "2048"):
        v = [r["gemm_gflops"][n] for r in gemm]
        print("at::mm %sx%s fp32: %.1f GFLOP/s (%.1f-%.1f)" % (n, n, sum(v) / len(v), min(v), max(v)))
    for key in gemm[0]:
        if key.startswith("gemm_gflops_blas_threads_"):
            v = [r[key]["2048"] for r in gemm]
            print("at::mm 2048 with OpenBLAS at %s threads: %.1f GFLOP/s (%.1f-%.1f)"
                  % (key.rsplit("_", 1)[1], sum(v) / len(v), min(v), max(v)))
    u = [r for r in gemm if "flop_rate_gflops" in r]
    if u:
        rate_v = [r["flop_rate_gflops"] for r in u]
        ratio_v = [r["flop_rate_vs_gemm"] for r in u]
        print("U-Net: %.2f GFLOP per step (peer profiler: conv/matmul forward x 3); ours %.1f GFLOP/s "
              "(%.1f-%.1f) = %.2f (%.2f-%.2f) of the best at::mm rate above"
              % (u[0]["flops_per_step"] / 1e9, sum(rate_v) / len(u), min(rate_v), max(rate_v),
                 sum(ratio_v) / len(u), min(ratio_v), max(ratio_v)))
EOF
echo
echo "load before: $load_before"
echo "load after:  $load_after"
echo "rows: $rows"
