// gguf_value.cpp - GGUF metadata values: construction and typed access.
#include <cstring>
#include <fmt/format.h>
#include <limits>

#include "pa/error.h"
#include "pa/gguf.h"

namespace pa::gguf {
namespace {

struct vtype_entry { std::string_view name; size_t size; };
constexpr vtype_entry vtype_table[] = {
    {"u8", 1}, {"i8", 1}, {"u16", 2}, {"i16", 2}, {"u32", 4}, {"i32", 4}, {"f32", 4},
    {"bool", 1}, {"string", 0}, {"array", 0}, {"u64", 8}, {"i64", 8}, {"f64", 8},
};

template <class T> T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <class T> value scalar(vtype t, T v) {
    uint8_t raw[sizeof v];
    std::memcpy(raw, &v, sizeof v);
    return value::of_scalar(t, raw);
}

bool is_int_type(vtype t) {
    switch (t) {
    case vtype::u8: case vtype::i8: case vtype::u16: case vtype::i16: case vtype::u32:
    case vtype::i32: case vtype::u64: case vtype::i64: case vtype::boolean: return true;
    default: return false;
    }
}

} // namespace

bool vtype_is_valid(uint32_t id) { return id < std::size(vtype_table); }
std::string_view vtype_name(vtype t) {
    return vtype_is_valid(uint32_t(t)) ? vtype_table[uint32_t(t)].name : std::string_view("?");
}
size_t vtype_size(vtype t) { return vtype_is_valid(uint32_t(t)) ? vtype_table[uint32_t(t)].size : 0; }

// A scalar is stored like a one-element array whose type is the element type.
value value::of_array(vtype elem, uint64_t n, std::vector<uint8_t> raw) {
    const size_t es = vtype_size(elem);
    if (es == 0) throw error(fmt::format("gguf value: array of {} is not a numeric array", vtype_name(elem)));
    if (raw.size() / es != n || raw.size() % es != 0)
        throw error(fmt::format("gguf value: {} bytes do not hold {} {} elements", raw.size(), n, vtype_name(elem)));
    value v;
    v.type_ = vtype::array;
    v.elem_ = elem;
    v.n_ = n;
    v.raw_ = std::move(raw);
    return v;
}

value value::of_scalar(vtype t, std::span<const uint8_t> raw) {
    value r = of_array(t, 1, std::vector<uint8_t>(raw.begin(), raw.end()));
    r.type_ = t;
    return r;
}

value value::of_u8(uint8_t v) { return scalar(vtype::u8, v); }
value value::of_i32(int32_t v) { return scalar(vtype::i32, v); }
value value::of_u32(uint32_t v) { return scalar(vtype::u32, v); }
value value::of_i64(int64_t v) { return scalar(vtype::i64, v); }
value value::of_u64(uint64_t v) { return scalar(vtype::u64, v); }
value value::of_f32(float v) { return scalar(vtype::f32, v); }
value value::of_f64(double v) { return scalar(vtype::f64, v); }
value value::of_bool(bool v) { return scalar(vtype::boolean, uint8_t(v ? 1 : 0)); }

value value::of_string(std::string s) {
    value v;
    v.type_ = vtype::string;
    v.str_ = std::move(s);
    return v;
}

value value::of_strings(std::vector<std::string> s) {
    value v;
    v.type_ = vtype::array;
    v.elem_ = vtype::string;
    v.n_ = s.size();
    v.strs_ = std::move(s);
    return v;
}

value value::of_f32s(std::span<const float> s) {
    std::vector<uint8_t> raw(s.size_bytes());
    if (!s.empty()) std::memcpy(raw.data(), s.data(), raw.size());
    return of_array(vtype::f32, s.size(), std::move(raw));
}

value value::of_i32s(std::span<const int32_t> s) {
    std::vector<uint8_t> raw(s.size_bytes());
    if (!s.empty()) std::memcpy(raw.data(), s.data(), raw.size());
    return of_array(vtype::i32, s.size(), std::move(raw));
}

bool value::is_integer() const { return !is_array() && is_int_type(type_); }
uint64_t value::size() const { return is_array() ? n_ : 1; }

int64_t value::scalar_int(const uint8_t* p, vtype t) const {
    switch (t) {
    case vtype::u8: return load<uint8_t>(p);
    case vtype::i8: return load<int8_t>(p);
    case vtype::u16: return load<uint16_t>(p);
    case vtype::i16: return load<int16_t>(p);
    case vtype::u32: return load<uint32_t>(p);
    case vtype::i32: return load<int32_t>(p);
    case vtype::boolean: return load<uint8_t>(p) != 0;
    case vtype::i64: return load<int64_t>(p);
    case vtype::u64: {
        const uint64_t u = load<uint64_t>(p);
        if (u > uint64_t(std::numeric_limits<int64_t>::max()))
            throw error(fmt::format("u64 value {} does not fit in int64", u));
        return int64_t(u);
    }
    default: throw error(fmt::format("expected an integer, found {}", vtype_name(t)));
    }
}

double value::scalar_float(const uint8_t* p, vtype t) const {
    if (t == vtype::f32) return load<float>(p);
    if (t == vtype::f64) return load<double>(p);
    return double(scalar_int(p, t));
}

int64_t value::as_int() const {
    if (is_array() || type_ == vtype::string)
        throw error(fmt::format("expected an integer, found {}", describe()));
    if (type_ == vtype::f32 || type_ == vtype::f64)
        throw error(fmt::format("expected an integer, found {}", vtype_name(type_)));
    return scalar_int(raw_.data(), type_);
}

double value::as_float() const {
    if (is_array() || type_ == vtype::string) throw error(fmt::format("expected a number, found {}", describe()));
    return scalar_float(raw_.data(), type_);
}

bool value::as_bool() const { return as_int() != 0; }

const std::string& value::as_string() const {
    if (type_ != vtype::string) throw error(fmt::format("expected a string, found {}", describe()));
    return str_;
}

const std::vector<std::string>& value::strings() const {
    if (!is_array() || elem_ != vtype::string)
        throw error(fmt::format("expected an array of strings, found {}", describe()));
    return strs_;
}

std::vector<int64_t> value::ints() const {
    if (!is_array() || !is_int_type(elem_))
        throw error(fmt::format("expected an array of integers, found {}", describe()));
    const size_t es = vtype_size(elem_);
    std::vector<int64_t> out(n_);
    for (uint64_t i = 0; i < n_; ++i) out[i] = scalar_int(raw_.data() + i * es, elem_);
    return out;
}

std::vector<float> value::floats() const {
    if (!is_array() || elem_ == vtype::string)
        throw error(fmt::format("expected an array of numbers, found {}", describe()));
    const size_t es = vtype_size(elem_);
    std::vector<float> out(n_);
    for (uint64_t i = 0; i < n_; ++i) out[i] = float(scalar_float(raw_.data() + i * es, elem_));
    return out;
}

std::string value::describe() const {
    if (is_array()) return fmt::format("array<{}>[{}]", vtype_name(elem_), n_);
    if (type_ == vtype::string) {
        const size_t max_shown = 60;
        std::string s = str_.size() > max_shown ? str_.substr(0, max_shown) + "..." : str_;
        for (char& c : s)
            if (c == '\n' || c == '\r') c = ' ';
        return fmt::format("string \"{}\"", s);
    }
    if (type_ == vtype::f32 || type_ == vtype::f64) return fmt::format("{} {}", vtype_name(type_), as_float());
    if (type_ == vtype::u64) return fmt::format("u64 {}", load<uint64_t>(raw_.data()));
    return fmt::format("{} {}", vtype_name(type_), as_int());
}

} // namespace pa::gguf
