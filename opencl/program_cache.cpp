// program_cache.cpp - program builds, in-memory and on-disk caching (format in the header).
#include "program_cache.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "ptx_register_cap.h"

namespace pa::ocl {
namespace {

namespace fs = std::filesystem;

constexpr char magic[8] = {'P', 'A', 'O', 'C', 'L', 'B', 'I', 'N'};
constexpr uint32_t format_version = 1;
constexpr uint32_t header_size = 48;
constexpr size_t max_log_chars = 4000; // keep messages readable; the head of a log names the first error

struct fnv64 {
    uint64_t h;
    uint64_t prime;
    void add(const void* data, size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < n; ++i)
            h = (h ^ p[i]) * prime;
    }
};

uint64_t checksum(const void* data, size_t n) {
    fnv64 f{0xcbf29ce484222325ull, 0x100000001b3ull};
    f.add(data, n);
    return f.h;
}

void put_u32(unsigned char* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
uint64_t get_u64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

std::string trim(std::string s) {
    const auto not_space = [](unsigned char c) { return !std::isspace(c) && c != '\0'; };
    while (!s.empty() && !not_space(static_cast<unsigned char>(s.back())))
        s.pop_back();
    size_t b = 0;
    while (b < s.size() && !not_space(static_cast<unsigned char>(s[b])))
        ++b;
    s.erase(0, b);
    if (s.size() > max_log_chars) s = s.substr(0, max_log_chars) + "\n... (build log truncated)";
    return s;
}

std::string build_log(cl_program prog, cl_device_id dev) {
    size_t n = 0;
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS || n == 0)
        return {};
    std::string log(n, '\0');
    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr) != CL_SUCCESS)
        return {};
    return trim(std::move(log));
}

// The program's device binary (CL_PROGRAM_BINARIES of its one device); empty when the driver
// offers none.
std::vector<unsigned char> program_binary(cl_program prog) {
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) != CL_SUCCESS ||
        size == 0)
        return {};
    std::vector<unsigned char> binary(size);
    unsigned char* dst = binary.data();
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof dst, &dst, nullptr) != CL_SUCCESS) return {};
    return binary;
}

// A program made from a device binary and built with options; empty when the driver refuses
// either step (a failed build's log into *failed_log where given).
program_handle build_binary(cl_context ctx, cl_device_id dev, const unsigned char* bytes, size_t len,
                            std::string_view options, std::string* failed_log = nullptr) {
    cl_int status = CL_SUCCESS, err = CL_SUCCESS;
    program_handle prog(clCreateProgramWithBinary(ctx, 1, &dev, &len, &bytes, &status, &err));
    if (err != CL_SUCCESS || status != CL_SUCCESS) return {};
    const std::string opts(options);
    if (clBuildProgram(prog.get(), 1, &dev, opts.c_str(), nullptr, nullptr) != CL_SUCCESS) {
        if (failed_log) *failed_log = build_log(prog.get(), dev);
        return {};
    }
    return prog;
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

} // namespace

std::string program_cache::default_directory() {
    if (std::string d = env_or_empty("PA_KERNEL_CACHE"); !d.empty()) return d == "off" ? std::string() : d;
    if (std::string x = env_or_empty("XDG_CACHE_HOME"); !x.empty()) return x + "/pa-opencl";
    if (std::string h = env_or_empty("HOME"); !h.empty()) return h + "/.cache/pa-opencl";
    return {};
}

bool program_cache::driver_caches_builds(const device_caps& dev) {
    const bool pocl = dev.platform.find("Portable Computing Language") != std::string::npos;
    return pocl && env_or_empty("POCL_KERNEL_CACHE") != "0"; // PoCL's cache is on unless turned off
}

program_cache::program_cache(cl_context ctx, const device_caps& dev, std::string cache_dir)
    : ctx_(ctx), dev_(dev), dir_(cache_dir.empty()    ? default_directory()
                                 : cache_dir == "off" ? ""
                                                      : cache_dir) {
    if (cache_dir.empty() && env_or_empty("PA_KERNEL_CACHE").empty() && driver_caches_builds(dev))
        dir_.clear();
}

