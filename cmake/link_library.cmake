# Build step (cmake -P), run after cargo: makes the two libraries CMake installs from
# cargo's static library, only when that library is newer than them.
#
# Shared: the static library linked whole into libopenvino_telemetry.so with the version
#   script (every export in node OV_TELEMETRY_1.0, nothing else exported), the SONAME and
#   -z nodelete. rustc's own cdylib link cannot do this: its version script wins over one
#   passed with -C link-arg. With ZIG set, the link is `zig cc -target <arch>-linux-gnu.2.28`
#   against glibc 2.28's symbol versions (and zig's libunwind instead of libgcc_s), so the
#   library loads on glibc 2.28 and newer; without it, the system C compiler links it (the
#   library then needs the build machine's glibc).
# Static: the archive's objects merged into one (ld -r) in which only ov_telemetry_* stay
#   global; std, ring and compiler-builtins symbols become local, so they cannot clash
#   with another Rust static library or anything else in the program.
#
# -D STATIC_IN=<cargo's .a>  SHARED_OUT=<.so>  STATIC_OUT=<.a>  SONAME=<soname>
#    VERSION_SCRIPT=<map>  STRIP_DEBUG=ON|OFF  LD=<ld> OBJCOPY=<objcopy> AR=<ar>
#    and either ZIG=<zig> ZIG_TARGET=<arch-linux-gnu.2.28> ZIG_CACHE=<dir>, or CC=<cc>
cmake_minimum_required(VERSION 3.21)

foreach(var STATIC_IN SHARED_OUT STATIC_OUT SONAME VERSION_SCRIPT LD OBJCOPY AR)
  if(NOT ${var})
    message(FATAL_ERROR "link_library.cmake: ${var} is not set")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}${err}")
  endif()
endfunction()

function(stale output)
  set(is_stale FALSE)
  foreach(input IN ITEMS "${STATIC_IN}" "${VERSION_SCRIPT}" "${CMAKE_CURRENT_LIST_FILE}")
    if(NOT EXISTS "${output}" OR "${input}" IS_NEWER_THAN "${output}")
      set(is_stale TRUE)
    endif()
  endforeach()
  set(is_stale ${is_stale} PARENT_SCOPE)
endfunction()

# The settings are part of what the shared library was built from: a change relinks it.
set(settings "ZIG=${ZIG} ZIG_TARGET=${ZIG_TARGET} CC=${CC} STRIP_DEBUG=${STRIP_DEBUG}")
set(settings_file "${SHARED_OUT}.settings")
set(old_settings "")
if(EXISTS "${settings_file}")
  file(READ "${settings_file}" old_settings)
endif()

stale("${SHARED_OUT}")
if(is_stale OR NOT old_settings STREQUAL settings)
  set(flags -shared -o "${SHARED_OUT}.tmp"
      -Wl,--whole-archive "${STATIC_IN}" -Wl,--no-whole-archive
      "-Wl,--version-script=${VERSION_SCRIPT}" "-Wl,-soname,${SONAME}"
      -Wl,-z,nodelete -Wl,-z,defs -Wl,--gc-sections)
  if(STRIP_DEBUG)
    list(APPEND flags -Wl,--strip-debug)
  endif()
  if(ZIG)
    run("${CMAKE_COMMAND}" -E env "ZIG_GLOBAL_CACHE_DIR=${ZIG_CACHE}" "ZIG_LOCAL_CACHE_DIR=${ZIG_CACHE}"
        "${ZIG}" cc -target "${ZIG_TARGET}" ${flags} -lunwind -lpthread -ldl -lm -lrt -lutil -lc)
  else()
    run("${CC}" ${flags} -lgcc_s -lpthread -ldl -lm -lrt -lutil -lc)
  endif()
  file(RENAME "${SHARED_OUT}.tmp" "${SHARED_OUT}")
  file(WRITE "${settings_file}" "${settings}")
endif()

stale("${STATIC_OUT}")
if(is_stale OR NOT old_settings STREQUAL settings)
  set(obj "${STATIC_OUT}.o")
  run("${LD}" -r --whole-archive "${STATIC_IN}" -o "${obj}.all")
  set(objcopy_flags --wildcard "--keep-global-symbol=ov_telemetry_*"
      # Bitcode rustc embeds for LTO: useless here, and binutils' LLVM plugin (installed
      # with clang) aborts on bitcode from a newer LLVM when indexing the archive.
      --remove-section=.llvmbc --remove-section=.llvmcmd)
  if(STRIP_DEBUG)
    list(APPEND objcopy_flags --strip-debug)
  endif()
  run("${OBJCOPY}" ${objcopy_flags} "${obj}.all" "${obj}")
  file(REMOVE "${obj}.all" "${STATIC_OUT}.tmp")
  run("${AR}" qcs "${STATIC_OUT}.tmp" "${obj}")
  file(REMOVE "${obj}")
  file(RENAME "${STATIC_OUT}.tmp" "${STATIC_OUT}")
endif()
