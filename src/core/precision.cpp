// Precision choice and the autocast scope of a network forward (core/precision.h).
#include "deepgen/core/precision.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <fstream>
#include <sstream>

#include "deepgen/core/error.h"
#include "deepgen/core/runtime.h"

// LibTorch 2.4 folded the per-device autocast setters into ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DEEPGEN_AUTOCAST_BY_DEVICE 1
#endif

namespace deepgen {

namespace {

thread_local Precision t_precision = Precision::fp32;
thread_local c10::DeviceType t_device = c10::DeviceType::CPU;

bool cpu_flag(const std::string& name) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w)
      if (w == name) return true;
    return false;
  }
  return false;
}

bool autocast_enabled(c10::DeviceType d) {
#ifdef DEEPGEN_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

c10::ScalarType autocast_dtype(c10::DeviceType d) {
#ifdef DEEPGEN_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(d);
#else
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                    : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast(c10::DeviceType d, bool enabled, c10::ScalarType dtype) {
#ifdef DEEPGEN_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, dtype);
  at::autocast::set_autocast_enabled(d, enabled);
#else
  if (d == c10::DeviceType::CUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

}  // namespace

std::vector<std::string> precision_names() { return {"fp32", "bf16", "auto"}; }

std::string precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Bf16Support detect_bf16_support() {
  static const Bf16Support support = [] {
    Bf16Support s;
    s.cpu_amx = cpu_flag("amx_bf16");
    s.cpu = cpu_flag("avx512_bf16") || s.cpu_amx;
    // cuDNN's bf16 convolutions need compute capability 8.0, where bf16 tensor cores begin.
    s.cuda =
        cuda_available() && at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8();
    return s;
  }();
  return support;
}

PrecisionChoice resolve_precision(const std::string& name, c10::Device device,
                                  const Bf16Support& support, bool network_gains) {
  const bool native = device.is_cuda() ? support.cuda : support.cpu;
  PrecisionChoice c;
  if (name == "fp32") return c;
  if (name == "auto") {
    c.precision = native && network_gains ? Precision::bf16 : Precision::fp32;
    return c;
  }
  if (name != "bf16")
    throw Error(option_ref("run", "precision") + " '" + name +
                "' is unknown: use fp32, bf16 or auto");
  c.precision = Precision::bf16;
  if (!native)
    c.warning = device.str() + " has no native bfloat16 arithmetic (" +
                (device.is_cuda() ? "compute capability below 8.0" : "no avx512_bf16 or amx_bf16") +
                "): bf16 is emulated and likely slower than fp32; " +
                option_ref("run", "precision") + " auto picks fp32 here";
  return c;
}

void set_network_precision(Precision p, c10::DeviceType device) {
  t_precision = p;
  t_device = device;
}

Precision network_precision() { return t_precision; }

c10::optional<c10::MemoryFormat>& forced_format() {
  static c10::optional<c10::MemoryFormat> forced;
  return forced;
}

void force_network_memory_format(c10::optional<c10::MemoryFormat> format) {
  forced_format() = format;
}

c10::MemoryFormat network_memory_format(const Bf16Support& support) {
  if (forced_format()) return *forced_format();
  const bool nhwc =
      t_precision == Precision::bf16 && t_device == c10::DeviceType::CPU && support.cpu_amx;
  return nhwc ? c10::MemoryFormat::ChannelsLast : c10::MemoryFormat::Contiguous;
}

c10::MemoryFormat network_memory_format() { return network_memory_format(detect_bf16_support()); }

NetworkPrecisionScope::NetworkPrecisionScope(Precision p, c10::DeviceType device)
    : previous_(t_precision), device_(t_device) {
  set_network_precision(p, device);
}

NetworkPrecisionScope::~NetworkPrecisionScope() { set_network_precision(previous_, device_); }

at::Tensor to_network_dtype(const at::Tensor& x) {
  return t_precision == Precision::bf16 ? x.to(c10::ScalarType::BFloat16) : x;
}

AutocastSwitch::AutocastSwitch(bool enable) {
  if (t_precision != Precision::bf16) return;
  active_ = true;
  device_ = t_device;
  was_enabled_ = autocast_enabled(device_);
  was_dtype_ = autocast_dtype(device_);
  set_autocast(device_, enable, c10::ScalarType::BFloat16);
}

AutocastSwitch::~AutocastSwitch() {
  if (active_) set_autocast(device_, was_enabled_, was_dtype_);
}

NetworkAutocast::NetworkAutocast() : AutocastSwitch(true) {
  if (active_) at::autocast::increment_nesting();
}

NetworkAutocast::~NetworkAutocast() {
  if (active_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace deepgen
