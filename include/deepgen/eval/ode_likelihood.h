#pragma once
// Test-set likelihoods of a model's probability-flow ODE (train/model.h ProbabilityFlow;
// ode/likelihood.h): for 8-bit images in bits/dim on the same scale as the VDM's bound and the
// VAE's discretised decoder, for other data as −log p(x) in nats.
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "deepgen/data/dataset.h"
#include "deepgen/ode/likelihood.h"
#include "deepgen/train/model.h"

namespace deepgen::eval {

struct OdeLikelihoodOptions {
  ode::FlowOptions flow;   // flow.divergence "auto": exact up to kExactDivergenceDims, else
                           // Hutchinson's
  int64_t examples = 256;  // the first test examples (0: all)
  int64_t batch = 128;
  uint64_t seed = 0;  // dequantisation noise and probes
  // The flow's start: 0, or later for a model whose bound covers [0, t0] (the VDM's decoder and
  // diffusion loss there; others refuse it).
  double t0 = 0.0;
};

// Numbers per example up to which "auto" takes the exact divergence (one backward pass each).
constexpr int64_t kExactDivergenceDims = 16;

struct OdeLikelihood {
  double value = 0, std_error = 0;  // mean over examples, and its standard error
  std::string unit;                 // bpd (8-bit data) | nats
  std::string dequantization;       // how 8-bit values became densities, or "none"
  std::string divergence;           // exact | hutchinson (resolved)
  int64_t examples = 0;
  double nfe = 0;  // drift evaluations per batch, averaged over batches
  double seconds = 0;
};

// Throws deepgen::Error with the model's blocker when it has no probability-flow ODE. 8-bit data
// (uint8 storage) are dequantised uniformly, x = (k + u)/256 in the 8-bit scale, and the value
// is −(log p(x) − D log 256)/(D ln 2) in the model's own scale, an upper bound on −log₂P(k)/D
// in expectation over u (Theis et al. 2016). Progress goes to report_progress("ode", ...).
OdeLikelihood ode_likelihood(train::GenerativeModel& model, const data::Dataset& test,
                             const OdeLikelihoodOptions& options, c10::Device device);

}  // namespace deepgen::eval
