// program_cache.h - the one place that builds OpenCL programs: once per (source, options) for
// a device, kept in memory, and stored as device binaries on disk.
//
// Cache key: a 128-bit hash (two independent 64-bit FNV-1a variants) over the length-prefixed
// fields  "pa-opencl-cache/1", platform name, device name, driver version, device version,
// program name, full source text (common.cl included), build options.
// Any change of driver, source or options therefore gives a new key; stale files are never
// matched (they can be deleted at any time).
//
// Directory: $PA_KERNEL_CACHE, else $XDG_CACHE_HOME/pa-opencl, else ~/.cache/pa-opencl
// (created on first write). PA_KERNEL_CACHE=off disables the disk cache. Write failures are
// ignored: the cache only saves time. On PoCL the default is no disk cache (only a directory
// named by the constructor or $PA_KERNEL_CACHE is used): PoCL keeps its own cache of what it
// compiled, and asking it for a program's binary makes it compile every kernel of the program
// for the binary, mostly never launched (`pa demo` on 2 cores, fresh caches: 43 s with pa's
// cache, 16 s without; warm 0.76 against 1.14 s).
//
// Entry file <key as 32 hex digits>.bin, little-endian:
//   offset 0  char[8] magic "PAOCLBIN"
//          8  u32 format version (1)
//         12  u32 header size (48)
//         16  u64 key hash, high half
//         24  u64 key hash, low half
//         32  u64 payload length in bytes
//         40  u64 payload checksum (FNV-1a 64 of the payload)
//         48  payload: the device binary (CL_PROGRAM_BINARIES)
// A file whose header, length, key or checksum does not match, or whose binary the driver
// rejects, is deleted and the program is rebuilt from source (an entry is never trusted).
// Entries are written to a temporary file and renamed, so readers never see partial files.
//
// Concurrency: all methods are thread-safe (one mutex); several processes may share the
// directory (atomic rename; identical keys hold identical content).
// Build failure: pa::error(PA_ERR_DEVICE) naming the program and carrying the build log.
// A register cap in the options (-cl-nv-maxrregcount=N, which NVIDIA's driver ignores) is applied
// on NVIDIA by rebuilding the program from its PTX with the cap written in (ptx_register_cap.h);
// the capped PTX is what the disk entry keeps.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "cl_common.h"
#include "device.h"

namespace pa::ocl {

class program_cache {
  public:
    struct stats {
        int memory_hits = 0;   // program found built in memory
        int disk_hits = 0;     // program loaded from a disk entry
        int source_builds = 0; // program compiled from source
        int bad_entries = 0;   // disk entries found corrupt/truncated/rejected and deleted
        int disk_writes = 0;   // entries written
    };

    // cache_dir: "" = the default directory (see above); "off" = no disk cache.
    program_cache(cl_context ctx, const device_caps& dev, std::string cache_dir = {});

    // The kernel kernel_name of the program (name, source) built with options. The returned
    // kernel is owned by the cache and shared by every caller.
    cl_kernel kernel(std::string_view program_name, std::string_view source, std::string_view kernel_name,
                     std::string_view options);
    // Builds (or finds) the program only.
    cl_program program(std::string_view program_name, std::string_view source, std::string_view options);

    stats get_stats() const;
    const std::string& directory() const { return dir_; } // empty when the disk cache is off
    // Path of the disk entry for these inputs (whether or not it exists); empty when off.
    std::string entry_path(std::string_view program_name, std::string_view source,
                           std::string_view options) const;

    static std::string default_directory();
    // Whether the device's driver keeps its own on-disk cache of builds (PoCL), so that pa's
    // disk cache is off unless a directory is named.
    static bool driver_caches_builds(const device_caps& dev);

  private:
    using key_t = std::pair<uint64_t, uint64_t>;
    key_t make_key(std::string_view program_name, std::string_view source, std::string_view options) const;
    std::string path_of(const key_t& key) const;
    program_handle load_entry(const key_t& key, std::string_view options);
    void store_entry(const key_t& key, cl_program prog);
    // The program built again from its PTX with the options' -cl-nv-maxrregcount as a .maxnreg on
    // every kernel (ptx_register_cap.h), on devices that take NVIDIA's options; empty where there
    // is no cap or it cannot be applied (the program as built then stays).
    program_handle with_register_cap(std::string_view program_name, cl_program built,
                                     std::string_view options);
    program_handle build_source(std::string_view program_name, std::string_view source,
                                std::string_view options);

    cl_context ctx_;
    device_caps dev_;
    std::string dir_;
    mutable std::mutex mu_;
    std::map<key_t, program_handle> programs_;
    std::map<std::pair<key_t, std::string>, kernel_handle> kernels_;
    stats stats_;
};

} // namespace pa::ocl
