# ctest driver (cmake -P): the highest GLIBC_ symbol version the shared library needs is at
# most FLOOR (so it loads on glibc FLOOR and newer), it needs no GLIBC_PRIVATE symbol, and
# it depends on no shared library but glibc's own (and libgcc_s).
#
# -D LIB=<shared library>  READELF=<readelf>  FLOOR=<e.g. 2.28>
cmake_minimum_required(VERSION 3.21)

execute_process(COMMAND "${READELF}" -V -d --wide "${LIB}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf failed: ${err}")
endif()

string(REGEX MATCHALL "Name: GLIBC_[0-9.]+" needs "${out}")
if(NOT needs)
  message(FATAL_ERROR "no GLIBC_ version needs found in ${LIB}:\n${out}")
endif()
set(highest 0)
foreach(need IN LISTS needs)
  string(REPLACE "Name: GLIBC_" "" v "${need}")
  if(v VERSION_GREATER highest)
    set(highest "${v}")
  endif()
endforeach()
if(out MATCHES "GLIBC_PRIVATE")
  message(FATAL_ERROR "${LIB} needs GLIBC_PRIVATE symbols")
endif()

string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]+\\]" needed_lines "${out}")
set(needed "")
foreach(line IN LISTS needed_lines)
  string(REGEX REPLACE ".*\\[(.+)\\]" "\\1" lib "${line}")
  list(APPEND needed "${lib}")
  if(NOT lib MATCHES "^(libc\\.so\\.6|libpthread\\.so\\.0|libdl\\.so\\.2|libm\\.so\\.6|librt\\.so\\.1|libutil\\.so\\.1|libgcc_s\\.so\\.1|ld-linux[-a-z0-9_]*\\.so\\.[0-9]+)$")
    message(FATAL_ERROR "${LIB} needs ${lib}, which is not part of glibc")
  endif()
endforeach()

message(STATUS "highest GLIBC_ version needed: ${highest} (floor ${FLOOR}); needs: ${needed}")
if(highest VERSION_GREATER FLOOR)
  string(REGEX MATCHALL "[^\n]*GLIBC_${highest}[^\n]*" lines "${out}")
  list(JOIN lines "\n" text)
  message(FATAL_ERROR "${LIB} needs GLIBC_${highest}, above the floor ${FLOOR}:\n${text}")
endif()
