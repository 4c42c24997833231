# ctest driver (cmake -P): the static library defines no global symbol but ov_telemetry_*
# (Rust's std, ring and compiler-builtins are local to its one object), so nothing in it can
# clash with a symbol of the program it is linked into; and every function is there.
#
# -D LIB=<static library>  READELF=<readelf>
cmake_minimum_required(VERSION 3.21)

execute_process(COMMAND "${READELF}" -s --wide "${LIB}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf failed: ${err}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(exported "")
set(foreign "")
foreach(line IN LISTS lines)
  # Num: Value Size Type Bind Vis Ndx Name
  if(line MATCHES "^ *[0-9]+: +[0-9a-fA-F]+ +[0-9]+ +[A-Z_]+ +(GLOBAL|WEAK|GNU_UNIQUE) +[A-Z]+ +([A-Z]+|[0-9]+) +([^ ]+)")
    set(ndx "${CMAKE_MATCH_2}")
    set(name "${CMAKE_MATCH_3}")
    if(ndx STREQUAL "UND")
      continue()
    endif()
    if(name MATCHES "^ov_telemetry_")
      list(APPEND exported "${name}")
    else()
      list(APPEND foreign "${CMAKE_MATCH_1} ${name}")
    endif()
  endif()
endforeach()
list(LENGTH exported n)
list(LENGTH foreign n_foreign)
if(foreign)
  list(SUBLIST foreign 0 40 first)
  list(JOIN first "\n  " text)
  message(FATAL_ERROR "${n_foreign} global symbols without the ov_telemetry_ prefix, e.g.:\n  ${text}")
endif()
if(NOT "ov_telemetry_get_api" IN_LIST exported OR NOT "ov_telemetry_version_number" IN_LIST exported)
  message(FATAL_ERROR "ov_telemetry_get_api or ov_telemetry_version_number missing; found: ${exported}")
endif()
message(STATUS "${n} global symbols, all ov_telemetry_*")
