# ctest driver (cmake -P): the release library as a user gets it. Runs the README's
# commands (configure Release, build, install into a prefix) on this source tree, then
# checks the installed shared library: highest GLIBC_ version needed <= FLOOR, every export
# versioned OV_TELEMETRY_1.0, SONAME, NODELETE; checks the installed static library's
# globals; and links and runs a small C program against the installed shared library.
# The build directory is kept between runs (cargo's release build is incremental).
#
# -D SOURCE_DIR WORK_DIR GENERATOR C_COMPILER CXX_COMPILER ZIG NM READELF SONAME FLOOR
#    EXPECTED_VERSION CHECKS_DIR SMOKE_SOURCE
cmake_minimum_required(VERSION 3.21)

foreach(var SOURCE_DIR WORK_DIR GENERATOR ZIG NM READELF SONAME FLOOR EXPECTED_VERSION CHECKS_DIR SMOKE_SOURCE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_release_install.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "FAILED (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(build "${WORK_DIR}/build")
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${prefix}")

# The README's commands (the zig the main build found is reused: no second download).
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DOPENVINO_TELEMETRY_ZIG=${ZIG}"
    -DOPENVINO_TELEMETRY_BUILD_TESTS=OFF -DOPENVINO_TELEMETRY_BUILD_EXAMPLES=OFF)
run("${CMAKE_COMMAND}" --build "${build}")
run("${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")

file(GLOB shared "${prefix}/lib*/libopenvino_telemetry.so.${EXPECTED_VERSION}"
                 "${prefix}/lib/*/libopenvino_telemetry.so.${EXPECTED_VERSION}")
file(GLOB static "${prefix}/lib*/libopenvino_telemetry.a" "${prefix}/lib/*/libopenvino_telemetry.a")
if(NOT shared OR NOT static)
  message(FATAL_ERROR "the install lacks the libraries: shared '${shared}', static '${static}'")
endif()
get_filename_component(libdir "${shared}" DIRECTORY)

run("${CMAKE_COMMAND}" "-DLIB=${shared}" "-DREADELF=${READELF}" "-DFLOOR=${FLOOR}"
    -P "${CHECKS_DIR}/check_glibc_floor.cmake")
message(STATUS "release: ${run_output}")
run("${CMAKE_COMMAND}" "-DLIB=${shared}" "-DNM=${NM}" "-DREADELF=${READELF}" "-DSONAME=${SONAME}"
    -P "${CHECKS_DIR}/check_exports.cmake")
run("${CMAKE_COMMAND}" "-DLIB=${static}" "-DREADELF=${READELF}"
    -P "${CHECKS_DIR}/check_static_symbols.cmake")

# It loads and runs: a C program linked against the installed shared library.
set(exe "${WORK_DIR}/smoke")
run("${C_COMPILER}" -std=c11 "-I${prefix}/include" "${SMOKE_SOURCE}" -o "${exe}"
    "-L${libdir}" -lopenvino_telemetry "-Wl,-rpath,${libdir}")
run("${exe}")
if(NOT run_output MATCHES "openvino_telemetry ${EXPECTED_VERSION}")
  message(FATAL_ERROR "the smoke program printed: ${run_output}")
endif()
message(STATUS "the installed release library loads and runs: ${run_output}")
