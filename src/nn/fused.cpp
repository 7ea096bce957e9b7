#include "deepgen/nn/fused.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "fused_kernels.h"

namespace deepgen::nn {

namespace {

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("DEEPGEN_FUSED");
    return env == nullptr || std::string(env) != "0";
  }()};
  return on;
}

bool low_precision(c10::ScalarType t) { return t == at::kBFloat16 || t == at::kHalf; }

c10::ScalarType result_type(const at::Tensor& x) {
  if (x.device().is_cpu() && at::autocast::is_cpu_enabled())
    return at::autocast::get_autocast_cpu_dtype();
  return low_precision(x.scalar_type()) ? at::kFloat : x.scalar_type();
}

kernels::Type kernel_type(c10::ScalarType t) {
  return t == at::kFloat ? kernels::Type::f32 : kernels::Type::bf16;
}

bool fusable(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
             c10::ScalarType out) {
  auto ours = [](c10::ScalarType t) { return t == at::kFloat || t == at::kBFloat16; };
  return enabled() && x.device().is_cpu() && x.dim() >= 2 && x.numel() > 0 &&
         ours(x.scalar_type()) && ours(out) && weight.defined() && bias.defined() &&
         weight.scalar_type() == at::kFloat && bias.scalar_type() == at::kFloat &&
         weight.numel() == x.size(1) && bias.numel() == x.size(1);
}

bool cpu_has_avx2() {
#if defined(__x86_64__)
  return kernels::avx2_compiled() && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const kernels::Table& table() {
  static const kernels::Table& t =
      cpu_has_avx2() ? kernels::table_avx2() : kernels::table_baseline();
  return t;
}

struct Shape {
  int64_t batch, groups, channels, hw;  // channels: per group
  int64_t block() const { return channels * hw; }
};

Shape shape_of(const at::Tensor& x, int64_t groups) {
  TORCH_CHECK(groups > 0 && x.size(1) % groups == 0, "group_norm_silu: ", x.size(1),
              " channels do not split into ", groups, " groups");
  return {x.size(0), groups, x.size(1) / groups, x.numel() / (x.size(0) * x.size(1))};
}

kernels::Group group(const Shape& s, const at::Tensor& weight, const at::Tensor& bias, int64_t g) {
  return {s.channels, s.hw, weight.data_ptr<float>() + g * s.channels,
          bias.data_ptr<float>() + g * s.channels};
}

// The b-th (example, group) block of a contiguous (B, C, ...) tensor.
void* block(const at::Tensor& t, const Shape& s, int64_t b) {
  return static_cast<char*>(t.data_ptr()) + b * s.block() * t.element_size();
}

// A 4-D tensor laid out channels-last (NHWC) and not also plain contiguous (a 1×1 map is both):
// the loops then run per example over rows of channels.
bool channels_last(const at::Tensor& x) {
  return x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

// The layout the loops read x in: its own when it is NCHW- or NHWC-contiguous, else NCHW.
at::Tensor in_layout(const at::Tensor& x) { return channels_last(x) ? x : x.contiguous(); }

kernels::Example example(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                         const at::Tensor& bias) {
  return {x.size(2) * x.size(3), x.size(1), groups, weight.data_ptr<float>(),
          bias.data_ptr<float>()};
}

// The n-th example of a (B, C, ...) tensor contiguous in its own layout.
void* example_at(const at::Tensor& t, int64_t n) {
  return static_cast<char*>(t.data_ptr()) + n * (t.numel() / t.size(0)) * t.element_size();
}

// y, and the per-(example, group) mean and rstd the backward reuses.
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_forward(const at::Tensor& x,
                                                             const at::Tensor& weight,
                                                             const at::Tensor& bias, int64_t groups,
                                                             double eps, c10::ScalarType out) {
  const Shape s = shape_of(x, groups);
  auto y = at::empty_like(x, x.options().dtype(out));  // in x's layout
  auto mean = at::empty({s.batch * s.groups}, x.options().dtype(at::kFloat));
  auto rstd = at::empty_like(mean);
  const auto xt = kernel_type(x.scalar_type()), yt = kernel_type(out);
  const auto& k = table();
  if (channels_last(x)) {
    const auto e = example(x, groups, weight, bias);
    at::parallel_for(0, s.batch, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(static_cast<size_t>(4 * e.channels));
      for (int64_t n = begin; n < end; ++n)
        k.forward_cl(example_at(x, n), xt, e, static_cast<float>(eps),
                     mean.data_ptr<float>() + n * groups, rstd.data_ptr<float>() + n * groups,
                     example_at(y, n), yt, scratch.data());
    });
    return {y, mean, rstd};
  }
  at::parallel_for(0, s.batch * s.groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const void* xb = block(x, s, b);
      float* m = mean.data_ptr<float>() + b;
      float* r = rstd.data_ptr<float>() + b;
      k.moments(xb, xt, s.block(), static_cast<float>(eps), m, r);
      k.forward(xb, xt, group(s, weight, bias, b % s.groups), *m, *r, block(y, s, b), yt);
    }
  });
  return {y, mean, rstd};
}