program_cache::key_t program_cache::make_key(std::string_view program_name, std::string_view source,
                                             std::string_view options) const {
    fnv64 a{0xcbf29ce484222325ull, 0x100000001b3ull};
    fnv64 b{0x84222325cbf29ce4ull ^ 0x5bd1e9955bd1e995ull,
            0x00000100000001b3ull + 0x2a}; // second, independent
    const auto field = [&](std::string_view s) {
        const uint64_t n = s.size();
        a.add(&n, sizeof n);
        b.add(&n, sizeof n);
        a.add(s.data(), s.size());
        b.add(s.data(), s.size());
    };
    for (std::string_view s : {std::string_view("pa-opencl-cache/1"), std::string_view(dev_.platform),
                               std::string_view(dev_.name), std::string_view(dev_.driver_version),
                               std::string_view(dev_.device_version), program_name, source, options})
        field(s);
    return {a.h, b.h};
}

std::string program_cache::path_of(const key_t& key) const {
    if (dir_.empty()) return {};
    return fmt::format("{}/{:016x}{:016x}.bin", dir_, key.first, key.second);
}

std::string program_cache::entry_path(std::string_view program_name, std::string_view source,
                                      std::string_view options) const {
    return path_of(make_key(program_name, source, options));
}

program_handle program_cache::load_entry(const key_t& key, std::string_view options) {
    const std::string path = path_of(key);
    if (path.empty()) return {};
    std::ifstream in(path, std::ios::binary);
    if (!in) return {}; // no entry
    std::vector<unsigned char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    const auto reject = [&]() -> program_handle {
        ++stats_.bad_entries;
        std::error_code ec;
        fs::remove(path, ec);
        return {};
    };
    if (file.size() < header_size || std::memcmp(file.data(), magic, sizeof magic) != 0) return reject();
    const unsigned char* h = file.data();
    if (get_u32(h + 8) != format_version || get_u32(h + 12) != header_size) return reject();
    if (get_u64(h + 16) != key.first || get_u64(h + 24) != key.second) return reject();
    const uint64_t len = get_u64(h + 32);
    if (len == 0 || len != file.size() - header_size) return reject(); // truncated or padded
    const unsigned char* payload = h + header_size;
    if (checksum(payload, len) != get_u64(h + 40)) return reject();

    program_handle prog = build_binary(ctx_, dev_.device_id, payload, size_t(len), options);
    if (!prog) return reject();
    ++stats_.disk_hits;
    return prog;
}

void program_cache::store_entry(const key_t& key, cl_program prog) {
    const std::string path = path_of(key);
    if (path.empty()) return;
    const std::vector<unsigned char> binary = program_binary(prog);
    if (binary.empty()) return; // the driver offers no binary: nothing to cache
    unsigned char header[header_size];
    std::memcpy(header, magic, sizeof magic);
    put_u32(header + 8, format_version);
    put_u32(header + 12, header_size);
    put_u64(header + 16, key.first);
    put_u64(header + 24, key.second);
    put_u64(header + 32, binary.size());
    put_u64(header + 40, checksum(binary.data(), binary.size()));

    static std::atomic<unsigned> counter{0};
    std::error_code ec;
    fs::create_directories(dir_, ec);
    const std::string tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return;
        out.write(reinterpret_cast<const char*>(header), std::streamsize(header_size));
        out.write(reinterpret_cast<const char*>(binary.data()), std::streamsize(binary.size()));
        if (!out) {
            out.close();
            fs::remove(tmp, ec);
            return;
        }
    }
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return;
    }
    ++stats_.disk_writes;
}

