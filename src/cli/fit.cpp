// deepgen fit gmm: the Bayesian Gaussian mixture by mean-field CAVI (MATH 1.5) on a points data
// set; one JSON object on stdout, optionally a PNG of the fit for 2-D data.
#include <iostream>

#include "app.h"
#include "deepgen/core/error.h"
#include "deepgen/core/runtime.h"
#include "deepgen/io/image.h"
#include "deepgen/vi/gmm.h"
#include "terminal.h"

namespace deepgen::cli {

using nlohmann::json;

const OptionTable<FitGmmRequest>& fit_gmm_option_table() {
  static const OptionTable<FitGmmRequest> table = [] {
    OptionTable<FitGmmRequest> t("fit_gmm");
    using R = FitGmmRequest;
    t.add("data", &R::data, "toy:NAME | csv:PATH (required)");
    t.add("components", &R::components, "Mixture components K (required)").min(1);
    t.add("tol", &R::tol, "Stop when the ELBO changes by less than this per point").min(0);
    t.add("max_iter", &R::max_iter, "Maximum CAVI sweeps").min(1);
    t.add("seed", &R::seed, "Seed of the k-means++ start and of toy data");
    t.add("png", &R::png, "Write the fit as a scatter PNG (2-D data)");
    t.add("test_fraction", &R::test_fraction,
          "csv: share of rows held out, not fitted (0: fit every row, as scikit-learn does)")
        .min(0);
    t.add("threads", &R::threads, "Intra-op CPU threads (0: one per core)").min(0);
    return t;
  }();
  return table;
}

namespace {

// A float64 tensor as nested JSON arrays (a 0-d tensor as a number).
json values(const at::Tensor& t) {
  if (t.dim() == 0) return t.item<double>();
  json out = json::array();
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(values(t[i]));
  return out;
}

// The 2-σ ellipse {m + 2 L (cos θ, sin θ)}, L Lᵀ = Σ, of a 2-D Gaussian, as n points (n, 2).
at::Tensor ellipse(const at::Tensor& mean, const at::Tensor& cov, int64_t n = 720) {
  const at::Tensor theta = torch::linspace(0, 2 * M_PI, n, torch::kDouble);
  const at::Tensor circle = torch::stack({theta.cos(), theta.sin()}, 1);
  return mean + 2 * circle.matmul(torch::linalg_cholesky(cov).t());
}

// Pixels the points `marks` cover in a scatter of `all` (which holds them): the same picture
// with and without them as a set of their own; the view depends only on `all`, so both share it.
at::Tensor covered_pixels(const at::Tensor& all, const at::Tensor& marks) {
  return io::scatter_image({all, marks}).ne(io::scatter_image({all})).any(0);
}

// Points coloured by their most likely component (the scatter palette, in component order), and
// the 2-σ ellipse of E[Λ_k]⁻¹ of every kept component drawn in black on top.
void write_fit_png(const std::string& path, const at::Tensor& x, const vi::GmmFit& fit) {
  const at::Tensor points = x.to(torch::kDouble);
  const at::Tensor labels = fit.log_resp.argmax(1);
  std::vector<at::Tensor> sets, ellipses;
  for (int64_t k = 0; k < fit.weights.size(0); ++k) {
    sets.push_back(points.index({labels.eq(k)}));
    if (std::find(fit.collapsed.begin(), fit.collapsed.end(), k) == fit.collapsed.end())
      ellipses.push_back(ellipse(fit.means[k], fit.covariances[k]));
  }
  const at::Tensor outlines = torch::cat(ellipses);
  sets.push_back(outlines);  // so the view holds the ellipses too
  at::Tensor image = io::scatter_image(sets);
  image.masked_fill_(covered_pixels(torch::cat({points, outlines}), outlines), 0.0);
  io::write_png(path, image);
}

void check_request(const FitGmmRequest& req) {
  fit_gmm_option_table().validate(req);
  auto starts_with = [&](const char* prefix) { return req.data.rfind(prefix, 0) == 0; };
  if (!starts_with("toy:") && !starts_with("csv:"))
    throw Error("fit gmm models points (N, D): --data must be toy:NAME or csv:PATH, got '" +
                req.data + "'");
}

}  // namespace

json fit_gmm(const FitGmmRequest& req) {
  check_request(req);
  if (const auto t = apply_threads(req.threads, 0); !t.warning.empty())
    log_line("warning: " + t.warning);
  data::DataOptions data_options;
  data_options.spec = req.data;
  data_options.seed = req.seed;
  data_options.test_fraction = req.test_fraction;
  const data::Splits splits = data::load_data(data_options);
  if (splits.train.kind != data::Kind::points || splits.train.x.dim() != 2)
    throw Error("fit gmm models points (N, D), but " + req.data + " holds images");
  const at::Tensor x = splits.train.values();
  if (!req.png.empty() && x.size(1) != 2)
    throw Error("--png draws 2-D data, but " + req.data + " has " + std::to_string(x.size(1)) +
                " dimensions: drop --png");
  vi::GmmFitOptions options;
  options.components = req.components;
  options.max_iter = req.max_iter;
  options.tol = req.tol;
  options.seed = req.seed;
  const vi::GmmFit fit = vi::fit_gmm(x, options);
  log_line("fitted a " + std::to_string(req.components) +
           "-component Bayesian Gaussian mixture to " + std::to_string(x.size(0)) + " points of " +
           req.data + " in " + std::to_string(fit.iterations) + " CAVI sweeps" +
           (fit.converged ? "" : " (not converged: raise --max-iter or --tol)"));
  json out{{"model", "gmm"},
           {"data", req.data},
           {"split", splits.test.size() > 0 ? "train" : "all"},
           {"points", x.size(0)},
           {"components", req.components},
           {"weights", values(fit.weights)},
           {"means", values(fit.means)},
           {"covariances", values(fit.covariances)},
           {"elbo", fit.elbo},
           {"elbo_units", "nats, all fitted points"},
           {"iterations", fit.iterations},
           {"converged", fit.converged},
           {"collapsed", fit.collapsed}};
  if (!req.png.empty()) {
    write_fit_png(req.png, x, fit);
    out["png"] = req.png;
  }
  return out;
}

int run_fit_gmm(const FitGmmRequest& req) {
  std::cout << fit_gmm(req).dump() << std::endl;
  return 0;
}

}  // namespace deepgen::cli
