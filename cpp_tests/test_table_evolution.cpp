// The function table across versions (issue 16): a caller built with this header uses a
// newer library (a table with slots it does not know) and an older one (a table that ends
// before the fields marked "Since"), deciding with OV_TELEMETRY_API_HAS() alone. The two
// libraries are stand-ins (standin/standin_table.c) that reshape the real library's table;
// every call below reaches the real library through them.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "openvino_telemetry.h"
#include "test_support.hpp"

#if !defined(OVT_LIB_PATH) || !defined(OVT_STANDIN_NEWER_PATH) || !defined(OVT_STANDIN_OLDER_PATH)
#error "OVT_LIB_PATH, OVT_STANDIN_NEWER_PATH and OVT_STANDIN_OLDER_PATH must name the libraries"
#endif

namespace {

// dlopen(path) -> dlsym("ov_telemetry_get_api") -> get_api(1). Never closed: the real
// library is NODELETE and the stand-ins hold their tables for the process's lifetime.
const ov_telemetry_api_t* load_table(const char* path, std::string& error) {
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        error = dlerror();
        return nullptr;
    }
    void* sym = dlsym(lib, "ov_telemetry_get_api");
    if (sym == nullptr) {
        error = "no ov_telemetry_get_api in " + std::string(path);
        return nullptr;
    }
    ov_telemetry_get_api_fn get_api = nullptr;
    std::memcpy(&get_api, &sym, sizeof get_api);
    const ov_telemetry_api_t* api = get_api(OV_TELEMETRY_ABI_VERSION);
    if (api == nullptr) {
        error = "get_api(1) returned NULL";
    }
    return api;
}

// What a caller does to learn the loaded library's version: the number when the table has
// it, else the 1.0 string.
std::uint32_t loaded_version_number(const ov_telemetry_api_t* api) {
    if (OV_TELEMETRY_API_HAS(api, version_number)) {
        return api->version_number();
    }
    unsigned major = 0, minor = 0, patch = 0;
    if (std::sscanf(api->version(), "%u.%u.%u", &major, &minor, &patch) != 3) {
        return 0;
    }
    return OV_TELEMETRY_MAKE_VERSION(major, minor, patch);
}

// The 1.0 fields work through any table: options, init without consent (DISABLED and a
// valid handle: status >= 0), a send, shutdown, free.
void use_the_1_0_fields(const ov_telemetry_api_t* api) {
    ovt_util::TempDir dir;
    ov_telemetry_options_t* opts = nullptr;
    ASSERT_EQ(api->options_create(&opts), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_app(opts, "ovt_evolution", "1.0"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_measurement_id(opts, "G-TEST000000"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_config_dir(opts, dir.c_str()), OV_TELEMETRY_STATUS_OK);
    ov_telemetry_t* t = nullptr;
    const std::int32_t init = api->init(opts, &t);
    api->options_free(opts);
    ASSERT_GE(init, 0) << api->status_message(init) << ": " << api->last_error();
    ASSERT_NE(t, nullptr) << "status >= 0 always comes with a handle";
    EXPECT_EQ(init, OV_TELEMETRY_STATUS_DISABLED) << "no decision stored in a new directory";
    EXPECT_FALSE(api->is_enabled(t));
    EXPECT_EQ(api->send_event(t, "c", "a", "l", 1), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(api->shutdown(t, 1000), OV_TELEMETRY_STATUS_OK);
    api->handle_free(t);
    EXPECT_EQ(api->get_consent(dir.c_str()), OV_TELEMETRY_CONSENT_UNDECIDED);
}

class TableEvolution : public ::testing::Test {
protected:
    void SetUp() override { ovt_util::clear_telemetry_env(); }
};

TEST_F(TableEvolution, TheRealLibraryHasEveryFieldOfThisHeader) {
    std::string error;
    const ov_telemetry_api_t* api = load_table(OVT_LIB_PATH, error);
    ASSERT_NE(api, nullptr) << error;
    EXPECT_GE(api->struct_size, sizeof(ov_telemetry_api_t));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, options_create));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, handle_free));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, version));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, version_number));
    EXPECT_EQ(loaded_version_number(api), static_cast<std::uint32_t>(OV_TELEMETRY_VERSION_NUMBER));
    use_the_1_0_fields(api);
}

TEST_F(TableEvolution, ANewerLibraryWithUnknownSlotsWorks) {
    std::string error;
    const ov_telemetry_api_t* api = load_table(OVT_STANDIN_NEWER_PATH, error);
    ASSERT_NE(api, nullptr) << error;
    EXPECT_EQ(api->abi_version, 1u);
    // Larger than this header knows: accepted (a check for == would refuse it).
    EXPECT_GT(api->struct_size, sizeof(ov_telemetry_api_t));
    EXPECT_EQ(api->struct_size, sizeof(ov_telemetry_api_t) + 3 * sizeof(void (*)()));
    ASSERT_TRUE(OV_TELEMETRY_API_HAS(api, version_number));
    EXPECT_EQ(api->version_number(), OV_TELEMETRY_MAKE_VERSION(1, 9, 0));
    EXPECT_EQ(loaded_version_number(api), OV_TELEMETRY_MAKE_VERSION(1, 9, 0));
    EXPECT_STREQ(api->version(), "1.9.0");
    use_the_1_0_fields(api);
}

TEST_F(TableEvolution, AnOlderLibraryWithoutTheNewFieldsWorks) {
    std::string error;
    const ov_telemetry_api_t* api = load_table(OVT_STANDIN_OLDER_PATH, error);
    ASSERT_NE(api, nullptr) << error;
    EXPECT_EQ(api->abi_version, 1u);
    EXPECT_LT(api->struct_size, sizeof(ov_telemetry_api_t));
    EXPECT_EQ(api->struct_size, offsetof(ov_telemetry_api_t, version) + sizeof(void (*)()));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, options_create));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, handle_free));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(api, version));
    // The field added in 1.1 is absent: the caller must not call it (it lies past the end
    // of the older library's table), and falls back to the version string.
    EXPECT_FALSE(OV_TELEMETRY_API_HAS(api, version_number));
    EXPECT_EQ(loaded_version_number(api), OV_TELEMETRY_MAKE_VERSION(1, 0, 0));
    use_the_1_0_fields(api);
}

}  // namespace