// dx, dweight, dbias: per-example shares of dγ and dβ summed over the batch afterwards, so the
// threads never write the same element.
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_backward(
    const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
    const at::Tensor& mean, const at::Tensor& rstd, int64_t groups) {
  const Shape s = shape_of(x, groups);
  auto dx = at::empty_like(x);
  auto dgamma = at::zeros({s.batch, x.size(1)}, x.options().dtype(at::kFloat));
  auto dbeta = at::zeros_like(dgamma);
  const auto dyt = kernel_type(dy.scalar_type()), xt = kernel_type(x.scalar_type());
  const auto& k = table();
  if (channels_last(x)) {
    const auto e = example(x, groups, weight, bias);
    at::parallel_for(0, s.batch, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(static_cast<size_t>((7 + e.positions) * e.channels));
      for (int64_t n = begin; n < end; ++n)
        k.backward_cl(example_at(dy, n), dyt, example_at(x, n), xt, e,
                      mean.data_ptr<float>() + n * groups, rstd.data_ptr<float>() + n * groups,
                      example_at(dx, n), dgamma.data_ptr<float>() + n * x.size(1),
                      dbeta.data_ptr<float>() + n * x.size(1), scratch.data());
    });
    return {dx, dgamma.sum(0), dbeta.sum(0)};
  }
  at::parallel_for(0, s.batch * s.groups, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(s.block()));
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = (b % s.groups) * s.channels + (b / s.groups) * x.size(1);
      k.backward(block(dy, s, b), dyt, block(x, s, b), xt, group(s, weight, bias, b % s.groups),
                 mean.data_ptr<float>()[b], rstd.data_ptr<float>()[b], block(dx, s, b),
                 dgamma.data_ptr<float>() + first, dbeta.data_ptr<float>() + first, scratch.data());
    }
  });
  return {dx, dgamma.sum(0), dbeta.sum(0)};
}

struct GroupNormSilu : torch::autograd::Function<GroupNormSilu> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias, int64_t groups,
                            double eps, c10::ScalarType out) {
    auto [y, mean, rstd] = fused_forward(x, weight, bias, groups, eps, out);
    ctx->save_for_backward({x, weight, bias, mean, rstd});
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["eps"] = eps;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2];
    const int64_t groups = ctx->saved_data["groups"].toInt();
    at::Tensor dx, dweight, dbias;
    if (at::GradMode::is_enabled()) {
      // A derivative of this derivative is asked for (create_graph): recompute unfused, so
      // autograd differentiates the reference's own backward.
      const double eps = ctx->saved_data["eps"].toDouble();
      auto y = group_norm_silu_reference(x, groups, weight, bias, eps);
      auto g = torch::autograd::grad({y}, {x, weight, bias}, {grads[0].to(y.dtype())},
                                     /*retain_graph=*/true, /*create_graph=*/true);
      dx = g[0], dweight = g[1], dbias = g[2];
    } else {
      std::tie(dx, dweight, dbias) =
          fused_backward(grads[0].contiguous(channels_last(x) ? at::MemoryFormat::ChannelsLast
                                                              : at::MemoryFormat::Contiguous),
                         x, weight, bias, saved[3], saved[4], groups);
    }
    return {dx, dweight, dbias, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// The float32 CPU loops over the flat values, in chunks across the intra-op threads.
constexpr int64_t kGrain = 1 << 15;

at::Tensor softplus_loop(const at::Tensor& x) {
  auto y = at::empty_like(x);
  const float* in = x.data_ptr<float>();
  float* out = y.data_ptr<float>();
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
    table().softplus_forward(in + begin, out + begin, end - begin);
  });
  return y;
}

struct Softplus : torch::autograd::Function<Softplus> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    ctx->save_for_backward({x});
    return softplus_loop(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto x = ctx->get_saved_variables()[0];
    if (at::GradMode::is_enabled())  // create_graph: differentiate LibTorch's own backward
      return {torch::autograd::grad({at::softplus(x)}, {x}, {grads[0]}, true, true)[0]};
    const auto dy = grads[0].contiguous();
    auto dx = at::empty_like(x);
    const float *in = x.data_ptr<float>(), *d = dy.data_ptr<float>();
    float* out = dx.data_ptr<float>();
    at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
      table().softplus_backward(in + begin, d + begin, out + begin, end - begin);
    });
    return {dx};
  }
};

}  // namespace

at::Tensor softplus(const at::Tensor& x) {
  if (!enabled() || !x.device().is_cpu() || x.scalar_type() != at::kFloat || x.numel() == 0)
    return at::softplus(x);
  const auto xc = x.contiguous();
  if (at::GradMode::is_enabled() && x.requires_grad()) return Softplus::apply(xc);
  return softplus_loop(xc);
}

std::string fused_kernels() {
  if (!enabled()) return "off";
  return cpu_has_avx2() ? "avx2" : "baseline";
}

void set_fused_kernels(bool on) { enabled() = on; }

at::Tensor group_norm_silu_reference(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                                     const at::Tensor& bias, double eps) {
  const auto xf = low_precision(x.scalar_type()) ? x.to(at::kFloat) : x;
  return at::silu(at::group_norm(xf, groups, weight, bias, eps));
}

at::Tensor group_norm_silu(const at::Tensor& x, int64_t groups, const at::Tensor& weight,
                           const at::Tensor& bias, double eps) {
  const auto out = result_type(x);
  if (!fusable(x, weight, bias, out))
    return group_norm_silu_reference(x, groups, weight, bias, eps).to(out);
  const auto xc = in_layout(x);
  const bool graph = at::GradMode::is_enabled() &&
                     (x.requires_grad() || weight.requires_grad() || bias.requires_grad());
  if (graph) return GroupNormSilu::apply(xc, weight, bias, groups, eps, out);
  return std::get<0>(fused_forward(xc, weight.contiguous(), bias.contiguous(), groups, eps, out));
}

}  // namespace deepgen::nn
