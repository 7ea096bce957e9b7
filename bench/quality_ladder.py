#!/usr/bin/env python3
"""Quality ladder: each family trained on MNIST for fixed step budgets, one table.

    bench/quality_ladder.py [--rungs 1000,3000,10000] [--families vdm-elbo,vdm-sigmoid,ncsn]
                            [--out runs/ladder] [--fid-samples 1000] [--threads 0]
                            [--markdown FILE]

Each family is one run, continued rung to rung with `deepgen train --resume --steps R`: the
learning rate is constant after its warm-up, so a run stopped at 1000 steps and resumed to 3000
is the same run as 3000 steps straight (exact resume). At every rung `deepgen eval` measures the
test bits/dim (VDM: the w = 1 bound, whatever the training weighting) and, with each sampler
listed for the family, the classifier-FID, precision and recall of --fid-samples samples against
the 10 000 test images; the sample grid is kept as samples-R-SAMPLER.png. "train min" is the
wall time of the train commands up to the rung, including each command's start-up, final test
evaluation and outputs.

Steps make rungs comparable across machines; the wall seconds (training, cumulative; sampling,
per evaluation) are this machine's cost. The script prints the CPU's ISA above the table.
Rows are appended to OUT/ladder.jsonl as they finish, so a long ladder can be read while it runs
and restarted: a rung whose eval file exists is not trained or evaluated again.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("DEEPGEN_BIN", os.path.join(ROOT, "build", "bin", "deepgen"))

# Training command (after `deepgen train`) and the samplers each family is measured with:
# (flags for `deepgen eval`, label, network evaluations).
# The run's own end-of-training samples use its default sampler (1000 ancestral steps: minutes of
# each rung's wall time, counted in "train min"); kept so that the measured rungs stay one run.
VDM_RECIPE = ["vdm", "--data", "mnist", "--batch", "64", "--lr", "1e-3", "--beta2", "0.99",
              "--warmup", "200", "--grad-clip", "1", "--ema", "0.999"]
FAMILIES = {
    "vdm-elbo": {
        "train": VDM_RECIPE,
        "samplers": [(["--sampler", "dpmpp2m", "--steps", "20"], "dpmpp2m-20", 20)],
        "objective": "ELBO (w = 1)",
    },
    "vdm-sigmoid": {
        "train": VDM_RECIPE + ["--weighting", "sigmoid", "--proposal", "weighting"],
        # The ODE solver at 20 evaluations and its stochastic form (SDE-DPM-Solver++(2M)).
        "samplers": [(["--sampler", "dpmpp2m", "--steps", "20"], "dpmpp2m-20", 20),
                     (["--sampler", "dpmpp2m-sde", "--steps", "20"], "dpmpp2m-sde-20", 20)],
        "objective": "sigmoid(2 − ℓ), p ∝ w",
    },
    # The ELBO recipe with bf16 networks (--precision, issue 17): its bound against vdm-elbo's
    # at the same steps is the likelihood price of bf16 arithmetic.
    "vdm-elbo-bf16": {
        "train": VDM_RECIPE + ["--precision", "bf16"],
        "samplers": [(["--sampler", "dpmpp2m", "--steps", "20"], "dpmpp2m-20", 20)],
        "objective": "ELBO (w = 1), bf16 networks",
    },
    # The score family on the VDM's U-Net (score --arch unet, the default) with the VDM's recipe.
    "ncsn": {
        "train": ["score", "--method", "ncsn", "--data", "mnist", "--batch", "64", "--lr", "1e-3",
                  "--beta2", "0.99", "--warmup", "200", "--grad-clip", "1", "--ema", "0.999"],
        # Both within the 100 network evaluations for the score family: the reverse-SDE
        # predictor-corrector (49 levels, one corrector step each) and the probability-flow ODE
        # with Heun (49 steps of 2 evaluations); each ends with one Tweedie denoising step.
        "samplers": [(["--sampler", "pc", "--sigma-steps", "49", "--corrector-steps", "1"],
                      "pc-49x2", 99),
                     (["--sampler", "ode", "--ode-solver", "heun", "--sigma-steps", "49"],
                      "ode-heun-49", 99),
                     # The image default since 2026-12-03 (docs/score.md).
                     (["--sampler", "pc", "--sigma-steps", "99", "--corrector-steps", "0",
                       "--predictor", "dpmpp2m-sde"], "pc-99-dpmpp2m-sde", 100)],
        "objective": "DSM over the σ ladder",
        # Its test loss visits every one of the ladder's levels (95 on MNIST) for each image: two
        # batches (1000 test images) measure it; the FID uses its own 1000 samples.
        "eval": ["--max-batches", "2"],
    },
}


def cpu_isa():
    flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = line
                break
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "unknown CPU")
    isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    bf16 = " + bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else ""
    return f"{model}; {isa}{bf16}; {os.cpu_count()} cores"


def run(cmd, log):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    t0 = time.time()
    with open(log, "a") as out:
        subprocess.run(cmd, check=True, stdout=out, stderr=out)
    return time.time() - t0


def eval_json(cmd, log):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    t0 = time.time()
    with open(log, "a") as err:
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=err, text=True)
    return json.loads(out.stdout), time.time() - t0


def find(d, *names):
    """The first of `names` found anywhere in the nested dict d (None if absent)."""
    if isinstance(d, dict):
        for n in names:
            if n in d and not isinstance(d[n], dict):
                return d[n]
        for v in d.values():
            r = find(v, *names)
            if r is not None:
                return r
    return None


def ladder(args):
    os.makedirs(args.out, exist_ok=True)
    rows_path = os.path.join(args.out, "ladder.jsonl")
    rungs = [int(r) for r in args.rungs.split(",")]
    for name in args.families.split(","):
        fam = FAMILIES[name]
        run_dir = os.path.join(args.out, name)
        log = os.path.join(args.out, name + ".log")
        seconds_file = os.path.join(run_dir, "train_seconds.json")
        for i, steps in enumerate(rungs):
            done = os.path.join(run_dir, f"eval-{steps}.json")
            if os.path.exists(done):
                continue
            trained = json.load(open(seconds_file)) if os.path.exists(seconds_file) else {}
            if str(steps) not in trained:
                cmd = [BIN, "train"] + fam["train"] + [
                    "--out", run_dir, "--steps", str(steps), "--log-every", "50",
                    "--checkpoint-every", "500", "--eval-batches", "10",
                    "--threads", str(args.threads)]
                if os.path.exists(os.path.join(run_dir, "checkpoint.pt")):
                    cmd += ["--resume", "true"]
                secs = run(cmd, log)
                before = max([v for k, v in trained.items() if int(k) < steps], default=0.0)
                trained[str(steps)] = before + secs
                with open(seconds_file + ".tmp", "w") as f:
                    json.dump(trained, f)
                os.replace(seconds_file + ".tmp", seconds_file)
            results = []
            for flags, label, nfe in fam["samplers"]:
                # eval and sample run on the threads the run was trained with (its config)
                cmd = [BIN, "eval", "--run", run_dir, "--fid", "true", "--fid-samples",
                       str(args.fid_samples)] + fam.get("eval", []) + flags
                e, secs = eval_json(cmd, log)
                subprocess.run([BIN, "sample", "--run", run_dir, "--n", "64", "--out",
                                os.path.join(run_dir, f"samples-{steps}-{label}.png")] + flags,
                               check=True, stdout=subprocess.DEVNULL, stderr=open(log, "a"))
                row = {
                    "family": name, "objective": fam["objective"], "steps": steps,
                    "batch": 64, "train_seconds": round(trained[str(steps)], 1),
                    "bpd": find(e.get("metrics", {}), "bpd"),
                    "fid": find(e.get("classifier_fid", {}), "fid"),
                    "precision": find(e.get("classifier_fid", {}), "precision"),
                    "recall": find(e.get("classifier_fid", {}), "recall"),
                    "networks": e.get("precision", "fp32"),  # eval's arithmetic (issue 17)
                    "sampler": label, "nfe": nfe, "eval_seconds": round(secs, 1),
                    "grid": f"{run_dir}/samples-{steps}-{label}.png", "command": " ".join(cmd),
                }
                results.append(row)
                with open(rows_path, "a") as f:
                    f.write(json.dumps(row) + "\n")
            with open(done + ".tmp", "w") as f:
                json.dump(results, f)
            os.replace(done + ".tmp", done)


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def markdown(rows_path):
    rows = [json.loads(l) for l in open(rows_path)]
    out = [f"CPU: {cpu_isa()}", "",
           "| family | objective | steps (batch 64) | train min | test bpd | classifier-FID "
           "| precision | recall | sampler | NFE | networks | eval s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["family"], r["objective"], str(r["steps"]), fmt(r["train_seconds"] / 60, ".1f"),
                 fmt(r["bpd"], ".3f"), fmt(r["fid"], ".1f"), fmt(r["precision"], ".3f"),
                 fmt(r["recall"], ".3f"), r["sampler"], str(r["nfe"] or "—"),
                 r.get("networks", "fp32"), str(r["eval_seconds"])]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rungs", default="1000,3000,10000")
    p.add_argument("--families", default="vdm-elbo,vdm-sigmoid,ncsn")
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "ladder"))
    p.add_argument("--fid-samples", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--markdown", help="only print the table of OUT/ladder.jsonl")
    args = p.parse_args()
    if args.markdown:
        print(markdown(args.markdown))
        return
    for f in args.families.split(","):
        if f not in FAMILIES:
            sys.exit(f"quality_ladder: unknown family '{f}': use {', '.join(FAMILIES)}")
    ladder(args)
    print(markdown(os.path.join(args.out, "ladder.jsonl")))


if __name__ == "__main__":
    main()