program_handle program_cache::build_source(std::string_view program_name, std::string_view source,
                                           std::string_view options) {
    const char* text = source.data();
    const size_t len = source.size();
    cl_int err = CL_SUCCESS;
    program_handle prog(clCreateProgramWithSource(ctx_, 1, &text, &len, &err));
    check(err, fmt::format("creating program {}", program_name));
    // PA_OPENCL_BUILD_LOG=1: every source build's log to stderr, with NVIDIA's register and spill
    // report (-cl-nv-verbose) where the driver takes its options
    const bool show_log = env_or_empty("PA_OPENCL_BUILD_LOG") == "1";
    std::string opts(options);
    if (show_log && dev_.has_extension("cl_nv_compiler_options")) opts += " -cl-nv-verbose";
    err = clBuildProgram(prog.get(), 1, &dev_.device_id, opts.c_str(), nullptr, nullptr);
    if (err != CL_SUCCESS) {
        const std::string log = build_log(prog.get(), dev_.device_id);
        throw error(fmt::format("building OpenCL program {} for {} failed ({}), options '{}':\n{}",
                                program_name, dev_.name, cl_error_name(err), opts,
                                log.empty() ? "(empty build log)" : log),
                    PA_ERR_DEVICE);
    }
    if (show_log)
        fmt::print(stderr, "pa: built {} for {}, options '{}':\n{}\n", program_name, dev_.name, opts,
                   build_log(prog.get(), dev_.device_id));
    ++stats_.source_builds;
    return prog;
}

program_handle program_cache::with_register_cap(std::string_view program_name, cl_program built,
                                                std::string_view options) {
    const int cap = register_cap_of(options);
    if (cap <= 0 || !dev_.has_extension("cl_nv_compiler_options")) return {};
    const bool show_log = env_or_empty("PA_OPENCL_BUILD_LOG") == "1";
    const auto skip = [&](std::string_view why) -> program_handle {
        if (show_log) fmt::print(stderr, "pa: {}: register cap {} not applied: {}\n", program_name, cap, why);
        return {};
    };
    const std::vector<unsigned char> binary = program_binary(built);
    if (binary.empty()) return skip("the driver offers no binary");
    const std::optional<std::string> ptx = ptx_with_register_cap(
        std::string_view(reinterpret_cast<const char*>(binary.data()), binary.size()), cap);
    if (!ptx) return skip("the binary is not PTX with kernel entries");
    std::string failed_log;
    program_handle prog =
        build_binary(ctx_, dev_.device_id, reinterpret_cast<const unsigned char*>(ptx->data()), ptx->size(),
                     options, &failed_log);
    if (!prog)
        return skip(failed_log.empty() ? std::string("the driver refused the capped PTX")
                                       : fmt::format("building the capped PTX failed:\n{}", failed_log));
    if (show_log)
        fmt::print(stderr, "pa: {} rebuilt from its PTX with .maxnreg {}:\n{}\n", program_name, cap,
                   build_log(prog.get(), dev_.device_id));
    return prog;
}

cl_program program_cache::program(std::string_view program_name, std::string_view source,
                                  std::string_view options) {
    const key_t key = make_key(program_name, source, options);
    std::lock_guard lock(mu_);
    if (auto it = programs_.find(key); it != programs_.end()) {
        ++stats_.memory_hits;
        return it->second.get();
    }
    program_handle prog = load_entry(key, options);
    if (!prog) {
        prog = build_source(program_name, source, options);
        if (program_handle capped = with_register_cap(program_name, prog.get(), options))
            prog = std::move(capped);
        store_entry(key, prog.get());
    }
    cl_program raw = prog.get();
    programs_.emplace(key, std::move(prog));
    return raw;
}

cl_kernel program_cache::kernel(std::string_view program_name, std::string_view source,
                                std::string_view kernel_name, std::string_view options) {
    cl_program prog = program(program_name, source, options);
    const key_t key = make_key(program_name, source, options);
    std::lock_guard lock(mu_);
    auto kkey = std::make_pair(key, std::string(kernel_name));
    if (auto it = kernels_.find(kkey); it != kernels_.end()) return it->second.get();
    cl_int err = CL_SUCCESS;
    kernel_handle k(clCreateKernel(prog, kkey.second.c_str(), &err));
    check(err, fmt::format("creating kernel {} of program {}", kernel_name, program_name));
    cl_kernel raw = k.get();
    kernels_.emplace(std::move(kkey), std::move(k));
    return raw;
}

program_cache::stats program_cache::get_stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

} // namespace pa::ocl
