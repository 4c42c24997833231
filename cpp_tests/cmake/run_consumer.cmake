# ctest driver (cmake -P): installs the main build into a fresh prefix, checks the layout,
# builds and runs the consumer project against it with find_package, and asks pkg-config.
#
# -D MAIN_BUILD_DIR, CONSUMER_SOURCE_DIR, WORK_DIR, GENERATOR, C_COMPILER, CXX_COMPILER,
#    BUILD_TYPE, PKG_CONFIG, EXPECTED_VERSION, EXPECTED_SONAME
cmake_minimum_required(VERSION 3.21)

foreach(var MAIN_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR PKG_CONFIG EXPECTED_VERSION EXPECTED_SONAME)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
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

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. install
run("${CMAKE_COMMAND}" --install "${MAIN_BUILD_DIR}" --prefix "${prefix}")

# 2. layout: libdir is lib/ or lib/<multiarch> depending on GNUInstallDirs
file(GLOB real_libs "${prefix}/lib*/libopenvino_telemetry.so.${EXPECTED_VERSION}"
                    "${prefix}/lib/*/libopenvino_telemetry.so.${EXPECTED_VERSION}")
list(LENGTH real_libs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one libopenvino_telemetry.so.${EXPECTED_VERSION} in ${prefix}, found: ${real_libs}")
endif()
get_filename_component(libdir "${real_libs}" DIRECTORY)
foreach(link_name "${EXPECTED_SONAME}" libopenvino_telemetry.so)
  if(NOT IS_SYMLINK "${libdir}/${link_name}")
    message(FATAL_ERROR "${libdir}/${link_name} is not a symlink")
  endif()
  file(REAL_PATH "${libdir}/${link_name}" target)
  file(REAL_PATH "${real_libs}" real)
  if(NOT target STREQUAL real)
    message(FATAL_ERROR "${link_name} points to ${target}, not ${real}")
  endif()
endforeach()
foreach(f "${libdir}/libopenvino_telemetry.a"
          "${prefix}/include/openvino_telemetry.h"
          "${prefix}/include/openvino_telemetry.hpp"
          "${prefix}/include/openvino_telemetry_dl.hpp"
          "${prefix}/bin/opt_in_out"
          "${libdir}/cmake/OpenVINOTelemetry/OpenVINOTelemetryConfig.cmake"
          "${libdir}/cmake/OpenVINOTelemetry/OpenVINOTelemetryConfigVersion.cmake"
          "${libdir}/pkgconfig/openvino_telemetry.pc")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

# 3. a downstream project finds the package in the prefix and nowhere else
set(configure_args -S "${CONSUMER_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
if(C_COMPILER)
  list(APPEND configure_args "-DCMAKE_C_COMPILER=${C_COMPILER}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
run("${CMAKE_COMMAND}" ${configure_args})
file(STRINGS "${build}/CMakeCache.txt" found_dir REGEX "^OpenVINOTelemetry_DIR:")
string(REGEX REPLACE "^[^=]*=" "" found_dir "${found_dir}")
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${prefix}" real_prefix)
string(FIND "${found_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "the package was found in ${found_dir}, not under ${prefix}")
endif()
run("${CMAKE_COMMAND}" --build "${build}")

foreach(exe consumer consumer_static consumer_dl)
  run("${build}/${exe}")
  string(STRIP "${run_output}" out)
  if(NOT out STREQUAL "openvino_telemetry ${EXPECTED_VERSION}")
    message(FATAL_ERROR "${exe} printed '${out}'")
  endif()
  message(STATUS "${exe}: ${out}")
endforeach()

# the imported opt_in_out target names the installed tool, and it runs
file(READ "${build}/opt_in_out_path.txt" opt_in_out)
file(REAL_PATH "${opt_in_out}" opt_in_out_real)
string(FIND "${opt_in_out_real}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "openvino::telemetry::opt_in_out is ${opt_in_out}, not under ${prefix}")
endif()
run("${opt_in_out}" --help)
if(NOT run_output MATCHES "usage: opt_in_out")
  message(FATAL_ERROR "opt_in_out --help printed: ${run_output}")
endif()
message(STATUS "openvino::telemetry::opt_in_out: ${opt_in_out}")

# an unknown component: configuring fails and the message names it
set(bad_args -S "${CONSUMER_SOURCE_DIR}/../consumer_bad_component" -B "${WORK_DIR}/bad_component"
    -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(CXX_COMPILER)
  list(APPEND bad_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" ${bad_args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "find_package(... COMPONENTS no_such_component) succeeded:\n${out}")
endif()
if(NOT "${out}${err}" MATCHES "has no component named no_such_component")
  message(FATAL_ERROR "the error does not name the unknown component:\n${out}\n${err}")
endif()
message(STATUS "unknown component: rejected by name")

# 4. pkg-config
set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")
unset(ENV{PKG_CONFIG_LIBDIR})
run("${PKG_CONFIG}" --modversion openvino_telemetry)
string(STRIP "${run_output}" modversion)
if(NOT modversion STREQUAL EXPECTED_VERSION)
  message(FATAL_ERROR "pkg-config --modversion says '${modversion}', expected ${EXPECTED_VERSION}")
endif()
run("${PKG_CONFIG}" --cflags-only-I openvino_telemetry)
string(STRIP "${run_output}" cflags)
string(REGEX REPLACE "^-I" "" incdir "${cflags}")
if(NOT EXISTS "${incdir}/openvino_telemetry.h")
  message(FATAL_ERROR "pkg-config --cflags gives '${cflags}': no openvino_telemetry.h there")
endif()
run("${PKG_CONFIG}" --libs-only-L openvino_telemetry)
string(STRIP "${run_output}" ldflags)
string(REGEX REPLACE "^-L" "" pc_libdir "${ldflags}")
if(NOT EXISTS "${pc_libdir}/libopenvino_telemetry.so")
  message(FATAL_ERROR "pkg-config --libs gives '${ldflags}': no libopenvino_telemetry.so there")
endif()
message(STATUS "pkg-config: openvino_telemetry ${modversion}, ${cflags} ${ldflags}")

# The README's pkg-config build line, rpath included: the program finds the library at run
# time without LD_LIBRARY_PATH.
if(CXX_COMPILER)
  run("${PKG_CONFIG}" --cflags openvino_telemetry)
  string(STRIP "${run_output}" pc_cflags)
  separate_arguments(pc_cflags UNIX_COMMAND "${pc_cflags}")
  run("${PKG_CONFIG}" --libs openvino_telemetry)
  string(STRIP "${run_output}" pc_libs)
  separate_arguments(pc_libs UNIX_COMMAND "${pc_libs}")
  run("${PKG_CONFIG}" --variable=libdir openvino_telemetry)
  string(STRIP "${run_output}" pc_rpath)
  run("${CXX_COMPILER}" -std=c++17 "${CONSUMER_SOURCE_DIR}/main.cpp" -o "${WORK_DIR}/consumer_pkg_config"
      ${pc_cflags} ${pc_libs} "-Wl,-rpath,${pc_rpath}")
  unset(ENV{LD_LIBRARY_PATH})
  run("${WORK_DIR}/consumer_pkg_config")
  string(STRIP "${run_output}" out)
  if(NOT out STREQUAL "openvino_telemetry ${EXPECTED_VERSION}")
    message(FATAL_ERROR "consumer_pkg_config printed '${out}'")
  endif()
  message(STATUS "pkg-config build with -Wl,-rpath,${pc_rpath}: ${out}")
endif()
