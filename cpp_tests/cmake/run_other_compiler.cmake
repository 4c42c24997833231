# ctest driver (cmake -P): builds cpp_tests/compilers (the wrapper suites as C++17 and C++20)
# with the compiler the main build does not use, and runs them.
#
# -D MAIN_COMPILER_ID=GNU|Clang  SOURCE_DIR  WORK_DIR  GENERATOR  LIB  LOOPBACK_LIB  BUILD_TYPE
cmake_minimum_required(VERSION 3.21)

if(MAIN_COMPILER_ID STREQUAL "GNU")
  find_program(other NAMES clang++)
  find_program(other_c NAMES clang)
  set(wanted "clang and clang++ (Debian package clang; scripts/ensure-deps installs it)")
else()
  find_program(other NAMES g++)
  find_program(other_c NAMES gcc)
  set(wanted "gcc and g++")
endif()
if(NOT other OR NOT other_c)
  message(FATAL_ERROR "the other compiler is missing: ${wanted}")
endif()
message(STATUS "other compiler: ${other}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "FAILED (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

set(build "${WORK_DIR}/build")
set(args -S "${SOURCE_DIR}/cpp_tests/compilers" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${other}" "-DCMAKE_C_COMPILER=${other_c}" "-DOVT_SOURCE_DIR=${SOURCE_DIR}"
    "-DOVT_LIB=${LIB}" "-DOVT_LOOPBACK_LIB=${LOOPBACK_LIB}")
if(BUILD_TYPE)
  list(APPEND args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
run("${CMAKE_COMMAND}" ${args})
run("${CMAKE_COMMAND}" --build "${build}" -j 2)
run("${CMAKE_CTEST_COMMAND}" --test-dir "${build}" --output-on-failure)
