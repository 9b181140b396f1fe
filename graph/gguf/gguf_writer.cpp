// gguf_writer.cpp - writes GGUF v3 files (the layout is described in pa/gguf.h).
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <memory>

#include "pa/error.h"
#include "pa/gguf.h"

namespace pa::gguf {
namespace {

constexpr uint32_t write_version = 3;

// Sinks: one appends to memory, one writes to a FILE*.
struct memory_sink {
    std::vector<uint8_t>& out;
    void put(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        out.insert(out.end(), b, b + n);
    }
    size_t pos() const { return out.size(); }
};

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

struct file_sink {
    std::FILE* f;
    const std::string& path;
    size_t written = 0;
    void put(const void* p, size_t n) {
        if (n && std::fwrite(p, 1, n, f) != n)
            throw error(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
        written += n;
    }
    size_t pos() const { return written; }
};

template <class Sink, class T> void put(Sink& s, T v) { s.put(&v, sizeof v); }

template <class Sink> void put_string(Sink& s, const std::string& str) {
    put<Sink, uint64_t>(s, str.size());
    s.put(str.data(), str.size());
}

template <class Sink> void put_value(Sink& s, const value& v) {
    put<Sink, uint32_t>(s, uint32_t(v.type()));
    if (v.type() == vtype::string) return put_string(s, v.as_string());
    if (!v.is_array()) return s.put(v.raw().data(), v.raw().size());
    put<Sink, uint32_t>(s, uint32_t(v.elem_type()));
    put<Sink, uint64_t>(s, v.size());
    if (v.elem_type() == vtype::string) {
        for (const std::string& e : v.strings()) put_string(s, e);
    } else {
        s.put(v.raw().data(), v.raw().size());
    }
}

template <class Sink> void pad_to(Sink& s, size_t alignment) {
    static const uint8_t zeros[64] = {};
    size_t n = (alignment - s.pos() % alignment) % alignment;
    while (n > 0) {
        const size_t k = std::min(n, sizeof zeros);
        s.put(zeros, k);
        n -= k;
    }
}

} // namespace

void writer::set(const std::string& key, value v) {
    if (key.empty()) throw error("gguf writer: empty metadata key");
    if (v.is_array() && v.elem_type() == vtype::array) throw error("gguf writer: nested arrays are not supported");
    for (kv& e : kvs_) {
        if (e.key == key) {
            e.val = std::move(v);
            return;
        }
    }
    kvs_.push_back({key, std::move(v)});
}

void writer::set_all(const std::vector<kv>& kvs) {
    for (const kv& e : kvs) set(e.key, e.val);
}

void writer::remove(std::string_view key) {
    std::erase_if(kvs_, [&](const kv& e) { return e.key == key; });
}

size_t writer::alignment() const {
    for (const kv& e : kvs_) {
        if (e.key != "general.alignment") continue;
        const int64_t a = e.val.as_int();
        if (e.val.type() != vtype::u32 || a <= 0 || (a & (a - 1)) != 0)
            throw error(fmt::format("gguf writer: general.alignment must be a u32 power of two, got {}", e.val.describe()));
        return size_t(a);
    }
    return default_alignment;
}

void writer::check_tensor(const std::string& name, pa_type type, std::span<const int64_t> ne, size_t bytes,
                          tensor_info& out) const {
    if (name.empty() || name.size() >= PA_MAX_NAME)
        throw error(fmt::format("gguf writer: tensor name '{}' must be 1 to {} bytes", name, PA_MAX_NAME - 1));
    for (const pending& p : tensors_)
        if (p.info.name == name) throw error(fmt::format("gguf writer: duplicate tensor '{}'", name));
    if (ne.empty() || ne.size() > max_dims)
        throw error(fmt::format("gguf writer: tensor '{}' has {} dims (1 to {})", name, ne.size(), max_dims));
    const type_traits& tr = traits(type);
    out.name = name;
    out.type = type;
    out.n_dims = uint32_t(ne.size());
    int64_t total = 1;
    for (size_t d = 0; d < ne.size(); ++d) {
        if (ne[d] <= 0 || ne[d] > max_tensor_elements || total > max_tensor_elements / ne[d])
            throw error(fmt::format("gguf writer: tensor '{}' has a bad shape", name));
        out.ne[d] = ne[d];
        total *= ne[d];
    }
    if (ne[0] % tr.block_elems != 0)
        throw error(fmt::format("gguf writer: tensor '{}': rows of {} are not whole {} blocks", name, ne[0], tr.name));
    out.size = size_t(total / tr.block_elems) * tr.block_bytes;
    if (bytes != out.size)
        throw error(fmt::format("gguf writer: tensor '{}' has {} bytes of data, its shape needs {}", name, bytes, out.size));
}

void writer::add_tensor(const std::string& name, pa_type type, std::span<const int64_t> ne,
                        std::vector<uint8_t> data) {
    pending p;
    check_tensor(name, type, ne, data.size(), p.info);
    p.owned = std::move(data);
    tensors_.push_back(std::move(p));
}

void writer::add_tensor_ref(const std::string& name, pa_type type, std::span<const int64_t> ne,
                            std::span<const uint8_t> data) {
    pending p;
    check_tensor(name, type, ne, data.size(), p.info);
    p.data = data;
    tensors_.push_back(std::move(p));
}

template <class Sink> void writer::emit(Sink& s) const {
    const size_t align = alignment();
    s.put("GGUF", 4);
    put<Sink, uint32_t>(s, write_version);
    put<Sink, uint64_t>(s, tensors_.size());
    put<Sink, uint64_t>(s, kvs_.size());
    for (const kv& e : kvs_) {
        put_string(s, e.key);
        put_value(s, e.val);
    }
    uint64_t offset = 0;
    for (const pending& p : tensors_) {
        put_string(s, p.info.name);
        put<Sink, uint32_t>(s, p.info.n_dims);
        for (uint32_t d = 0; d < p.info.n_dims; ++d) put<Sink, uint64_t>(s, uint64_t(p.info.ne[d]));
        put<Sink, uint32_t>(s, uint32_t(p.info.type));
        put<Sink, uint64_t>(s, offset);
        offset += (p.info.size + align - 1) / align * align;
    }
    pad_to(s, align);
    for (const pending& p : tensors_) {
        const std::span<const uint8_t> d = p.owned.empty() ? p.data : std::span<const uint8_t>(p.owned);
        s.put(d.data(), d.size());
        pad_to(s, align);
    }
}

std::vector<uint8_t> writer::to_memory() const {
    std::vector<uint8_t> out;
    memory_sink s{out};
    emit(s);
    return out;
}

void writer::write(const std::string& path) const {
    std::unique_ptr<std::FILE, file_closer> f(std::fopen(path.c_str(), "wb"));
    if (!f) throw error(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
    file_sink s{f.get(), path};
    emit(s);
    std::FILE* raw = f.release();
    if (std::fclose(raw) != 0) throw error(fmt::format("{}: close failed: {}", path, std::strerror(errno)));
}

} // namespace pa::gguf
