#!/usr/bin/python3
"""report.html of each family, rendered in headless Chromium (Debian's chromium).

Trains one tiny run per family with the deepgen binary (a VAE and a VDM on a 320-image subset of
MNIST, an NCSN on a 2-D toy), opens each report.html inside a wrapper page whose script reads the
rendered report (same-origin with --allow-file-access-from-files), and asserts what a reader
sees: every image decodes (naturalWidth > 0), the charts are there with their units on the axes,
each test number carries its family's unit (no "(nats)" beside a bits/dim metric, no likelihood
unit on a score-matching loss), and the note saying what the headline number is.

  report_browser_test.py DEEPGEN_BINARY MNIST_DIR

Exit 0 when every check holds; otherwise the failures, one per line, and exit 1.
"""
import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def write_idx_subset(src_dir, dst_dir, prefix, count):
    """The first `count` images and labels of an IDX pair (so the runs stay small)."""
    with open(os.path.join(src_dir, prefix + "-images-idx3-ubyte"), "rb") as f:
        magic, _, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = f.read(count * rows * cols)
    with open(os.path.join(dst_dir, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", magic, count, rows, cols) + pixels)
    with open(os.path.join(src_dir, prefix + "-labels-idx1-ubyte"), "rb") as f:
        magic, _ = struct.unpack(">II", f.read(8))
        labels = f.read(count)
    with open(os.path.join(dst_dir, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", magic, count) + labels)


def train(binary, env, run, args):
    cmd = [binary, "train", *args, "--out", run, "--threads", "1"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit("training failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))


WRAPPER = """<!DOCTYPE html><html><body>
<iframe id="report" src="%s" width="1200" height="900"></iframe>
<script>
const frame = document.getElementById("report");
frame.onload = () => {
  const d = frame.contentDocument;
  const out = document.createElement("pre");
  out.id = "result";
  out.textContent = JSON.stringify({
    images: [...d.images].map(i => ({alt: i.alt, width: i.naturalWidth, done: i.complete})),
    charts: [...d.querySelectorAll("svg")].map(s => s.textContent),
    rows: [...d.querySelectorAll("tr")].map(r => r.innerText),
    notes: [...d.querySelectorAll("p.note")].map(p => p.innerText),
  });
  document.body.appendChild(out);
};
</script></body></html>
"""


def render(browser, report, work):
    """What the rendered report shows, read by the wrapper page's script."""
    wrapper = os.path.join(work, "wrapper.html")
    with open(wrapper, "w") as f:
        f.write(WRAPPER % ("file://" + os.path.abspath(report)))
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--allow-file-access-from-files", "--user-data-dir=" + os.path.join(work, "profile"),
           "--virtual-time-budget=15000", "--dump-dom", "file://" + wrapper]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="result">(.*?)</pre>', r.stdout, re.S)
    if not m:
        sys.exit("chromium rendered no result for %s (exit %d): %s"
                 % (report, r.returncode, r.stderr[-1500:]))
    return json.loads(html.unescape(m.group(1)))


def check(failures, what, ok):
    if not ok:
        failures.append(what)


def check_page(failures, name, page, unit, images, charts, forbidden):
    rows = page["rows"]
    check(failures, "%s: %d images decoded, expected %d (%s)"
          % (name, sum(i["width"] > 0 and i["done"] for i in page["images"]), images,
             page["images"]),
          sum(i["width"] > 0 and i["done"] for i in page["images"]) == images)
    check(failures, "%s: %d charts, expected at least %d" % (name, len(page["charts"]), charts),
          len(page["charts"]) >= charts)
    test_rows = [r for r in rows if r.startswith("test ")]
    check(failures, "%s: no test rows in the summary" % name, test_rows)
    for r in test_rows:
        check(failures, "%s: test row without its unit %r: %r" % (name, unit, r), unit in r)
    for r in rows:
        for bad in forbidden:
            check(failures, "%s: %r in summary row %r" % (name, bad, r), bad not in r)
    check(failures, "%s: the loss chart's axis lacks %r" % (name, unit),
          any("loss (" + unit + ")" in c for c in page["charts"]))
    check(failures, "%s: no note on what the numbers are" % name,
          any("Test metrics are" in n for n in page["notes"]))


def main():
    binary = sys.argv[1]
    mnist = os.path.join(os.environ["DEEPGEN_DATA"], "mnist") if os.environ.get(
        "DEEPGEN_DATA") else sys.argv[2]
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        sys.exit("no chromium on PATH: scripts/setup.sh installs Debian's chromium")
    failures = []
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        os.makedirs(os.path.join(data, "mnist"))
        write_idx_subset(mnist, os.path.join(data, "mnist"), "train", 256)
        write_idx_subset(mnist, os.path.join(data, "mnist"), "t10k", 64)
        env = dict(os.environ, DEEPGEN_DATA=data)
        runs = {n: os.path.join(work, n) for n in ("vae", "vdm", "score")}
        every = ["--steps", "20", "--log-every", "5", "--eval-every", "10"]
        train(binary, env, runs["vae"], ["vae", "--data", "mnist", "--batch", "32", "--hidden",
                                         "32", "--latent", "4", *every])
        train(binary, env, runs["vdm"], ["vdm", "--data", "mnist", "--batch", "16", "--channels",
                                         "8,8,8", "--patch", "1", "--sample-steps", "4", *every])
        toy = os.path.join(work, "toy.json")
        with open(toy, "w") as f:
            json.dump({"data": {"toy_train": 512, "toy_test": 128}}, f)
        train(binary, env, runs["score"], ["score", "--data", "toy:ncsn-gmm", "--config", toy,
                                           "--batch", "64", *every])

        vae = render(browser, os.path.join(runs["vae"], "report.html"), work)
        check_page(failures, "vae", vae, "nats", 2, 3, ["bits/dim"])
        check(failures, "vae: the Gaussian decoder's note does not explain a negative NLL",
              any("can be negative" in n for n in vae["notes"]))
        check(failures, "vae: σ is charted in nats",
              any("decoder σ, data units" in c for c in vae["charts"]))

        vdm = render(browser, os.path.join(runs["vdm"], "report.html"), work)
        check_page(failures, "vdm", vdm, "bits/dim", 1, 3, ["(nats", "nats)"])
        check(failures, "vdm: no test curve", any("Test metrics during training" in c
                                                  for c in vdm["charts"]))

        score = render(browser, os.path.join(runs["score"], "report.html"), work)
        check_page(failures, "score", score, "score-matching loss", 0, 4,
                   ["nats", "bits/dim"])
        check(failures, "score: the samples scatter lacks axes in data units",
              any("x₁ (data units)" in c and "samples" in c for c in score["charts"]))
        check(failures, "score: the note does not say the loss is not a likelihood",
              any("not a likelihood" in n for n in score["notes"]))
    for f in failures:
        print("FAIL", f)
    print("report pages checked in %s: %s" % (browser, "ok" if not failures else "%d failures"
                                               % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
