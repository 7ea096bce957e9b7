#include "deepgen/core/runtime.h"

#include <dlfcn.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <ATen/Version.h>

#include <fstream>
#include <thread>

#include "deepgen/core/error.h"

namespace deepgen {

bool cuda_available() { return torch::cuda::is_available(); }

c10::Device resolve_device(const std::string& name, int local_rank) {
  const auto gpu = static_cast<c10::DeviceIndex>(local_rank);
  if (name == "auto")
    return cuda_available() ? c10::Device(c10::kCUDA, gpu) : c10::Device(c10::kCPU);
  c10::Device device(c10::kCPU);
  try {
    device = name == "cuda" ? c10::Device(c10::kCUDA, gpu) : c10::Device(name);
  } catch (const std::exception&) {
    throw Error("unknown device '" + name + "': use cpu, cuda, cuda:N or auto");
  }
  if (device.is_cuda() && !cuda_available())
    throw Error("device '" + name +
                "' requested but this build of LibTorch has no usable CUDA: use " +
                option_ref("run", "device") + " cpu");
  if (!device.is_cpu() && !device.is_cuda())
    throw Error("unsupported device '" + name + "': use cpu, cuda, cuda:N or auto");
  return device;
}

namespace {

// OpenBLAS keeps its own thread pool beside OpenMP's; both busy on the same cores oversubscribe
// them (measured 2.3x slower than one thread on 2 cores). Its controls are looked up at run
// time because LibTorch may be linked against another BLAS.
using SetThreads = void (*)(int);
using GetThreads = int (*)();

SetThreads blas_setter() {
  return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}
GetThreads blas_getter() {
  return reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
}

int physical_cores() {
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// The value after `key` on its line of `text`, or "unknown".
std::string field(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return "unknown";
  const size_t begin = at + key.size(), end = text.find('\n', begin);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return field(line, ": ");
  return "unknown";
}

// oneDNN and OpenBLAS are looked up at run time, as the BLAS thread controls are: LibTorch may
// be built without them.
std::string onednn_isa() {
  using Isa = int (*)();
  using IsaName = const char* (*)(int);
  auto isa = reinterpret_cast<Isa>(dlsym(RTLD_DEFAULT, "dnnl_get_effective_cpu_isa"));
  auto name = reinterpret_cast<IsaName>(dlsym(RTLD_DEFAULT, "dnnl_cpu_isa2str"));
  if (!isa) return "unknown";
  if (!name) return std::to_string(isa());
  const std::string n = name(isa());
  return n.rfind("cpu_isa_", 0) == 0 ? n.substr(8) : n;
}

std::string openblas_core() {
  using CoreName = const char* (*)();
  auto core = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return core ? core() : "unknown";
}

}  // namespace

std::string cpu_kernels() {
  return cpu_model() + "; aten " + field(at::show_config(), "CPU capability usage: ") +
         "; onednn " + onednn_isa() + "; openblas " + openblas_core();
}

int blas_threads() {
  GetThreads get = blas_getter();
  return get ? get() : -1;
}

ThreadSettings default_thread_settings(int processes) {
  ThreadSettings s;
  s.intra_op = std::max(1, physical_cores() / std::max(1, processes));
  s.blas = 1;
  return s;
}

void apply_thread_settings(const ThreadSettings& s) {
  at::set_num_threads(s.intra_op);
  if (SetThreads set = blas_setter()) set(s.blas);
}

ThreadSettings apply_threads(int threads, int blas_threads, int processes) {
  ThreadSettings s = default_thread_settings(processes);
  const int cores = physical_cores();
  auto take = [&](int asked, int& pool, const char* name) {
    if (asked <= 0) return;
    pool = std::min(asked, cores);
    if (asked > cores)
      s.warning += std::string(s.warning.empty() ? "" : "; ") + name + " " + std::to_string(asked) +
                   " is more than this machine's " + std::to_string(cores) +
                   " hardware threads: using " + std::to_string(cores);
  };
  take(threads, s.intra_op, "--threads");
  take(blas_threads, s.blas, "--blas-threads");
  apply_thread_settings(s);
  return s;
}

void tune_allocator() {
#ifdef __GLIBC__
  // 32 MiB is glibc's largest mmap threshold on 64-bit; a trim threshold of 512 MiB keeps the
  // heap's top from being returned (and faulted in again) between steps.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace deepgen
