#pragma once
// The one place that chooses the compute device and the thread counts.
#include <c10/core/Device.h>

#include <string>

namespace deepgen {

// "cpu", "cuda", "cuda:N" or "auto" (cuda when available, else cpu). Throws Error when the
// device is unknown or not available in this build.
// With several processes per host (data-parallel ranks), "cuda" and "auto" mean the GPU of this
// process's local rank.
c10::Device resolve_device(const std::string& name, int local_rank = 0);
bool cuda_available();

// threads <= 0 selects the measured default (see docs/architecture.md: one intra-op thread per
// physical core, OpenBLAS pinned to 1 thread so the two pools never oversubscribe).
struct ThreadSettings {
  int intra_op = 1;
  int blas = 1;
  std::string warning;  // apply_threads: what it clamped to the machine's cores, or empty
};
// processes: how many deepgen processes share this host's cores (data-parallel ranks); each
// then gets its share of the cores.
ThreadSettings default_thread_settings(int processes = 1);
// threads / blas_threads <= 0 keep the default of that pool; more than the machine's hardware
// threads are clamped to them (and `warning` says so): a pool of 100 000 threads is never
// spawned (the OS refuses them and pool creation deadlocks).
ThreadSettings apply_threads(int threads, int blas_threads = 0, int processes = 1);
void apply_thread_settings(const ThreadSettings& settings);
int blas_threads();  // -1 when the BLAS library exposes no thread control

// Keeps freed large blocks in the process heap (glibc's mallopt) so each training step reuses
// the previous step's temporaries instead of faulting in fresh zeroed pages: glibc hands blocks
// above its mmap threshold back to the kernel on free (measured: ~1,600 page faults per MNIST
// VAE step, 1.6x its step time). No-op on other C libraries. Call once, at start-up.
void tune_allocator();

// The CPU and the instruction sets LibTorch's float kernels run on here: ATen's vectorised ops,
// oneDNN's convolutions and OpenBLAS's matrix products each pick theirs at run time, e.g.
// "AMD EPYC; aten AVX2; onednn avx512_core_bf16; openblas Cooperlake". Float results can differ in
// their last bits between machines whose descriptions differ (other vector widths sum in another
// order); a part that cannot be queried reads "unknown".
std::string cpu_kernels();

}  // namespace deepgen
