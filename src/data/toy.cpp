#include "deepgen/data/toy.h"

#include <functional>
#include <map>

#include "deepgen/core/error.h"

// The shapes and scales follow the FFJORD toy data (Grathwohl et al. 2019, lib/toy_data.py) so
// plots and numbers are comparable with the literature. Where FFJORD uses fixed grids
// (linspace angles), points are drawn at random instead, so that every sample is i.i.d. from one
// fixed density and a pure function of the generator.
namespace deepgen::data {
namespace {

using Sampler = std::function<at::Tensor(int64_t, at::Generator&)>;
constexpr double kPi = 3.14159265358979323846;

at::TensorOptions f32() { return at::TensorOptions().dtype(at::kFloat); }

at::Tensor uniform(int64_t n, at::Generator& gen) { return at::rand({n}, gen, f32()); }
at::Tensor normal(at::IntArrayRef size, at::Generator& gen) { return at::randn(size, gen, f32()); }
at::Tensor choice(int64_t k, int64_t n, at::Generator& gen) { return at::randint(k, {n}, gen); }

// Eight N(c, 0.5²) blobs with centres on a circle of radius 4, all divided by 1.414: centres at
// radius ≈ 2.83, std ≈ 0.354.
at::Tensor eight_gaussians(int64_t n, at::Generator& gen) {
  std::vector<float> c;
  for (int k = 0; k < 8; ++k) {
    c.push_back(static_cast<float>(4.0 * std::cos(k * kPi / 4)));
    c.push_back(static_cast<float>(4.0 * std::sin(k * kPi / 4)));
  }
  const at::Tensor centres = at::tensor(c).view({8, 2});
  // Draws are sequenced in statements: operand evaluation order is unspecified in C++.
  const at::Tensor noise = normal({n, 2}, gen) * 0.5;
  const at::Tensor centre = centres.index_select(0, choice(8, n, gen));
  return (noise + centre) / 1.414;
}

// sklearn make_moons(noise=0.1) mapped by 2x + (-1, -0.2): two interleaved half circles.
at::Tensor moons(int64_t n, at::Generator& gen) {
  const at::Tensor t = uniform(n, gen) * kPi;
  const at::Tensor upper = choice(2, n, gen).to(at::kBool);
  const at::Tensor x = at::where(upper, at::cos(t), 1 - at::cos(t));
  const at::Tensor y = at::where(upper, at::sin(t), 0.5 - at::sin(t));
  const at::Tensor xy = at::stack({x, y}, 1) + 0.1 * normal({n, 2}, gen);
  return xy * 2 + at::tensor({-1.0f, -0.2f});
}

// sklearn make_swiss_roll(noise=1.0), (x, z) plane, divided by 5.
at::Tensor swissroll(int64_t n, at::Generator& gen) {
  const at::Tensor t = 1.5 * kPi * (1 + 2 * uniform(n, gen));
  const at::Tensor xy = at::stack({t * at::cos(t), t * at::sin(t)}, 1) + normal({n, 2}, gen);
  return xy / 5;
}

// Uniform on the black squares of a 4x4 checkerboard covering [-4, 4]².
at::Tensor checkerboard(int64_t n, at::Generator& gen) {
  const at::Tensor x1 = uniform(n, gen) * 4 - 2;
  const at::Tensor u = uniform(n, gen);
  const at::Tensor x2 = u - choice(2, n, gen).to(at::kFloat) * 2;
  const at::Tensor shift = at::remainder(at::floor(x1), 2);
  return at::stack({x1, x2 + shift}, 1) * 2;
}

// Four concentric circles of radius 3, 2.25, 1.5, 0.75 (equally likely), noise std 0.08.
at::Tensor rings(int64_t n, at::Generator& gen) {
  const at::Tensor radius = (4 - choice(4, n, gen).to(at::kFloat)) * 0.75;
  const at::Tensor t = uniform(n, gen) * (2 * kPi);
  const at::Tensor xy = at::stack({radius * at::cos(t), radius * at::sin(t)}, 1);
  return xy + 0.08 * normal({n, 2}, gen);
}

// 0.2·N((−5,−5), I) + 0.8·N((5,5), I), the NCSN toy mixture (Song & Ermon 2019, §3.2).
at::Tensor ncsn_gmm(int64_t n, at::Generator& gen) {
  const at::Tensor positive = (uniform(n, gen) < 0.8).to(at::kFloat);
  const at::Tensor mean = (positive * 10 - 5).unsqueeze(1);
  return mean + normal({n, 2}, gen);
}

const std::map<std::string, Sampler>& samplers() {
  static const std::map<std::string, Sampler> table = {
      {"8gaussians", eight_gaussians}, {"moons", moons}, {"swissroll", swissroll},
      {"checkerboard", checkerboard},  {"rings", rings}, {"ncsn-gmm", ncsn_gmm}};
  return table;
}

std::string joined_names() {
  std::string out;
  for (const auto& name : toy_names()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::vector<std::string> toy_names() {
  return {"8gaussians", "moons", "swissroll", "checkerboard", "rings", "ncsn-gmm"};
}

at::Tensor sample_toy(const std::string& name, int64_t n, at::Generator& gen) {
  const auto it = samplers().find(name);
  if (it == samplers().end()) {
    throw Error("unknown toy data set '" + name + "' (known: " + joined_names() + ")");
  }
  if (n < 0) throw Error("toy data set '" + name + "': point count must be >= 0");
  return it->second(n, gen).to(at::kFloat).contiguous();
}

}  // namespace deepgen::data
