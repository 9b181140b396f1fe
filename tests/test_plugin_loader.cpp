// Plugin loading: the real OpenCL plugin loads; a missing file, a file without the entry
// symbol and plugins of another ABI are refused with one-line messages naming the cause.
#include <gtest/gtest.h>

#include <string>

#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/plugin_loader.h"

namespace {

std::string load_error(const std::string& path) {
    try {
        pa::plugin::load(path);
    } catch (const pa::error& e) {
        return e.what();
    }
    return "";
}

TEST(PluginLoader, LoadsTheOpenCLPlugin) {
    auto p = pa::plugin::load(PA_PLUGIN_PATH);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->name(), "opencl");
    EXPECT_GE(p->device_count(), 0);
    // the plugin adds its op to the host's registry
    EXPECT_GE(pa::op_registry::global().find("proxy_sparse_attn"), PA_OP_FIRST_DYNAMIC);
    bool found = false;
    for (const auto& q : pa::loaded_plugins()) found |= q->path() == PA_PLUGIN_PATH;
    EXPECT_TRUE(found);
}

TEST(PluginLoader, MissingFile) {
    const std::string msg = load_error("/nonexistent/libnothing.so");
    EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

TEST(PluginLoader, MissingEntrySymbol) {
    const std::string msg = load_error(std::string(PA_TEST_PLUGIN_DIR) + "/libpa_no_entry.so");
    EXPECT_NE(msg.find("no entry symbol"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(PluginLoader, WrongAbiVersion) {
    const std::string msg = load_error(std::string(PA_TEST_PLUGIN_DIR) + "/libpa_wrong_abi.so");
    EXPECT_NE(msg.find("ABI version " + std::to_string(PA_PLUGIN_ABI_VERSION + 1000)), std::string::npos) << msg;
    EXPECT_NE(msg.find("runtime has version " + std::to_string(PA_PLUGIN_ABI_VERSION)), std::string::npos) << msg;
}

TEST(PluginLoader, PluginRefusesHost) {
    const std::string msg = load_error(std::string(PA_TEST_PLUGIN_DIR) + "/libpa_refuses_host.so");
    EXPECT_NE(msg.find("plugin needs host ABI"), std::string::npos) << msg;
}

TEST(PluginLoader, NotASharedObject) {
    const std::string msg = load_error(std::string(PA_SOURCE_DIR) + "/CMakeLists.txt");
    EXPECT_NE(msg.find("cannot load"), std::string::npos) << msg;
}

} // namespace
