/* The Windows crasher (mingw): `crasher_win segv DIR` writes through a null pointer with
 * crash reports on; `crasher_win run DIR` delivers waiting records and exits 0.
 * Run by hand under Wine (see tests/crash_programs/wine-check.sh); the automated Wine
 * test comes with the Wine test infrastructure. */
#include <string.h>

#include "crasher_common.h"

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    ov_telemetry_t* t = crasher_init(argv[2]);
    if (strcmp(argv[1], "run") == 0) {
        return crasher_run(t);
    }
    crash_null_write();
    return 3;
}
