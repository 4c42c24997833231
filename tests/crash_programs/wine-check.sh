#!/usr/bin/env bash
# Manual check of the Windows crash filter under Wine (not part of scripts/test yet: the
# Wine test infrastructure is separate work). Needs wine, x86_64-w64-mingw32-gcc, python3
# and the Rust target x86_64-pc-windows-gnu.
#
# Wine 8 (Debian 12) has no bcryptprimitives.dll, which Rust's std imports (ProcessPrng);
# a one-function shim built here stands in for it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
cargo build --lib --target x86_64-pc-windows-gnu --target-dir build/test/cargo
w=$root/build/test/cargo/x86_64-pc-windows-gnu/debug
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$w/openvino_telemetry.dll" "$work/"
cat >"$work/bcp.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
C
x86_64-w64-mingw32-gcc -shared -o "$work/bcryptprimitives.dll" "$work/bcp.c" -ladvapi32
x86_64-w64-mingw32-gcc -g -O0 -I include tests/crash_programs/crasher_win.c \
  -o "$work/crasher.exe" -L "$w" -lopenvino_telemetry
mkdir "$work/cfg"
printf 1 >"$work/cfg/openvino_telemetry"
export WINEDEBUG=-all WINEPREFIX=$work/prefix
cfg="Z:${work//\//\\}\\cfg"
(cd "$work" && wine crasher.exe segv "$cfg" >/dev/null 2>&1) || true
echo "== record"
cat "$work"/cfg/openvino_telemetry_crash.*.rec
top=$(sed -n 's/^frame crasher.exe+\(0x[0-9a-f]*\).*/\1/p' "$work"/cfg/openvino_telemetry_crash.*.rec | head -1)
echo "== top crasher.exe frame $top:"
x86_64-w64-mingw32-addr2line -f -e "$work/crasher.exe" "$(printf '0x%x' $((0x140000000 + top)))"
