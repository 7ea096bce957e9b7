// Sanitizer defaults built into every executable of the sanitizer build (fuzz targets and the
// unit tests run under label `sanitize`), so they hold however the binary is started: by ctest,
// by gtest discovery at build time, or by hand. ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS
// still override them.
extern "C" const char* __asan_default_options() {
  return "abort_on_error=1:strict_string_checks=1:check_initialization_order=1";
}

extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

// Leaks are checked in our code only: the system's uninstrumented LibTorch leaks on its own
// error paths (PyTorchStreamReader keeps miniz's state when a zip fails to open: 64 KiB per
// damaged checkpoint) and keeps process-lifetime allocations.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libtorch_cpu.so\n"
         "leak:libtorch.so\n"
         "leak:libc10.so\n"
         "leak:libgomp.so\n"
         "leak:libopenblas\n";
}
