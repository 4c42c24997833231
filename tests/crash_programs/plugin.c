/* A shared library the crasher loads after init (tests/crash.rs): its frames must be
 * named although it was not loaded when the handlers were installed. */
__attribute__((noinline)) void plugin_crash(void) {
    volatile int* volatile p = 0;
    *p = 7;
}
