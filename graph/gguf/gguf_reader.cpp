// gguf_reader.cpp - GGUF parsing and validation over a read-only mapping of the file.
//
// Every read goes through a bounds-checked cursor; every count (kv pairs, tensors, array
// elements, string bytes) is checked against the bytes left before anything is reserved.
#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <limits>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>

#include "pa/error.h"
#include "pa/gguf.h"

namespace pa::gguf {

// The bytes of the file: an mmap (RAII) or an owned copy (from_memory).
struct file::mapping {
    const uint8_t* data = nullptr;
    size_t size = 0;
    void* map = nullptr;
    std::vector<uint8_t> owned;
    ~mapping() {
        if (map) munmap(map, size);
    }
};

namespace {

constexpr uint8_t magic[4] = {'G', 'G', 'U', 'F'};
constexpr size_t header_bytes = 4 + 4 + 8 + 8;
constexpr size_t min_kv_bytes = 8 + 4 + 1;              // empty key, type, smallest value
constexpr size_t min_tensor_info_bytes = 8 + 4 + 4 + 8; // empty name, n_dims, type, offset
constexpr uint64_t max_alignment = 1u << 20;

// Bounds-checked little-endian reader; `fail` adds the file name.
class cursor {
  public:
    cursor(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
    size_t pos() const { return pos_; }
    size_t left() const { return n_ - pos_; }

    [[noreturn]] void fail(const std::string& what) const { throw error(fmt::format("{}: {}", path_, what)); }

    template <class T> T read(std::string_view what) {
        if (left() < sizeof(T))
            fail(fmt::format("truncated: {} at offset {} needs {} bytes, {} left", what, pos_, sizeof(T),
                             left()));
        T v;
        std::memcpy(&v, p_ + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }

    std::string read_string(std::string_view what) {
        const uint64_t len = read<uint64_t>(what);
        if (len > left())
            fail(fmt::format("{} at offset {}: string length {} exceeds the {} bytes left", what, pos_ - 8,
                             len, left()));
        std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
        pos_ += size_t(len);
        return s;
    }

    std::vector<uint8_t> read_bytes(size_t n) {
        std::vector<uint8_t> v(p_ + pos_, p_ + pos_ + n); // callers checked n <= left()
        pos_ += n;
        return v;
    }

  private:
    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
    const std::string& path_;
};

value read_value(cursor& c, vtype t, const std::string& key) {
    if (t == vtype::string) return value::of_string(c.read_string(fmt::format("value of '{}'", key)));
    if (t != vtype::array) {
        const size_t es = vtype_size(t);
        if (c.left() < es) c.fail(fmt::format("truncated: value of '{}' at offset {}", key, c.pos()));
        std::vector<uint8_t> raw = c.read_bytes(es);
        if (t == vtype::boolean && raw[0] > 1)
            c.fail(fmt::format("key '{}': bool value {} is not 0 or 1", key, raw[0]));
        return value::of_scalar(t, raw);
    }
    const uint32_t et = c.read<uint32_t>(fmt::format("array type of '{}'", key));
    if (!vtype_is_valid(et)) c.fail(fmt::format("key '{}': unknown array element type {}", key, et));
    if (vtype(et) == vtype::array) c.fail(fmt::format("key '{}': nested arrays are not supported", key));
    const uint64_t n = c.read<uint64_t>(fmt::format("array length of '{}'", key));
    if (vtype(et) == vtype::string) {
        if (n > c.left() / 8)
            c.fail(fmt::format("key '{}': array of {} strings cannot fit in the {} bytes left", key, n,
                               c.left()));
        std::vector<std::string> strs;
        strs.reserve(size_t(n));
        for (uint64_t i = 0; i < n; ++i)
            strs.push_back(c.read_string(fmt::format("element {} of '{}'", i, key)));
        return value::of_strings(std::move(strs));
    }
    const size_t es = vtype_size(vtype(et));
    if (n > c.left() / es)
        c.fail(fmt::format("key '{}': array of {} {} exceeds the {} bytes left", key, n,
                           vtype_name(vtype(et)), c.left()));
    return value::of_array(vtype(et), n, c.read_bytes(size_t(n) * es));
}

// Overflow-checked size of a tensor, or an error message.
std::string tensor_size(tensor_info& ti) {
    const type_traits& tr = traits(ti.type);
    int64_t total = 1;
    for (uint32_t d = 0; d < ti.n_dims; ++d) {
        if (ti.ne[d] <= 0) return fmt::format("dimension {} is {} (must be > 0)", d, ti.ne[d]);
        if (ti.ne[d] > max_tensor_elements || total > max_tensor_elements / ti.ne[d])
            return fmt::format("more than {} elements", max_tensor_elements);
        total *= ti.ne[d];
    }
    if (ti.ne[0] % tr.block_elems != 0)
        return fmt::format("row of {} elements is not a whole number of {}-element {} blocks", ti.ne[0],
                           tr.block_elems, tr.name);
    ti.size = size_t(total / tr.block_elems) * tr.block_bytes; // <= 2^40 * 34 / 32: no overflow
    return {};
}

// ---- the steps of file::parse, in file order ----------------------------------------------

struct header {
    uint32_t version = 0;
    uint64_t n_tensors = 0, n_kv = 0;
};

// Magic, version (2 or 3) and the two counts, each checked against the bytes left.
header read_header(cursor& c, const uint8_t* data) {
    if (std::memcmp(data, magic, 4) != 0)
        c.fail(fmt::format("bad magic {:02x} {:02x} {:02x} {:02x} (not a GGUF file)", data[0], data[1],
                           data[2], data[3]));
    c.read<uint32_t>("magic");
    header h;
    h.version = c.read<uint32_t>("version");
    if (h.version != 2 && h.version != 3) {
        c.fail(h.version == 1 ? std::string("GGUF version 1 is not supported (only 2 and 3)")
                              : fmt::format("unsupported GGUF version {} (only 2 and 3; big-endian files are "
                                            "not supported)",
                                            h.version));
    }
    h.n_tensors = c.read<uint64_t>("tensor count");
    h.n_kv = c.read<uint64_t>("metadata count");
    if (h.n_kv > c.left() / min_kv_bytes)
        c.fail(fmt::format("metadata count {} cannot fit in the {} bytes left", h.n_kv, c.left()));
    if (h.n_tensors > c.left() / min_tensor_info_bytes)
        c.fail(fmt::format("tensor count {} cannot fit in the {} bytes left", h.n_tensors, c.left()));
    return h;
}

// The key-value pairs: non-empty, unique keys of known value types.
std::vector<kv> read_metadata(cursor& c, uint64_t n_kv) {
    std::vector<kv> kvs;
    std::unordered_set<std::string> keys;
    kvs.reserve(size_t(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string key = c.read_string(fmt::format("key of metadata entry {}", i));
        if (key.empty()) c.fail(fmt::format("metadata entry {} has an empty key", i));
        if (!keys.insert(key).second) c.fail(fmt::format("duplicate metadata key '{}'", key));
        const uint32_t t = c.read<uint32_t>(fmt::format("type of '{}'", key));
        if (!vtype_is_valid(t)) c.fail(fmt::format("key '{}': unknown value type {}", key, t));
        value v = read_value(c, vtype(t), key);
        kvs.push_back({std::move(key), std::move(v)});
    }
    return kvs;
}

// general.alignment when present (a u32 power of two up to max_alignment), else the default.
size_t read_alignment(const cursor& c, const std::vector<kv>& kvs) {
    for (const kv& e : kvs) {
        if (e.key != "general.alignment") continue;
        if (e.val.type() != vtype::u32)
            c.fail(fmt::format("general.alignment is {}, expected u32", e.val.describe()));
        const int64_t al = e.val.as_int();
        if (al <= 0 || al > int64_t(max_alignment) || (al & (al - 1)) != 0)
            c.fail(fmt::format("general.alignment {} is not a power of two up to {}", al, max_alignment));
        return size_t(al);
    }
    return default_alignment;
}

// One tensor info: a name not in names (added), dims, shape, type, size and aligned offset.
tensor_info read_tensor_info(cursor& c, uint64_t i, size_t alignment,
                             std::unordered_set<std::string>& names) {
    tensor_info ti;
    ti.name = c.read_string(fmt::format("name of tensor {}", i));
    if (ti.name.empty() || ti.name.size() >= PA_MAX_NAME)
        c.fail(
            fmt::format("tensor {}: name length {} (must be 1 to {})", i, ti.name.size(), PA_MAX_NAME - 1));
    if (!names.insert(ti.name).second) c.fail(fmt::format("duplicate tensor name '{}'", ti.name));
    ti.n_dims = c.read<uint32_t>(fmt::format("dims of tensor '{}'", ti.name));
    if (ti.n_dims < 1 || ti.n_dims > max_dims)
        c.fail(fmt::format("tensor '{}': {} dimensions (1 to {} supported)", ti.name, ti.n_dims, max_dims));
    for (uint32_t d = 0; d < ti.n_dims; ++d) {
        const uint64_t ne = c.read<uint64_t>(fmt::format("shape of tensor '{}'", ti.name));
        if (ne > uint64_t(std::numeric_limits<int64_t>::max()))
            c.fail(fmt::format("tensor '{}': dimension {} is {} (too large)", ti.name, d, ne));
        ti.ne[d] = int64_t(ne);
    }
    const uint32_t type = c.read<uint32_t>(fmt::format("type of tensor '{}'", ti.name));
    if (!type_is_valid(int(type)) || type == PA_TYPE_I32)
        c.fail(fmt::format("tensor '{}': unsupported type id {}", ti.name, type));
    ti.type = pa_type(type);
    if (std::string bad = tensor_size(ti); !bad.empty()) c.fail(fmt::format("tensor '{}': {}", ti.name, bad));
    ti.offset = c.read<uint64_t>(fmt::format("offset of tensor '{}'", ti.name));
    if (ti.offset % alignment != 0)
        c.fail(fmt::format("tensor '{}': offset {} is not a multiple of the alignment {}", ti.name, ti.offset,
                           alignment));
    return ti;
}

std::vector<tensor_info> read_tensor_infos(cursor& c, uint64_t n_tensors, size_t alignment) {
    std::vector<tensor_info> tensors;
    std::unordered_set<std::string> names;
    tensors.reserve(size_t(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i)
        tensors.push_back(read_tensor_info(c, i, alignment, names));
    return tensors;
}

// The data section follows the infos, padded to the alignment (a file without tensors may end
// before the padding); every tensor's bytes must lie inside it, without overlapping another's.
// Returns the section's offset.
size_t locate_data(const cursor& c, const std::vector<tensor_info>& tensors, size_t alignment,
                   size_t file_size) {
    const size_t data_offset = (c.pos() + alignment - 1) / alignment * alignment;
    if (tensors.empty()) return std::min(data_offset, file_size);
    if (data_offset > file_size)
        c.fail(fmt::format("truncated: data section starts at {} but the file has {} bytes", data_offset,
                           file_size));
    const size_t data_bytes = file_size - data_offset;
    for (const tensor_info& ti : tensors) {
        if (ti.offset > data_bytes || ti.size > data_bytes - ti.offset)
            c.fail(fmt::format("tensor '{}': bytes [{}, +{}) lie outside the {}-byte data section", ti.name,
                               ti.offset, ti.size, data_bytes));
    }
    std::vector<const tensor_info*> by_offset;
    by_offset.reserve(tensors.size());
    for (const tensor_info& ti : tensors)
        by_offset.push_back(&ti);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        if (by_offset[i - 1]->offset + by_offset[i - 1]->size > by_offset[i]->offset)
            c.fail(fmt::format("tensors '{}' and '{}' overlap", by_offset[i - 1]->name, by_offset[i]->name));
    }
    return data_offset;
}

} // namespace

file::file(const std::string& path) : path_(path), map_(std::make_unique<mapping>()) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw error(fmt::format("{}: not a regular file", path));
    }
    map_->size = size_t(st.st_size);
    if (map_->size < header_bytes) {
        ::close(fd);
        throw error(fmt::format("{}: {} bytes is too small for a GGUF header", path, map_->size));
    }
    void* m = mmap(nullptr, map_->size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw error(fmt::format("{}: mmap failed: {}", path, std::strerror(errno)));
    map_->map = m;
    map_->data = static_cast<const uint8_t*>(m);
    parse();
}

std::unique_ptr<file> file::from_memory(std::span<const uint8_t> bytes, const std::string& name) {
    std::unique_ptr<file> f(new file());
    f->path_ = name;
    f->map_ = std::make_unique<mapping>();
    f->map_->owned.assign(bytes.begin(), bytes.end());
    f->map_->data = f->map_->owned.data();
    f->map_->size = bytes.size();
    if (bytes.size() < header_bytes)
        f->fail(fmt::format("{} bytes is too small for a GGUF header", bytes.size()));
    f->parse();
    return f;
}

file::~file() = default;

size_t file::file_size() const {
    return map_->size;
}

void file::fail(const std::string& what) const {
    throw error(fmt::format("{}: {}", path_, what));
}

void file::parse() {
    cursor c(map_->data, map_->size, path_);
    const header h = read_header(c, map_->data);
    version_ = h.version;
    kvs_ = read_metadata(c, h.n_kv);
    alignment_ = read_alignment(c, kvs_);
    tensors_ = read_tensor_infos(c, h.n_tensors, alignment_);
    data_offset_ = locate_data(c, tensors_, alignment_, map_->size);
}

const value* file::find(std::string_view key) const {
    for (const kv& e : kvs_)
        if (e.key == key) return &e.val;
    return nullptr;
}

const value& file::get(std::string_view key) const {
    const value* v = find(key);
    if (!v) fail(fmt::format("missing key '{}'", key));
    return *v;
}

// Typed getters: a type mismatch becomes "<path>: key 'k': <reason>".
#define PA_GGUF_TYPED(expr)                                                                                  \
    try {                                                                                                    \
        return expr;                                                                                         \
    } catch (const error& e) {                                                                               \
        fail(fmt::format("key '{}': {}", key, e.what()));                                                    \
    }

std::string file::get_string(std::string_view key) const {
    PA_GGUF_TYPED(get(key).as_string())} std::string file::get_string(std::string_view key,
                                                                      std::string_view def) const {
    if (!find(key)) return std::string(def);
    return get_string(key);
}
int64_t file::get_int(std::string_view key) const {
    PA_GGUF_TYPED(get(key).as_int())} int64_t file::get_int(std::string_view key, int64_t def) const {
    return find(key) ? get_int(key) : def;
}
double file::get_float(std::string_view key) const {
    PA_GGUF_TYPED(get(key).as_float())
}
double file::get_float(std::string_view key, double def) const {
    return find(key) ? get_float(key) : def;
}
bool file::get_bool(std::string_view key, bool def) const {
    if (!find(key)) return def;
    PA_GGUF_TYPED(get(key).as_bool())
}
#undef PA_GGUF_TYPED

const tensor_info* file::find_tensor(std::string_view name) const {
    for (const tensor_info& ti : tensors_)
        if (ti.name == name) return &ti;
    return nullptr;
}

const tensor_info& file::get_tensor(std::string_view name) const {
    const tensor_info* ti = find_tensor(name);
    if (!ti) fail(fmt::format("missing tensor '{}'", name));
    return *ti;
}

std::span<const uint8_t> file::tensor_bytes(const tensor_info& ti) const {
    return {map_->data + data_offset_ + ti.offset, ti.size};
}

tensor* file::make_tensor(context& ctx, const tensor_info& ti) const {
    tensor* t = ctx.new_tensor(ti.type, int(ti.n_dims), ti.ne, false);
    const uint8_t* p = map_->data + data_offset_ + ti.offset;
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) { // odd alignment: copy, never misread
        ctx.ensure_host_data(t);
        std::memcpy(t->data, p, ti.size);
    } else {
        t->data = const_cast<uint8_t*>(p); // read-only mapping: PARAM tensors are never written
    }
    t->flags |= PA_FLAG_PARAM;
    std::snprintf(t->name, sizeof t->name, "%s", ti.name.c_str());
    return t;
}

tensor* file::make_tensor(context& ctx, std::string_view name) const {
    return make_tensor(ctx, get_tensor(name));
}

} // namespace pa::gguf
