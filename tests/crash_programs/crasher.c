/* A program that crashes on purpose, for the crash-capture tests (tests/crash.rs).
 *
 *   crasher MODE CONFIG_DIR
 *
 * Initialises telemetry (app "crasher" 1.2.3, crash reports on, config dir CONFIG_DIR;
 * the endpoint comes from OPENVINO_TELEMETRY_ENDPOINT), prints "init <status>", then:
 *   run            flushes (delivering earlier crash records) and exits 0
 *   segv           writes through a null pointer              (crash_null_write)
 *   abort          calls abort()                              (crash_abort)
 *   fpe            divides an integer by zero                 (crash_divide)
 *   overflow       recurses until the main thread's stack overflows (crash_recurse)
 *   thread         writes through a null pointer on a worker thread
 *   two-threads    two worker threads write through a null pointer at the same moment
 *   host-before    installs its own SIGSEGV handler before init, then segv
 *   host-after     installs its own SIGSEGV handler after init, frees the handle, then segv
 *   after-free     frees the handle, then segv
 *   nested         installs a SIGSEGV handler before init that raises SIGILL (a fault
 *                  while the crash is being handled), then segv
 *   small-altstack sets an 8 KiB alternate signal stack before init, then segv
 *   ignored        ignores SIGSEGV before init, raises it (ignored: prints "still here"),
 *                  then segv (the kernel forces a fault through)
 *   longjmp        a host handler installed before init recovers from the first fault
 *                  with siglongjmp (prints "recovered"), then lets the second one kill
 *   dlopen PLUGIN  loads the shared library PLUGIN after init and calls its
 *                  plugin_crash(), which writes through a null pointer
 * The host handler prints "host handler <signal>", restores the default action and
 * returns, so the fault repeats and kills the process as usual.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crasher_common.h"

static volatile int zero = 0;

__attribute__((noinline)) void crash_abort(void) { abort(); }

__attribute__((noinline)) int crash_divide(int a) { return a / zero; }

__attribute__((noinline)) int crash_recurse(int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth >= 0) {
        return crash_recurse(depth + 1) + frame[0];
    }
    return frame[0];
}

static void* worker(void* arg) {
    (void)arg;
    crash_null_write();
    return NULL;
}

static pthread_barrier_t together;

static void* worker_together(void* arg) {
    (void)arg;
    pthread_barrier_wait(&together);
    crash_null_write();
    return NULL;
}

static void host_handler(int sig, siginfo_t* info, void* ctx) {
    (void)info;
    (void)ctx;
    static const char text[] = "host handler SIGSEGV\n";
    if (sig == SIGSEGV) {
        (void)!write(1, text, sizeof text - 1);
    }
    signal(sig, SIG_DFL);
}

static sigjmp_buf recover_point;
static volatile sig_atomic_t recoveries = 0;

static void longjmp_handler(int sig) {
    if (recoveries++ == 0) {
        siglongjmp(recover_point, 1);
    }
    signal(sig, SIG_DFL);
}

static void nested_handler(int sig) {
    (void)sig;
    raise(SIGILL);
}

static void install_host_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = host_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: crasher MODE CONFIG_DIR [PLUGIN]\n");
        return 2;
    }
    const char* mode = argv[1];
    if (strcmp(mode, "host-before") == 0) {
        install_host_handler();
    }
    if (strcmp(mode, "nested") == 0) {
        signal(SIGSEGV, nested_handler);
    }
    if (strcmp(mode, "ignored") == 0) {
        signal(SIGSEGV, SIG_IGN);
    }
    if (strcmp(mode, "longjmp") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = longjmp_handler;
        sa.sa_flags = SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
    }
    if (strcmp(mode, "small-altstack") == 0) {
        static char small[8192];
        stack_t ss;
        memset(&ss, 0, sizeof ss);
        ss.ss_sp = small;
        ss.ss_size = sizeof small;
        sigaltstack(&ss, NULL);
    }
    ov_telemetry_t* t = crasher_init(argv[2]);
    if (strcmp(mode, "run") == 0) {
        return crasher_run(t);
    }
    if (strcmp(mode, "segv") == 0 || strcmp(mode, "host-before") == 0 ||
        strcmp(mode, "nested") == 0 || strcmp(mode, "small-altstack") == 0) {
        crash_null_write();
    } else if (strcmp(mode, "abort") == 0) {
        crash_abort();
    } else if (strcmp(mode, "fpe") == 0) {
        printf("%d\n", crash_divide(7));
    } else if (strcmp(mode, "overflow") == 0) {
        printf("%d\n", crash_recurse(0));
    } else if (strcmp(mode, "thread") == 0) {
        pthread_t th;
        pthread_create(&th, NULL, worker, NULL);
        pthread_join(th, NULL);
    } else if (strcmp(mode, "ignored") == 0) {
        raise(SIGSEGV);
        printf("still here\n");
        fflush(stdout);
        crash_null_write();
    } else if (strcmp(mode, "longjmp") == 0) {
        if (sigsetjmp(recover_point, 1) == 0) {
            crash_null_write();
        }
        printf("recovered\n");
        fflush(stdout);
        crash_null_write();
    } else if (strcmp(mode, "two-threads") == 0) {
        pthread_t th[2];
        pthread_barrier_init(&together, NULL, 2);
        pthread_create(&th[0], NULL, worker_together, NULL);
        pthread_create(&th[1], NULL, worker_together, NULL);
        pthread_join(th[0], NULL);
        pthread_join(th[1], NULL);
    } else if (strcmp(mode, "host-after") == 0) {
        install_host_handler();
        ov_telemetry_free(t);
        crash_null_write();
    } else if (strcmp(mode, "dlopen") == 0 && argc == 4) {
        void* plugin = dlopen(argv[3], RTLD_NOW);
        if (plugin == NULL) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 4;
        }
        void (*plugin_crash)(void) = (void (*)(void))dlsym(plugin, "plugin_crash");
        if (plugin_crash != NULL) {
            plugin_crash();
        }
    } else if (strcmp(mode, "after-free") == 0) {
        ov_telemetry_free(t);
        crash_null_write();
    }
    fprintf(stderr, "unknown mode or no crash: %s\n", mode);
    return 3;
}
