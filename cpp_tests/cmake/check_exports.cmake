# ctest driver (cmake -P): the shared library exports only ov_telemetry_* symbols, each
# with the ELF symbol version OV_TELEMETRY_1.0, has the expected SONAME and is marked
# NODELETE.
#
# -D LIB=<shared library>  NM=<nm>  READELF=<readelf>  SONAME=<expected soname>
cmake_minimum_required(VERSION 3.21)

execute_process(COMMAND "${NM}" -D --defined-only "${LIB}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed: ${err}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(exported "")
set(foreign "")
set(unversioned "")
set(version_nodes "")
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) (.+)$")
    set(type "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    set(version "")
    if(name MATCHES "@@?(.+)$")
      set(version "${CMAKE_MATCH_1}")
    endif()
    string(REGEX REPLACE "@.*$" "" name "${name}")
    # Type A with a version-node name is a symbol-version definition, not an export.
    if(type STREQUAL "A")
      continue()
    endif()
    if(name MATCHES "^ov_telemetry_")
      list(APPEND exported "${name}")
      if(NOT version STREQUAL "OV_TELEMETRY_1.0")
        list(APPEND unversioned "${name}@${version}")
      endif()
    else()
      list(APPEND foreign "${type} ${name}")
    endif()
  endif()
endforeach()
list(LENGTH exported n)
set(expected
  options_create options_set_app options_set_measurement_id options_set_api_secret
  options_set_consent_dialog options_set_disable_in_ci options_set_endpoint
  options_set_config_dir options_set_queue_capacity options_free init init_simple
  is_enabled send_event send_error send_stack_trace start_session end_session flush
  shutdown free get_consent set_consent status_message last_error version get_api
  options_set_crash_reports crash_set_exception get_counters
  version_number)
set(missing "")
foreach(fn IN LISTS expected)
  if(NOT "ov_telemetry_${fn}" IN_LIST exported)
    list(APPEND missing "ov_telemetry_${fn}")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "not exported: ${missing}")
endif()
if(foreign)
  list(JOIN foreign "\n  " foreign_text)
  message(FATAL_ERROR "exported symbols without the ov_telemetry_ prefix:\n  ${foreign_text}")
endif()
if(unversioned)
  message(FATAL_ERROR "exports without the symbol version OV_TELEMETRY_1.0: ${unversioned}")
endif()
# The version nodes the library defines (besides the BASE entry, its SONAME).
execute_process(COMMAND "${READELF}" -V --wide "${LIB}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE versions ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -V failed: ${err}")
endif()
string(REGEX MATCHALL "Flags: none +Index: [0-9]+ +Cnt: [0-9]+ +Name: [^ \n]+" defs "${versions}")
foreach(def IN LISTS defs)
  string(REGEX REPLACE ".*Name: " "" node "${def}")
  list(APPEND version_nodes "${node}")
endforeach()
if(NOT version_nodes STREQUAL "OV_TELEMETRY_1.0")
  message(FATAL_ERROR "version nodes defined: '${version_nodes}', expected OV_TELEMETRY_1.0 only")
endif()
message(STATUS "${n} exported symbols, all ov_telemetry_*@@OV_TELEMETRY_1.0")

execute_process(COMMAND "${READELF}" -d "${LIB}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE dyn ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf failed: ${err}")
endif()
string(REPLACE "." "\\." soname_re "${SONAME}")
if(NOT dyn MATCHES "\\(SONAME\\)[^\n]*\\[${soname_re}\\]")
  message(FATAL_ERROR "SONAME is not ${SONAME}:\n${dyn}")
endif()
if(NOT dyn MATCHES "\\(FLAGS_1\\)[^\n]*NODELETE")
  message(FATAL_ERROR "FLAGS_1 lacks NODELETE (link with -z nodelete):\n${dyn}")
endif()
message(STATUS "SONAME ${SONAME}, FLAGS_1 NODELETE")
