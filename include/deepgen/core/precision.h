#pragma once
// The one place that chooses the arithmetic a network runs in. Under bf16 only the network's
// forward runs under autocast (its convolutions and matrix products in bfloat16); the schedule,
// the losses, the bound, the optimiser state and the master weights stay float32.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/MemoryFormat.h>
#include <c10/util/Optional.h>

#include <string>
#include <vector>

namespace deepgen {

enum class Precision { fp32, bf16 };

std::vector<std::string> precision_names();  // fp32, bf16, auto
std::string precision_name(Precision p);

// Where bfloat16 arithmetic is native, not emulated through float32.
struct Bf16Support {
  bool cpu = false;      // avx512_bf16 or amx_bf16 (read from the CPU)
  bool cuda = false;     // the current GPU's compute capability is 8.0 or higher
  bool cpu_amx = false;  // amx_bf16: oneDNN's AMX tile convolutions
};
Bf16Support detect_bf16_support();  // measured once per process

struct PrecisionChoice {
  Precision precision = Precision::fp32;
  std::string warning;  // non-empty when bf16 was asked for on a device that emulates it
};
// "fp32" | "bf16" | "auto" on `device`: auto is bf16 where `support` says the device computes
// it natively and the network gains from it (`network_gains`: its model's own word, see
// train/model.h), else fp32, so a machine without it is never made slower.
PrecisionChoice resolve_precision(const std::string& name, c10::Device device,
                                  const Bf16Support& support, bool network_gains = true);

// The precision NetworkAutocast applies on this thread, and its device type. Set once per
// command where the device is chosen; fp32 until then.
void set_network_precision(Precision p, c10::DeviceType device);
Precision network_precision();

// The memory format the image networks give their activations under the network precision set
// on this thread: channels-last (NHWC) for bf16 on a CPU with AMX, whose tile convolutions take
// NHWC (a U-Net training step measured 1.27-1.33x faster, bench/bench_memory_format.cpp, and oneDNN
// otherwise converts every convolution's input); NCHW elsewhere (float32, and AVX-512 bf16 before
// the fused GroupNorm → SiLU, measured slower channels-last; CUDA unmeasured). The weights keep
// their layout: oneDNN runs a convolution channels-last when its input is. `support` is the
// detected CPU's unless a test injects one.
c10::MemoryFormat network_memory_format();
c10::MemoryFormat network_memory_format(const Bf16Support& support);
// Benchmarks: both calls above return `format` from now on, whatever the rule; nullopt restores
// the rule.
void force_network_memory_format(c10::optional<c10::MemoryFormat> format);

// The network precision set for a scope, the previous one restored on exit (errors included).
class NetworkPrecisionScope {
 public:
  NetworkPrecisionScope(Precision p, c10::DeviceType device);
  ~NetworkPrecisionScope();
  NetworkPrecisionScope(const NetworkPrecisionScope&) = delete;
  NetworkPrecisionScope& operator=(const NetworkPrecisionScope&) = delete;

 private:
  Precision previous_;
  c10::DeviceType device_;
};

// While it lives, autocast on the network precision's device is switched to `enable` (to
// bfloat16), the previous state restored on exit; a no-op unless the network precision is bf16.
class AutocastSwitch {
 public:
  explicit AutocastSwitch(bool enable);
  ~AutocastSwitch();
  AutocastSwitch(const AutocastSwitch&) = delete;
  AutocastSwitch& operator=(const AutocastSwitch&) = delete;

 protected:
  bool active_ = false;

 private:
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
  c10::DeviceType device_ = c10::DeviceType::CPU;
};

// Scope of one network forward: autocast to bfloat16 on the network precision's device when it
// is bf16, a no-op under fp32. Restores the previous autocast state and drops the casts it cached
// (the weights change at the next optimiser step).
class NetworkAutocast : public AutocastSwitch {
 public:
  NetworkAutocast();
  ~NetworkAutocast();
};

// Inside a network forward: a scope with autocast off (the previous state restored on exit), so
// the layer in it runs float32. The U-Nets' first and last layers run so: at low noise levels z's
// noise is below bfloat16's spacing near ±1, and the VDM's bound reads ε̂'s small residuals there,
// which rounding ε̂ to bfloat16 would swamp. A no-op under fp32.
class Float32Scope : public AutocastSwitch {
 public:
  Float32Scope() : AutocastSwitch(false) {}
};

// x in the type autocast gives a network's activations: bfloat16 under bf16, else x itself. For
// a float32 layer's output (Float32Scope), so the activations after it stay bfloat16.
at::Tensor to_network_dtype(const at::Tensor& x);

// forward() under NetworkAutocast, its result cast back to `dtype` (a no-op under fp32), so what
// a loss or a sampler reads is never bfloat16.
template <class Forward>
at::Tensor autocast_forward(c10::ScalarType dtype, Forward&& forward) {
  at::Tensor out;
  {
    NetworkAutocast scope;
    out = forward();
  }
  return out.to(dtype);  // returns out itself when it already has that dtype
}

}  // namespace deepgen
