// gguf.h - GGUF (v2, v3) reader and writer.
//
// File layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv key/value
// pairs (string key, u32 value type, value); n_tensors tensor infos (string name, u32 n_dims,
// u64 ne[n_dims] with ne[0] fastest, u32 type, u64 offset relative to the data section); padding
// to general.alignment (default 32); the data section. Strings are u64 length + bytes (no NUL).
//
// The reader validates everything before it trusts it: every count and length is checked
// against the bytes left in the file before anything is reserved, so a hostile file can make
// it allocate at most O(file size). Tensor data is not copied: it stays in a read-only mmap of
// the file, which lives as long as the gguf::file. Every failure is a pa::error whose one-line
// message starts with the file name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pa/context.h"

namespace pa::gguf {

// GGUF metadata value types (the on-disk ids).
enum class vtype : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12
};
std::string_view vtype_name(vtype t); // "u32", "string", ...; "?" for unknown ids
bool vtype_is_valid(uint32_t id);
size_t vtype_size(vtype t); // bytes of a scalar; 0 for string and array

inline constexpr uint32_t default_alignment = 32;
inline constexpr size_t max_dims = 4;

// One metadata value: a scalar, a string, or an array of scalars or strings (nested arrays are
// rejected by the reader and not offered by the writer). Accessors throw pa::error when the
// stored type does not fit the request (integers convert when the value fits).
class value {
public:
    value() = default;
    static value of_u8(uint8_t v);
    static value of_i32(int32_t v);
    static value of_u32(uint32_t v);
    static value of_i64(int64_t v);
    static value of_u64(uint64_t v);
    static value of_f32(float v);
    static value of_f64(double v);
    static value of_bool(bool v);
    static value of_string(std::string v);
    static value of_strings(std::vector<std::string> v);
    static value of_f32s(std::span<const float> v);
    static value of_i32s(std::span<const int32_t> v);
    // Array of numeric elements from raw little-endian bytes (n * vtype_size(elem) bytes).
    static value of_array(vtype elem, uint64_t n, std::vector<uint8_t> raw);
    // Scalar of any numeric/bool type from its raw little-endian bytes (vtype_size(t) bytes).
    static value of_scalar(vtype t, std::span<const uint8_t> raw);

    vtype type() const { return type_; }
    vtype elem_type() const { return elem_; } // for arrays
    bool is_array() const { return type_ == vtype::array; }
    bool is_integer() const;
    uint64_t size() const; // array element count (1 for scalars)

    int64_t as_int() const;   // any integer type (u64 above INT64_MAX throws), bool as 0/1
    double as_float() const;  // f32, f64 or any integer
    bool as_bool() const;     // boolean or integer
    const std::string& as_string() const;
    const std::vector<std::string>& strings() const; // array of string
    std::vector<int64_t> ints() const;               // array of integers
    std::vector<float> floats() const;               // array of numbers
    std::span<const uint8_t> raw() const { return raw_; } // numeric arrays; scalars: their bytes
    std::string describe() const; // short form for listings: "u32 4096", "array<string>[49152]"

private:
    double scalar_float(const uint8_t* p, vtype t) const;
    int64_t scalar_int(const uint8_t* p, vtype t) const;

    vtype type_ = vtype::u8;
    vtype elem_ = vtype::u8;
    uint64_t n_ = 1;
    std::vector<uint8_t> raw_; // scalar bytes, or numeric array elements
    std::string str_;
    std::vector<std::string> strs_;
};

struct kv {
    std::string key;
    value val;
};

struct tensor_info {
    std::string name;
    pa_type type = PA_TYPE_F32;
    uint32_t n_dims = 0;
    int64_t ne[max_dims] = {1, 1, 1, 1};
    uint64_t offset = 0; // relative to the data section
    size_t size = 0;     // bytes
    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class file {
public:
    // Maps and validates a file. Throws pa::error("<path>: <problem>").
    explicit file(const std::string& path);
    // Validates an in-memory image (tests, fuzzers); the bytes are copied. `name` prefixes errors.
    static std::unique_ptr<file> from_memory(std::span<const uint8_t> bytes, const std::string& name);

    ~file();
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    size_t alignment() const { return alignment_; }
    size_t data_offset() const { return data_offset_; }
    size_t file_size() const;

    const std::vector<kv>& metadata() const { return kvs_; }
    const value* find(std::string_view key) const; // nullptr if absent
    const value& get(std::string_view key) const;  // throws "<path>: missing key 'k'"
    // Typed access; errors name the file and key. The defaulted forms return def when absent.
    std::string get_string(std::string_view key) const;
    std::string get_string(std::string_view key, std::string_view def) const;
    int64_t get_int(std::string_view key) const;
    int64_t get_int(std::string_view key, int64_t def) const;
    double get_float(std::string_view key) const;
    double get_float(std::string_view key, double def) const;
    bool get_bool(std::string_view key, bool def) const;

    const std::vector<tensor_info>& tensors() const { return tensors_; }
    const tensor_info* find_tensor(std::string_view name) const; // nullptr if absent
    const tensor_info& get_tensor(std::string_view name) const;  // throws if absent
    std::span<const uint8_t> tensor_bytes(const tensor_info& ti) const;

    // A leaf tensor in ctx whose data points into the mapping (no copy), flagged PA_FLAG_PARAM
    // and named after the GGUF tensor. The file must outlive every use of the tensor.
    tensor* make_tensor(context& ctx, const tensor_info& ti) const;
    tensor* make_tensor(context& ctx, std::string_view name) const; // throws if absent

private:
    struct mapping;
    file() = default;
    void parse();
    [[noreturn]] void fail(const std::string& what) const;

    std::string path_;
    std::unique_ptr<mapping> map_;
    uint32_t version_ = 0;
    size_t alignment_ = default_alignment;
    size_t data_offset_ = 0;
    std::vector<kv> kvs_;
    std::vector<tensor_info> tensors_;
};

// Builds a GGUF v3 file: metadata in insertion order (set() on an existing key replaces its
// value in place), tensors in insertion order, each aligned to general.alignment.
class writer {
public:
    void set(const std::string& key, value v);
    // Copies of the metadata of an existing file (e.g. when requantizing), in its order.
    void set_all(const std::vector<kv>& kvs);
    void remove(std::string_view key);
    // data: exactly the tensor's byte size for its type and shape (checked).
    void add_tensor(const std::string& name, pa_type type, std::span<const int64_t> ne, std::vector<uint8_t> data);
    // As add_tensor, but the caller keeps `data` alive until write() returns.
    void add_tensor_ref(const std::string& name, pa_type type, std::span<const int64_t> ne,
                        std::span<const uint8_t> data);

    void write(const std::string& path) const; // throws pa::error naming the path
    std::vector<uint8_t> to_memory() const;

private:
    struct pending {
        tensor_info info;
        std::vector<uint8_t> owned;
        std::span<const uint8_t> data;
    };
    void check_tensor(const std::string& name, pa_type type, std::span<const int64_t> ne, size_t bytes,
                      tensor_info& out) const;
    size_t alignment() const;
    template <class Sink> void emit(Sink& sink) const;

    std::vector<kv> kvs_;
    std::vector<pending> tensors_;
};

} // namespace pa::gguf
