# DEEPGEN_SANITIZE: the whole configure compiled by clang with AddressSanitizer and
# UndefinedBehaviorSanitizer (any UB report aborts), plus libFuzzer's coverage instrumentation, so
# the parsers of outside bytes can be fuzzed (tests/fuzz) and the unit tests run under the
# sanitizers. scripts/fuzz.sh configures build-san/ with it and builds only what that needs.
# LibTorch, zlib and stb stay the system's uninstrumented (gcc-built) libraries.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "DEEPGEN_SANITIZE needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++ in a build folder of its own (build-san)")
endif()
# -O1: fast enough to fuzz, quick to compile; line tables for symbolized stacks, no full -g
# (the precompiled <torch/torch.h> would grow several-fold). Appended after the build type's
# flags, so -O1 wins over Release's -O3.
add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                    -fsanitize=fuzzer-no-link -fno-omit-frame-pointer -O1 -gline-tables-only)
add_link_options(-fsanitize=address,undefined)
