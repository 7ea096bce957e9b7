// core/precision.h: which arithmetic a network runs in, and the autocast scope of its forward.
#include "deepgen/core/precision.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../support/error_message.h"

namespace deepgen {
namespace {

const c10::Device kCpu(c10::kCPU), kCuda(c10::kCUDA, 0);

// The detected ISA is injected: the same choices hold on every machine the tests run on.
TEST(Precision, AutoIsBf16OnlyWhereTheDeviceHasNativeBf16) {
  const Bf16Support none{}, cpu{true, false}, gpu{false, true};
  EXPECT_EQ(resolve_precision("auto", kCpu, none).precision, Precision::fp32);
  EXPECT_EQ(resolve_precision("auto", kCpu, cpu).precision, Precision::bf16);
  EXPECT_EQ(resolve_precision("auto", kCpu, gpu).precision, Precision::fp32);
  EXPECT_EQ(resolve_precision("auto", kCuda, gpu).precision, Precision::bf16);
  EXPECT_EQ(resolve_precision("auto", kCuda, cpu).precision, Precision::fp32);
  EXPECT_TRUE(resolve_precision("auto", kCpu, none).warning.empty());
  EXPECT_EQ(resolve_precision("fp32", kCpu, cpu).precision, Precision::fp32);
  // A network that gains nothing from bf16 (its model says so) stays float32 under auto only.
  EXPECT_EQ(resolve_precision("auto", kCpu, cpu, false).precision, Precision::fp32);
  EXPECT_EQ(resolve_precision("bf16", kCpu, cpu, false).precision, Precision::bf16);
}

TEST(Precision, Bf16WhereItIsEmulatedIsKeptWithAWarning) {
  const PrecisionChoice c = resolve_precision("bf16", kCpu, Bf16Support{});
  EXPECT_EQ(c.precision, Precision::bf16);
  EXPECT_NE(c.warning.find("no native bfloat16"), std::string::npos) << c.warning;
  EXPECT_NE(c.warning.find("auto picks fp32"), std::string::npos) << c.warning;
  EXPECT_TRUE(resolve_precision("bf16", kCpu, Bf16Support{true, false}).warning.empty());
}

TEST(Precision, AnUnknownNameIsOneErrorNamingTheOption) {
  const std::string m =
      testing::error_message([] { resolve_precision("fp16", kCpu, Bf16Support{}); });
  EXPECT_NE(m.find("`run.precision`"), std::string::npos) << m;
  EXPECT_NE(m.find("'fp16'"), std::string::npos) << m;
  EXPECT_NE(m.find("fp32, bf16 or auto"), std::string::npos) << m;
}

struct NetworkPrecisionReset {
  ~NetworkPrecisionReset() { set_network_precision(Precision::fp32, c10::DeviceType::CPU); }
};

// A float32 layer inside a bf16 forward: autocast off within the scope, on again after it, and
// to_network_dtype hands its output on in bf16 (fp32 networks: no-ops).
TEST(Precision, Float32ScopeRunsOneLayerInFloat32InsideABf16Forward) {
  NetworkPrecisionReset reset;
  const at::Tensor a = torch::randn({8, 16}), b = torch::randn({16, 4});
  set_network_precision(Precision::bf16, c10::DeviceType::CPU);
  at::ScalarType before = at::kFloat, inside = at::kBFloat16, after = at::kFloat,
                 handed = at::kFloat;
  autocast_forward(at::kFloat, [&] {
    before = at::mm(a, b).scalar_type();
    at::Tensor out;
    {
      const Float32Scope fp32;
      out = at::mm(a, b);
      inside = out.scalar_type();
    }
    after = at::mm(a, b).scalar_type();
    handed = to_network_dtype(out).scalar_type();
    return out;
  });
  EXPECT_EQ(before, at::kBFloat16);
  EXPECT_EQ(inside, at::kFloat);
  EXPECT_EQ(after, at::kBFloat16);
  EXPECT_EQ(handed, at::kBFloat16);
  set_network_precision(Precision::fp32, c10::DeviceType::CPU);
  {
    const Float32Scope fp32;  // a no-op under fp32
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
  }
  EXPECT_EQ(to_network_dtype(a).scalar_type(), at::kFloat);
}

// Channels-last only for bf16 networks on a CPU with AMX (the detected ISA injected).
TEST(Precision, ChannelsLastOnlyForBf16OnAnAmxCpu) {
  NetworkPrecisionReset reset;
  const Bf16Support amx{true, false, true}, avx512{true, false, false};
  const auto nhwc = c10::MemoryFormat::ChannelsLast, nchw = c10::MemoryFormat::Contiguous;
  EXPECT_EQ(network_memory_format(amx), nchw);  // fp32 until a precision is set
  set_network_precision(Precision::bf16, c10::DeviceType::CPU);
  EXPECT_EQ(network_memory_format(amx), nhwc);
  EXPECT_EQ(network_memory_format(avx512), nchw);
  set_network_precision(Precision::bf16, c10::DeviceType::CUDA);
  EXPECT_EQ(network_memory_format(amx), nchw);
  set_network_precision(Precision::fp32, c10::DeviceType::CPU);
  EXPECT_EQ(network_memory_format(amx), nchw);
}

// Only what runs inside the scope is cast: a matrix product there is bf16, the same product
// after it float32 again, and the result handed out is in the caller's dtype.
TEST(Precision, OnlyTheNetworkForwardRunsInBf16) {
  NetworkPrecisionReset reset;
  const at::Tensor a = torch::randn({8, 16}), b = torch::randn({16, 4});
  set_network_precision(Precision::bf16, c10::DeviceType::CPU);
  at::ScalarType inside = at::kFloat;
  const at::Tensor out = autocast_forward(a.scalar_type(), [&] {
    at::Tensor p = at::mm(a, b);
    inside = p.scalar_type();
    return p;
  });
  EXPECT_EQ(inside, at::kBFloat16);
  EXPECT_EQ(out.scalar_type(), at::kFloat);
  EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);  // the scope restored autocast's state
  // bf16 keeps 8 significant bits: the product differs from float32's, by about 2^-8 of it.
  const double rel = ((out - at::mm(a, b)).abs().max() / at::mm(a, b).abs().max()).item<double>();
  EXPECT_GT(rel, 0.0);
  EXPECT_LT(rel, 0.03);
  set_network_precision(Precision::fp32, c10::DeviceType::CPU);
  EXPECT_TRUE(autocast_forward(at::kFloat, [&] { return at::mm(a, b); }).equal(at::mm(a, b)));
}

// The weights' casts are cached inside one scope only: after an in-place update (the optimiser's
// step) the next forward sees the new weights.
TEST(Precision, AWeightUpdatedBetweenForwardsIsSeenByTheNext) {
  NetworkPrecisionReset reset;
  set_network_precision(Precision::bf16, c10::DeviceType::CPU);
  torch::nn::Linear lin(4, 2);
  const at::Tensor x = torch::ones({1, 4});
  const at::Tensor first = autocast_forward(at::kFloat, [&] { return lin->forward(x); });
  {
    torch::NoGradGuard no_grad;
    lin->weight.add_(1.0);
  }
  const at::Tensor second = autocast_forward(at::kFloat, [&] { return lin->forward(x); });
  EXPECT_NEAR((second - first).mean().item<double>(), 4.0, 0.05);  // 4 inputs of 1, +1 each
}

// A scope sets the network precision and gives the previous one back, also when it is left by an
// exception (the ODE likelihood runs float32 inside a bf16 command this way).
TEST(Precision, ScopeRestoresThePreviousPrecisionOnAnyExit) {
  NetworkPrecisionReset reset;
  set_network_precision(Precision::bf16, c10::DeviceType::CPU);
  {
    const NetworkPrecisionScope scope(Precision::fp32, c10::DeviceType::CPU);
    EXPECT_EQ(network_precision(), Precision::fp32);
  }
  EXPECT_EQ(network_precision(), Precision::bf16);
  try {
    const NetworkPrecisionScope scope(Precision::fp32, c10::DeviceType::CPU);
    throw std::runtime_error("inside");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(network_precision(), Precision::bf16);
}

}  // namespace
}  // namespace deepgen
