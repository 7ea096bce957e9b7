#include "deepgen/nn/fused.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <vector>

#include "../../src/nn/fused_kernels.h"

namespace deepgen::nn {
namespace {

// Turns the fused loops on or off for one test and back on after it, whatever happens.
class FusedScope {
 public:
  explicit FusedScope(bool on) { set_fused_kernels(on); }
  ~FusedScope() { set_fused_kernels(true); }
};

struct Inputs {
  at::Tensor x, weight, bias;
};

// (5, 12, 7, 9): 63 positions, not a multiple of the loops' 8 lanes, so their tails run too;
// activations spread as a network's (mean 1, scale 3) and affine parameters away from (1, 0).
Inputs inputs(bool grad) {
  torch::manual_seed(3);
  Inputs in{torch::randn({5, 12, 7, 9}).mul_(3).add_(1), torch::rand({12}).add_(0.5),
            torch::randn({12})};
  in.x.requires_grad_(grad);
  in.weight.requires_grad_(grad);
  in.bias.requires_grad_(grad);
  return in;
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

TEST(GroupNormSilu, Float32MatchesGroupNormThenSiluWithTheirGradients) {
  ASSERT_NE(fused_kernels(), "off");
  auto in = inputs(true);
  auto y = group_norm_silu(in.x, 4, in.weight, in.bias);
  auto ref = group_norm_silu_reference(in.x, 4, in.weight, in.bias);
  ASSERT_EQ(y.scalar_type(), at::kFloat);
  // Both are float32 with other summation orders and another exp (~2 ulp): a few ulps of the
  // largest value. 1e-6 of it is ~8 ulps; a wrong formula (a missing rstd, the wrong group)
  // is off by O(1).
  EXPECT_LE(max_diff(y, ref), 1e-6 * max_abs(ref));
  const auto seed = torch::randn_like(y);
  auto g = torch::autograd::grad({y}, {in.x, in.weight, in.bias}, {seed});
  auto r = torch::autograd::grad({ref}, {in.x, in.weight, in.bias}, {seed});
  // The gradients sum over a group (dγ, dβ over 5·63 values; dx's two group means over 3·63),
  // so float32 orders differ by more: 1e-5 of the largest.
  for (size_t i = 0; i < 3; ++i) EXPECT_LE(max_diff(g[i], r[i]), 1e-5 * max_abs(r[i])) << i;
}

TEST(GroupNormSilu, ChannelsLastInputsKeepTheirLayoutAndTheSameNumbers) {
  // The channels-last loops (rows of channels, per-channel sums) against the two operators on
  // the NCHW copy, float32 and bfloat16 in, with the gradients; same tolerances as above.
  for (const auto type : {at::kFloat, at::kBFloat16}) {
    auto in = inputs(false);
    auto x = in.x.to(type).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
    auto w = in.weight.clone().requires_grad_(true), b = in.bias.clone().requires_grad_(true);
    auto y = group_norm_silu(x, 4, w, b);
    ASSERT_TRUE(y.is_contiguous(at::MemoryFormat::ChannelsLast));
    ASSERT_FALSE(y.is_contiguous());
    auto xr = x.detach().to(at::kFloat).contiguous().requires_grad_(true);
    auto wr = in.weight.clone().requires_grad_(true), br = in.bias.clone().requires_grad_(true);
    auto ref = group_norm_silu_reference(xr, 4, wr, br);
    EXPECT_LE(max_diff(y, ref), 1e-6 * max_abs(ref)) << type;
    const auto seed = torch::randn_like(ref);
    auto g =
        torch::autograd::grad({y}, {x, w, b}, {seed.contiguous(at::MemoryFormat::ChannelsLast)});
    auto r = torch::autograd::grad({ref}, {xr, wr, br}, {seed});
    EXPECT_TRUE(g[0].is_contiguous(at::MemoryFormat::ChannelsLast));
    const double dx_tol = type == at::kFloat ? 1e-5 : 1.0 / 128;  // dx rounded to x's type
    EXPECT_LE(max_diff(g[0], r[0]), dx_tol * max_abs(r[0])) << type;
    for (size_t i = 1; i < 3; ++i) EXPECT_LE(max_diff(g[i], r[i]), 1e-5 * max_abs(r[i])) << type;
  }
}

TEST(GroupNormSilu, UnderBf16AutocastTheOutputIsBf16RoundedFromFloat32) {
  auto in = inputs(false);
  const auto xb = in.x.to(at::kBFloat16);
  at::Tensor y;
  {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
    y = group_norm_silu(xb, 4, in.weight, in.bias);
    at::autocast::set_cpu_enabled(false);
  }
  ASSERT_EQ(y.scalar_type(), at::kBFloat16);
  const auto ref = group_norm_silu_reference(xb, 4, in.weight, in.bias);  // float32
  // Rounded once from float32 values a few ulps from the reference's: every element within
  // half a bfloat16 ulp (at most 2^-8 of the value: 7 stored mantissa bits) plus those ulps of
  // the largest value, and nearly all rounded alike.
  const auto err = (y.to(at::kDouble) - ref.to(at::kDouble)).abs() -
                   ref.to(at::kDouble).abs() / 256 - 1e-6 * max_abs(ref);
  EXPECT_LE(err.max().item<double>(), 0.0);
  const double same = (y == ref.to(at::kBFloat16)).to(at::kDouble).mean().item<double>();
  EXPECT_GE(same, 0.99);
  // Without autocast a bf16 input gives float32, as GroupNorm does under CUDA autocast.
  EXPECT_EQ(group_norm_silu(xb, 4, in.weight, in.bias).scalar_type(), at::kFloat);
}

TEST(GroupNormSilu, Bf16GradientsFlowBackInTheInputsType) {
  auto in = inputs(false);
  auto xb = in.x.to(at::kBFloat16).requires_grad_(true);
  auto w = in.weight.clone().requires_grad_(true);
  auto y = group_norm_silu(xb, 4, w, in.bias);
  auto xf = xb.detach().to(at::kFloat).requires_grad_(true);
  auto wf = in.weight.clone().requires_grad_(true);
  auto ref = group_norm_silu_reference(xf, 4, wf, in.bias);
  const auto seed = torch::randn_like(ref);
  auto g = torch::autograd::grad({y}, {xb, w}, {seed});
  auto r = torch::autograd::grad({ref}, {xf, wf}, {seed});
  EXPECT_EQ(g[0].scalar_type(), at::kBFloat16);
  EXPECT_EQ(g[1].scalar_type(), at::kFloat);
  EXPECT_LE(max_diff(g[0], r[0]), 1.0 / 128 * max_abs(r[0]));  // dx rounded to bfloat16
  EXPECT_LE(max_diff(g[1], r[1]), 1e-5 * max_abs(r[1]));       // dγ summed in float32
}

TEST(GroupNormSilu, SecondDerivativesAreTheUnfusedOperatorsOnes) {
  // Sliced score matching differentiates ∇ₓ(sᵀv) again (create_graph): the fused backward
  // recomputes unfused there, so the second derivative must match the reference's.
  auto in = inputs(true);
  auto second = [&](bool fused) {
    auto y = fused ? group_norm_silu(in.x, 4, in.weight, in.bias)
                   : group_norm_silu_reference(in.x, 4, in.weight, in.bias);
    auto gx = torch::autograd::grad({(y * y).sum()}, {in.x}, {}, true, true)[0];
    return torch::autograd::grad({gx.pow(2).sum()}, {in.x, in.weight})[1];
  };
  const auto ref = second(false);
  EXPECT_LE(max_diff(second(true), ref), 1e-4 * max_abs(ref));
}

TEST(GroupNormSilu, SaturatesWithoutOverflowAndPropagatesNan) {
  // One channel per group at ±200: normalised to about ±1 there, so scale the affine instead.
  auto x = torch::linspace(-1, 1, 2 * 4 * 16).view({2, 4, 16});
  auto w = torch::full({4}, 300.0), b = torch::zeros({4});
  auto y = group_norm_silu(x, 2, w, b);
  auto ref = group_norm_silu_reference(x, 2, w, b);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  EXPECT_LE(max_diff(y, ref), 1e-6 * max_abs(ref));  // silu(a) → a and → 0 (not NaN, not inf)
  x[1][3][5] = std::numeric_limits<float>::quiet_NaN();
  y = group_norm_silu(x, 2, w, b);
  EXPECT_TRUE(torch::isnan(y[1].slice(0, 2, 4)).all().item<bool>());  // the NaN's group
  EXPECT_TRUE(torch::isfinite(y[1].slice(0, 0, 2)).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(y[0]).all().item<bool>());
}

TEST(GroupNormSilu, OffOrOnOtherTypesItIsExactlyTheTwoOperators) {
  auto in = inputs(false);
  const auto ref = group_norm_silu_reference(in.x, 4, in.weight, in.bias);
  {
    FusedScope off(false);
    EXPECT_EQ(fused_kernels(), "off");
    EXPECT_TRUE(torch::equal(group_norm_silu(in.x, 4, in.weight, in.bias), ref));
  }
  EXPECT_NE(fused_kernels(), "off");
  const auto xd = in.x.to(at::kDouble);
  const auto wd = in.weight.to(at::kDouble), bd = in.bias.to(at::kDouble);
  EXPECT_TRUE(
      torch::equal(group_norm_silu(xd, 4, wd, bd), group_norm_silu_reference(xd, 4, wd, bd)));
}

TEST(Softplus, MatchesLibTorchsWithItsFirstAndSecondDerivatives) {
  ASSERT_NE(fused_kernels(), "off");
  // Both tails and the middle: e^x's underflow below −87 leaves both under 2e-38 there.
  auto x = torch::cat({torch::linspace(-90, 90, 4001), torch::randn({999}).mul_(3)})
               .requires_grad_(true);
  auto y = nn::softplus(x);
  auto ref = at::softplus(x);
  // ~2 ulp from Cephes' exp and log (measured 1.7e-7 relative on a 2·10^6-point grid); 5e-7
  // relative plus 1e-37 absolute. A wrong branch (the identity on the wrong side) is O(1).
  const auto err = (y - ref).abs() - 5e-7 * ref.abs() - 1e-37;
  EXPECT_LE(err.max().item<double>(), 0.0);
  const auto seed = torch::randn_like(x);
  auto g = torch::autograd::grad({y}, {x}, {seed}, true, true)[0];
  auto r = torch::autograd::grad({ref}, {x}, {seed}, true, true)[0];
  EXPECT_LE(max_diff(g, r), 1e-6 * max_abs(r));  // dy·σ(x), σ to ~2 ulp
  // Sliced score matching differentiates the first derivative again: LibTorch's there.
  auto gg = torch::autograd::grad({g.pow(2).sum()}, {x})[0];
  auto rr = torch::autograd::grad({r.pow(2).sum()}, {x})[0];
  EXPECT_LE(max_diff(gg, rr), 1e-5 * max_abs(rr));
  {
    FusedScope off(false);
    EXPECT_TRUE(torch::equal(nn::softplus(x.detach()), at::softplus(x.detach())));
  }
  const auto xd = x.detach().to(at::kDouble);
  EXPECT_TRUE(torch::equal(nn::softplus(xd), at::softplus(xd)));  // float64: LibTorch's
}

TEST(GroupNormSilu, BaselineAndAvx2LoopsAgree) {
  // Machines without AVX2 run the baseline loops: the same arithmetic, another vector width.
  // One (example, group) block of 3 channels × 45 positions, then one channels-last example of
  // 45 positions × 12 channels in 4 groups (gamma and beta cover its 12 channels).
  const int64_t channels = 12, hw = 45, n = 3 * hw, all = channels * hw;
  torch::manual_seed(5);
  const auto x = torch::randn({all}).mul_(2).add_(0.5), dy = torch::randn({all});
  const auto gamma = torch::rand({channels}).add_(0.5), beta = torch::randn({channels});
  const float *gp = gamma.data_ptr<float>(), *bp = beta.data_ptr<float>();
  const auto f32 = kernels::Type::f32;
  auto run = [&](const kernels::Table& t) {
    auto y = torch::empty({all}), dx = torch::empty({all});
    auto dgamma = torch::zeros({channels}), dbeta = torch::zeros({channels});
    std::vector<float> scratch(static_cast<size_t>((7 + hw) * channels));
    float mean = 0, rstd = 0;
    const kernels::Group g{3, hw, gp, bp};
    t.moments(x.data_ptr<float>(), f32, n, 1e-5f, &mean, &rstd);
    t.forward(x.data_ptr<float>(), f32, g, mean, rstd, y.data_ptr<float>(), f32);
    t.backward(dy.data_ptr<float>(), f32, x.data_ptr<float>(), f32, g, mean, rstd,
               dx.data_ptr<float>(), dgamma.data_ptr<float>(), dbeta.data_ptr<float>(),
               scratch.data());
    std::vector<at::Tensor> out{y.slice(0, 0, n).clone(), dx.slice(0, 0, n).clone()};
    const kernels::Example e{hw, channels, 4, gp, bp};
    auto means = torch::empty({4}), rstds = torch::empty({4});
    t.forward_cl(x.data_ptr<float>(), f32, e, 1e-5f, means.data_ptr<float>(),
                 rstds.data_ptr<float>(), y.data_ptr<float>(), f32, scratch.data());
    t.backward_cl(dy.data_ptr<float>(), f32, x.data_ptr<float>(), f32, e, means.data_ptr<float>(),
                  rstds.data_ptr<float>(), dx.data_ptr<float>(), dgamma.data_ptr<float>(),
                  dbeta.data_ptr<float>(), scratch.data());
    for (const auto& v : {y, dx, dgamma, dbeta, means, rstds}) out.push_back(v);
    return out;
  };
  const auto a = run(kernels::table_baseline()), b = run(kernels::table_avx2());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LE(max_diff(a[i], b[i]), 1e-5 * max_abs(a[i])) << i;
  auto soft = [&](const kernels::Table& t) {
    auto y = torch::empty({all}), dx = torch::empty({all});
    t.softplus_forward(x.data_ptr<float>(), y.data_ptr<float>(), all);
    t.softplus_backward(x.data_ptr<float>(), dy.data_ptr<float>(), dx.data_ptr<float>(), all);
    return std::pair{y, dx};
  };
  const auto sa = soft(kernels::table_baseline()), sb = soft(kernels::table_avx2());
  EXPECT_LE(max_diff(sa.first, sb.first), 1e-6 * max_abs(sa.first));
  EXPECT_LE(max_diff(sa.second, sb.second), 1e-6 * max_abs(sa.second));
}

}  // namespace
}  // namespace deepgen::nn
