# ctest driver (cmake -P): builds cpp_tests/compilers (the wrapper suites as C++17 and C++20)
# with the compiler the main build does not use, and runs them.
#
# -D MAIN_COMPILER_ID=GNU|Clang  SOURCE_DIR  WORK_DIR  GENERATOR  LIB  STANDIN_NO_GET_API
#    STANDIN_SHORT_TABLE  STANDIN_OLDER_TABLE  BUILD_TYPE
cmake_minimum_required(VERSION 3.21)

if(MAIN_COMPILER_ID STREQUAL "GNU")
  find_program(other NAMES clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14)
  set(wanted "clang++ (Debian package clang; scripts/ensure-deps installs it)")
else()
  find_program(other NAMES g++)
  set(wanted "g++")
endif()
if(NOT other)
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
    "-DCMAKE_CXX_COMPILER=${other}" "-DOVT_SOURCE_DIR=${SOURCE_DIR}" "-DOVT_LIB=${LIB}"
    "-DOVT_STANDIN_NO_GET_API=${STANDIN_NO_GET_API}" "-DOVT_STANDIN_SHORT_TABLE=${STANDIN_SHORT_TABLE}"
    "-DOVT_STANDIN_OLDER_TABLE=${STANDIN_OLDER_TABLE}")
if(BUILD_TYPE)
  list(APPEND args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
run("${CMAKE_COMMAND}" ${args})
run("${CMAKE_COMMAND}" --build "${build}" -j 2)
run("${CMAKE_CTEST_COMMAND}" --test-dir "${build}" --output-on-failure)
