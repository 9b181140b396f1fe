// gguf_target.h - fuzz body for the GGUF reader (pa::gguf::file::from_memory), the writer
// (whatever the reader accepts must survive a write/read round trip unchanged) and the model
// loader on top (hyperparameters, tokenizer, weight shapes).
#pragma once

#include <fmt/format.h>

#include "fuzz_util.h"
#include "model.h"
#include "pa/error.h"
#include "pa/gguf.h"

namespace pa::fuzz {

// Every typed accessor either answers or throws pa::error; nothing else may escape.
inline void touch_value(const gguf::value& v) {
    (void)v.describe();
    (void)v.size();
    try { (void)v.as_int(); } catch (const pa::error&) {}
    try { (void)v.as_float(); } catch (const pa::error&) {}
    try { (void)v.as_bool(); } catch (const pa::error&) {}
    try { (void)v.as_string(); } catch (const pa::error&) {}
    try { (void)v.strings(); } catch (const pa::error&) {}
    try { check(v.ints().size() == v.size(), "ints() size differs from size()"); } catch (const pa::error&) {}
    try { check(v.floats().size() == v.size(), "floats() size differs from size()"); } catch (const pa::error&) {}
}

inline void same_files(const gguf::file& a, const gguf::file& b) {
    check(a.metadata().size() == b.metadata().size(), "round trip changed the metadata count");
    for (size_t i = 0; i < a.metadata().size(); ++i) {
        const gguf::kv& x = a.metadata()[i];
        const gguf::kv& y = b.metadata()[i];
        check(x.key == y.key && x.val.type() == y.val.type() && x.val.describe() == y.val.describe(),
              fmt::format("round trip changed metadata '{}'", x.key));
        if (x.val.type() == gguf::vtype::string) check(x.val.as_string() == y.val.as_string(), "string value changed");
        if (x.val.is_array() && x.val.elem_type() == gguf::vtype::string)
            check(x.val.strings() == y.val.strings(), "string array changed");
        else check(std::ranges::equal(x.val.raw(), y.val.raw()), "raw value bytes changed");
    }
    check(a.tensors().size() == b.tensors().size(), "round trip changed the tensor count");
    for (size_t i = 0; i < a.tensors().size(); ++i) {
        const gguf::tensor_info& x = a.tensors()[i];
        const gguf::tensor_info& y = b.tensors()[i];
        check(x.name == y.name && x.type == y.type && x.n_dims == y.n_dims && x.size == y.size,
              fmt::format("round trip changed tensor '{}'", x.name));
        for (size_t d = 0; d < gguf::max_dims; ++d) check(x.ne[d] == y.ne[d], "round trip changed a shape");
        check(std::ranges::equal(a.tensor_bytes(x), b.tensor_bytes(y)), "round trip changed tensor bytes");
    }
}

inline void run_gguf(std::span<const uint8_t> data) {
    std::unique_ptr<gguf::file> f;
    try {
        f = gguf::file::from_memory(data, "fuzz.gguf");
    } catch (const pa::error& e) {
        check(std::string_view(e.what()).starts_with("fuzz.gguf: "), "error does not name the file");
        return;
    }
    check(f->data_offset() <= f->file_size(), "data section starts past the end");
    for (const gguf::kv& e : f->metadata()) {
        check(!e.key.empty() && f->find(e.key) == &e.val, "metadata lookup is inconsistent");
        touch_value(e.val);
    }
    context ctx;
    uint64_t sum = 0;
    for (const gguf::tensor_info& ti : f->tensors()) {
        const std::span<const uint8_t> bytes = f->tensor_bytes(ti);
        check(ti.size > 0 && f->data_offset() + ti.offset + ti.size <= f->file_size(), "tensor outside the file");
        sum += bytes.front() + bytes.back(); // ASan: the span is readable
        tensor* t = f->make_tensor(ctx, ti);
        check(nbytes(t) == ti.size, "tensor record size differs from the tensor info");
    }
    (void)sum;

    gguf::writer w;
    w.set_all(f->metadata());
    for (const gguf::tensor_info& ti : f->tensors())
        w.add_tensor_ref(ti.name, ti.type, std::span<const int64_t>(ti.ne, ti.n_dims), f->tensor_bytes(ti));
    const std::vector<uint8_t> image = w.to_memory();
    std::unique_ptr<gguf::file> again;
    try {
        again = gguf::file::from_memory(image, "roundtrip.gguf");
    } catch (const pa::error& e) {
        throw invariant_broken(fmt::format("the writer's copy of an accepted file is rejected: {}", e.what()));
    }
    same_files(*f, *again);

    try {
        const model::model m(std::move(f));
        (void)m.describe();
        const std::vector<int32_t> ids = m.tok().encode("Once upon a time <s> \xe2\x96\x81 \xff!", true);
        for (int32_t id : ids) check(id >= 0 && id < m.tok().n_vocab(), "token id outside the vocabulary");
        (void)m.tok().decode(ids, true);
    } catch (const pa::error&) {
    }
}

} // namespace pa::fuzz
