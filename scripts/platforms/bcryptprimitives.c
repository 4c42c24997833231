/* Stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian bookworm) lacks. Rust's
 * std imports ProcessPrng from it; this forwards to BCryptGenRandom, which Wine has.
 * Used only by scripts/check-platforms, beside test executables run under Wine. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000u ? 0x10000000u : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
