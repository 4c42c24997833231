/* A stand-in library for the function-table evolution tests (test_table_evolution.cpp):
 * it exports ov_telemetry_get_api() returning the real library's table (dlopen()ed from
 * OVT_LIB_PATH) reshaped as another version of the library would ship it:
 *
 *   OVT_STANDIN_NEWER  a newer library: every field of this header, then slots this header
 *                      does not know, struct_size covering them; version 1.9.0.
 *   OVT_STANDIN_OLDER  an older library: the 1.0 table only (up to `version`), in a block
 *                      of exactly that size, so a read past struct_size is out of bounds
 *                      (AddressSanitizer reports it under scripts/sanitize); version 1.0.0.
 *
 * Every other slot is the real library's function, so calls through the table work. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "openvino_telemetry.h"

#ifndef OVT_LIB_PATH
#error "OVT_LIB_PATH must name the real library"
#endif
#if defined(OVT_STANDIN_NEWER) == defined(OVT_STANDIN_OLDER)
#error "define exactly one of OVT_STANDIN_NEWER and OVT_STANDIN_OLDER"
#endif

static ov_telemetry_get_api_fn standin_real_get_api(void) {
    void *lib = dlopen(OVT_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
    void *sym = lib != NULL ? dlsym(lib, "ov_telemetry_get_api") : NULL;
    ov_telemetry_get_api_fn get_api = NULL;
    if (sym != NULL) {
        memcpy(&get_api, &sym, sizeof get_api);
    }
    return get_api;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const ov_telemetry_api_t *table = NULL;

#ifdef OVT_STANDIN_NEWER
static const char *newer_version(void) { return "1.9.0"; }
static uint32_t newer_version_number(void) { return OV_TELEMETRY_MAKE_VERSION(1, 9, 0); }
static uint32_t future_function(void) { return 42u; }

/* This header's table, then three slots a caller built with this header cannot name. */
static struct {
    ov_telemetry_api_t known;
    uint32_t (*future[3])(void);
} newer;

static void build(void) {
    ov_telemetry_get_api_fn get_api = standin_real_get_api();
    const ov_telemetry_api_t *real = get_api != NULL ? get_api(OV_TELEMETRY_ABI_VERSION) : NULL;
    if (real == NULL || real->struct_size < sizeof(ov_telemetry_api_t)) {
        return;
    }
    memcpy(&newer.known, real, sizeof newer.known);
    newer.known.struct_size = (uint32_t)sizeof newer;
    newer.known.version = newer_version;
    newer.known.version_number = newer_version_number;
    for (size_t i = 0; i < sizeof newer.future / sizeof newer.future[0]; ++i) {
        newer.future[i] = future_function;
    }
    table = &newer.known;
}
#else
static const char *older_version(void) { return "1.0.0"; }

/* The 1.0 table ends with `version`. */
#define OLDER_SIZE (offsetof(ov_telemetry_api_t, version) + sizeof(((ov_telemetry_api_t *)0)->version))

static void build(void) {
    ov_telemetry_get_api_fn get_api = standin_real_get_api();
    const ov_telemetry_api_t *real = get_api != NULL ? get_api(OV_TELEMETRY_ABI_VERSION) : NULL;
    if (real == NULL || real->struct_size < OLDER_SIZE) {
        return;
    }
    ov_telemetry_api_t *older = (ov_telemetry_api_t *)malloc(OLDER_SIZE);
    if (older == NULL) {
        return;
    }
    memcpy(older, real, OLDER_SIZE);
    older->struct_size = (uint32_t)OLDER_SIZE;
    older->version = older_version;
    table = older;
}
#endif

const ov_telemetry_api_t *ov_telemetry_get_api(uint32_t abi_version) {
    pthread_once(&once, build);
    return abi_version == OV_TELEMETRY_ABI_VERSION ? table : NULL;
}
