// fuzz_util.h - what every fuzz target body shares: a byte reader that never runs out (it
// returns zeros past the end, like libFuzzer's FuzzedDataProvider but without needing clang's
// headers), invariant checks, and in-memory files for readers that take a path.
//
// Target bodies (fuzz/targets/*_target.h) are plain inline functions so that the libFuzzer
// wrappers (fuzz/fuzz_*.cpp, clang only) and tests/test_fault_regressions.cpp (any compiler,
// replays the committed corpora and every crash found) run the same code.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace pa::fuzz {

// A broken invariant: never a pa::error, so neither the targets nor the code under test swallow
// it. Uncaught in a fuzzer it aborts (a crash libFuzzer records); gtest reports it as a failure.
struct invariant_broken : std::logic_error {
    using std::logic_error::logic_error;
};

inline void check(bool ok, const std::string& what) {
    if (!ok) throw invariant_broken(what);
}

class input {
  public:
    explicit input(std::span<const uint8_t> d) : d_(d) {}
    size_t left() const { return d_.size() - pos_; }
    bool empty() const { return left() == 0; }

    template <class T> T take() {
        T v{};
        const size_t n = std::min(sizeof(T), left());
        std::memcpy(&v, d_.data() + pos_, n);
        pos_ += n;
        return v;
    }
    uint8_t byte() { return take<uint8_t>(); }
    bool flag() { return (byte() & 1) != 0; }
    // A value in [lo, hi] (inclusive); hi >= lo.
    int64_t range(int64_t lo, int64_t hi) {
        const uint64_t span = uint64_t(hi - lo) + 1;
        const uint64_t v = take<uint64_t>();
        return span == 0 ? int64_t(v) : lo + int64_t(v % span);
    }
    // Mostly small values, sometimes an edge (0, negative, huge): how shape bugs are found.
    int64_t dim() {
        const uint8_t sel = byte();
        if (sel < 200) return 1 + sel % 9;
        switch (sel % 8) {
        case 0:
            return 0;
        case 1:
            return -1;
        case 2:
            return int64_t(1) << 31;
        case 3:
            return int64_t(1) << 40;
        case 4:
            return (int64_t(1) << 62) + 1;
        case 5:
            return INT64_MAX;
        case 6:
            return 16 + byte();
        default:
            return take<int64_t>();
        }
    }
    std::string_view rest() {
        std::string_view s(reinterpret_cast<const char*>(d_.data() + pos_), left());
        pos_ = d_.size();
        return s;
    }
    std::span<const uint8_t> rest_bytes() {
        std::span<const uint8_t> s = d_.subspan(pos_);
        pos_ = d_.size();
        return s;
    }

  private:
    std::span<const uint8_t> d_;
    size_t pos_ = 0;
};

// The loaders take paths: the bytes go to an anonymous in-memory file, named through /proc.
class memfile {
  public:
    explicit memfile(std::span<const uint8_t> bytes) {
        fd_ = ::memfd_create("pa-fuzz", 0);
        check(fd_ >= 0, "memfd_create failed");
        size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            check(n > 0, "write to memfd failed");
            done += size_t(n);
        }
        path_ = fmt::format("/proc/self/fd/{}", fd_);
    }
    ~memfile() { ::close(fd_); }
    memfile(const memfile&) = delete;
    memfile& operator=(const memfile&) = delete;
    const std::string& path() const { return path_; }

  private:
    int fd_ = -1;
    std::string path_;
};

} // namespace pa::fuzz
