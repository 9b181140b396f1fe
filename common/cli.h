// cli.h - what every `pa` subcommand uses: registration, arguments, backend selection.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pa/backend.h"
#include "pa/plugin_loader.h"

namespace pa::cli {

using command_fn = int (*)(int argc, char** argv); // argv[0] is the subcommand name

struct command {
    const char* name;
    const char* summary;
    command_fn run;
};

void register_command(const command& c);
const std::vector<command>& commands();

struct command_registrar {
    explicit command_registrar(const command& c) { register_command(c); }
};

// PA_CLI_COMMAND(attn, "dense vs proxy attention on synthetic or dumped Q/K/V", run_attn);
#define PA_CLI_COMMAND(name, summary, fn)                                                                    \
    static const ::pa::cli::command_registrar pa_cli_registrar_##name({#name, summary, fn})

// The pieces of list between the separators, as written (empty ones too): "a,,b" -> a, "", b.
std::vector<std::string> split_list(const std::string& list, char sep);

// s without its leading and trailing blanks (spaces, tabs).
std::string trimmed(std::string s);

// --name value / --name=value / -x value; flags without value. Unknown options are errors.
class args {
  public:
    // usage: the text printed by --help (first line "usage: pa <cmd> ...")
    args(int argc, char** argv, std::string usage);
    bool help() const { return help_; } // --help or -h was given: print usage(), return 0
    const std::string& usage() const { return usage_; }
    int print_usage() const; // prints usage() to stdout; returns 0 (a command's exit code for --help)
    bool flag(const std::string& name); // "--json"
    std::string str(const std::string& name, const std::string& def = "");
    bool has(const std::string& name);
    int64_t i64(const std::string& name, int64_t def);
    double f64(const std::string& name, double def);
    std::vector<std::string> positional();
    void finish() const; // throws pa::error for options nobody asked for

  private:
    std::string usage_;
    std::map<std::string, std::string> values_;
    std::map<std::string, bool> used_;
    std::vector<std::string> positional_;
    bool help_ = false;
};

// Backends chosen by --device (and $PA_DEVICE): "cpu", "opencl" (default OpenCL device),
// an OpenCL device index "N", or a device-name substring. --plugin PATH picks the plugin.
// The CPU backend is always last, as the fallback for unsupported ops.
struct backend_set {
    std::shared_ptr<plugin> plug;   // null for --device cpu
    std::unique_ptr<backend> accel; // null for --device cpu
    std::unique_ptr<backend> cpu;
    std::vector<backend*> order() const; // preference order for pa::scheduler
    backend& main() const { return accel ? *accel : *cpu; }
};

// Reads --device/--plugin from a; default_device is used when neither flag nor env is set.
backend_set open_backends(args& a, const std::string& default_device = "opencl");
// Whether attention on this backend takes the NVIDIA tensor-core path (f16 operands): an NVIDIA
// GPU of compute capability >= 8.0 and $PA_MMA not "0".
bool tensor_core_attention(const backend& b);

// Loads the plugin named by --plugin (or the default) without opening a device.
std::shared_ptr<plugin> load_plugin(args& a);

// Installs a SIGINT handler (once) and returns the flag it sets; give it to
// pa::scheduler::set_abort_flag so a long prefill stops cleanly between runs of nodes with
// "error: interrupted" instead of dying mid-kernel. A second Ctrl-C exits at once.
const std::atomic<bool>* interrupt_flag();
// Lowers the flag again after an interruption was handled (chat: Ctrl-C ends a reply, not pa).
void clear_interrupt();

// Common option text for usage strings.
inline constexpr const char* device_options =
    "  --device D       cpu | opencl | N (OpenCL device index) | name substring (env PA_DEVICE)\n"
    "  --plugin PATH    backend plugin to load (default: build/lib/libpa-opencl.so, env PA_PLUGIN)\n";

} // namespace pa::cli
