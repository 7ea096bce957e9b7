# ctest consumer.find_package: install deepgen to a prefix under BINARY_DIR, then configure, build
# and run tests/consumer against it with find_package(deepgen).
# cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DGENERATOR=... -P run_consumer.cmake
foreach(var SOURCE_DIR BINARY_DIR GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake needs -D${var}=...")
  endif()
endforeach()

set(work "${BINARY_DIR}/consumer-test")
set(prefix "${work}/prefix")
set(build "${work}/build")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

# Same compiler (and launcher, e.g. ccache) as the deepgen build, so the C++ ABI matches.
load_cache("${BINARY_DIR}" READ_WITH_PREFIX parent_ CMAKE_CXX_COMPILER CMAKE_CXX_COMPILER_LAUNCHER)
set(compiler_args)
if(parent_CMAKE_CXX_COMPILER)
  list(APPEND compiler_args "-DCMAKE_CXX_COMPILER=${parent_CMAKE_CXX_COMPILER}")
endif()
if(parent_CMAKE_CXX_COMPILER_LAUNCHER)
  list(APPEND compiler_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${parent_CMAKE_CXX_COMPILER_LAUNCHER}")
endif()

function(step name)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "consumer: ${name} failed (${rc})\ncommand: ${ARGN}\n"
                        "--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  message(STATUS "consumer: ${name}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step(install "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${prefix}")
step(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer" -B "${build}"
  -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${compiler_args})

# The package must come from the install prefix, not from the build or source tree.
load_cache("${build}" READ_WITH_PREFIX consumer_ deepgen_DIR)
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${consumer_deepgen_DIR}" real_deepgen_dir)
string(FIND "${real_deepgen_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "consumer: find_package(deepgen) used ${consumer_deepgen_DIR}, "
                      "not the install prefix ${prefix}")
endif()

step(build "${CMAKE_COMMAND}" --build "${build}")
step(run "${build}/consumer" "${work}/run")
message(STATUS "${step_output}")
