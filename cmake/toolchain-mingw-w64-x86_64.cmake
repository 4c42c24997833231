# Cross-compiling to 64-bit Windows with mingw-w64 (Debian: gcc-mingw-w64-x86-64,
# g++-mingw-w64-x86-64). The Rust side follows: CMakeLists.txt builds the crate for
# x86_64-pc-windows-gnu (OVT_RUST_TARGET) when this toolchain is used.
#   cmake -S . -B build/win -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64-x86_64.cmake
# Programs built this way run on Windows, or under Wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(_ovt_mingw x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_ovt_mingw}-gcc)
set(CMAKE_CXX_COMPILER ${_ovt_mingw}-g++)
set(CMAKE_RC_COMPILER ${_ovt_mingw}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${_ovt_mingw})
# Programs (cargo, wine) from the host; libraries, headers and packages from the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
