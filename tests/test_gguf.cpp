// test_gguf.cpp - GGUF writer -> reader round trips: metadata of every type, tensors of every
// storage type, alignment, v2 files, typed access errors, tensors pointing into the mapping.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "pa/error.h"
#include "pa/gguf.h"

namespace gguf = pa::gguf;

namespace {

std::vector<uint8_t> bytes_of(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
    return v;
}

gguf::writer sample_writer() {
    gguf::writer w;
    w.set("general.architecture", gguf::value::of_string("llama"));
    w.set("u8", gguf::value::of_u8(200));
    w.set("i32", gguf::value::of_i32(-5));
    w.set("u32", gguf::value::of_u32(4000000000u));
    w.set("i64", gguf::value::of_i64(-(int64_t(1) << 40)));
    w.set("u64", gguf::value::of_u64(uint64_t(1) << 50));
    w.set("f32", gguf::value::of_f32(0.25f));
    w.set("f64", gguf::value::of_f64(-1.5));
    w.set("bool", gguf::value::of_bool(true));
    w.set("strings", gguf::value::of_strings({"a", "", "hello world", "\xe2\x96\x81x"}));
    const float fs[] = {1.0f, -2.5f, 3.25f};
    w.set("floats", gguf::value::of_f32s(fs));
    const int32_t is[] = {7, -8, 9, 10};
    w.set("ints", gguf::value::of_i32s(is));
    w.set("empty", gguf::value::of_i32s({}));
    const int64_t ne_a[] = {3, 5};
    w.add_tensor("a", PA_TYPE_F32, ne_a, bytes_of(3 * 5 * 4, 1));
    const int64_t ne_b[] = {64, 2};
    w.add_tensor("b.q8", PA_TYPE_Q8_0, ne_b, bytes_of(2 * 2 * 34, 2));
    const int64_t ne_c[] = {4, 1, 2, 3};
    w.add_tensor("c.f16", PA_TYPE_F16, ne_c, bytes_of(4 * 6 * 2, 3));
    const int64_t ne_d[] = {32};
    w.add_tensor("d.q41", PA_TYPE_Q4_1, ne_d, bytes_of(20, 4));
    return w;
}

void check_sample(const gguf::file& f, uint32_t version = 3) {
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.data_offset() % 32, 0u);
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_int("u8"), 200);
    EXPECT_EQ(f.get_int("i32"), -5);
    EXPECT_EQ(f.get_int("u32"), 4000000000LL);
    EXPECT_EQ(f.get_int("i64"), -(int64_t(1) << 40));
    EXPECT_EQ(f.get_int("u64"), int64_t(1) << 50);
    EXPECT_EQ(f.get_float("f32"), 0.25);
    EXPECT_EQ(f.get_float("f64"), -1.5);
    EXPECT_TRUE(f.get_bool("bool", false));
    EXPECT_EQ(f.get("u8").type(), gguf::vtype::u8);
    EXPECT_EQ(f.get("f64").type(), gguf::vtype::f64);
    const std::vector<std::string> strs = {"a", "", "hello world", "\xe2\x96\x81x"};
    EXPECT_EQ(f.get("strings").strings(), strs);
    EXPECT_EQ(f.get("floats").floats(), (std::vector<float>{1.0f, -2.5f, 3.25f}));
    EXPECT_EQ(f.get("ints").ints(), (std::vector<int64_t>{7, -8, 9, 10}));
    EXPECT_EQ(f.get("empty").size(), 0u);
    EXPECT_EQ(f.get_int("missing", 42), 42);
    EXPECT_EQ(f.get_string("missing", "dflt"), "dflt");
    ASSERT_EQ(f.metadata().size(), 13u);
    EXPECT_EQ(f.metadata()[1].key, "u8"); // insertion order kept

    ASSERT_EQ(f.tensors().size(), 4u);
    const gguf::tensor_info& b = f.get_tensor("b.q8");
    EXPECT_EQ(b.type, PA_TYPE_Q8_0);
    EXPECT_EQ(b.n_dims, 2u);
    EXPECT_EQ(b.ne[0], 64);
    EXPECT_EQ(b.ne[1], 2);
    EXPECT_EQ(b.size, 2u * 2 * 34);
    EXPECT_EQ(b.offset % 32, 0u);
    const std::vector<uint8_t> expect = bytes_of(2 * 2 * 34, 2);
    const auto got = f.tensor_bytes(b);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expect.begin(), expect.end()));
    const gguf::tensor_info& c = f.get_tensor("c.f16");
    EXPECT_EQ(c.ne[3], 3);
    EXPECT_EQ(c.nelements(), 24);
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

std::string temp_path(const char* name) {
    return (std::filesystem::temp_directory_path() / fmt::format("pa_test_{}_{}", getpid(), name)).string();
}

} // namespace

TEST(gguf, round_trip_in_memory) {
    const std::vector<uint8_t> img = sample_writer().to_memory();
    const auto f = gguf::file::from_memory(img, "mem.gguf");
    check_sample(*f);
}

TEST(gguf, round_trip_on_disk_and_mapped_tensors) {
    const std::string path = temp_path("rt.gguf");
    sample_writer().write(path);
    {
        gguf::file f(path);
        check_sample(f);
        pa::context ctx;
        pa::tensor* t = f.make_tensor(ctx, "a");
        EXPECT_EQ(t->type, PA_TYPE_F32);
        EXPECT_EQ(t->ne[0], 3);
        EXPECT_EQ(t->ne[1], 5);
        EXPECT_EQ(t->nb[1], 12u);
        EXPECT_TRUE(t->flags & PA_FLAG_PARAM);
        EXPECT_STREQ(t->name, "a");
        EXPECT_EQ(static_cast<const void*>(t->data), static_cast<const void*>(f.tensor_bytes(f.get_tensor("a")).data()));
        EXPECT_EQ(std::memcmp(t->data, bytes_of(60, 1).data(), 60), 0);
        pa::tensor* q = f.make_tensor(ctx, "d.q41");
        EXPECT_EQ(q->type, PA_TYPE_Q4_1);
        EXPECT_EQ(q->nb[0], 20u);
        EXPECT_THROW(f.make_tensor(ctx, "nope"), pa::error);
    }
    std::remove(path.c_str());
}

TEST(gguf, custom_alignment) {
    gguf::writer w = sample_writer();
    w.set("general.alignment", gguf::value::of_u32(128));
    const auto f = gguf::file::from_memory(w.to_memory(), "al.gguf");
    EXPECT_EQ(f->alignment(), 128u);
    EXPECT_EQ(f->data_offset() % 128, 0u);
    for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % 128, 0u);
    EXPECT_EQ(f->get_int("u8"), 200);
}

TEST(gguf, version2_is_read) {
    std::vector<uint8_t> img = sample_writer().to_memory();
    img[4] = 2;
    const auto f = gguf::file::from_memory(img, "v2.gguf");
    check_sample(*f, 2);
}

TEST(gguf, typed_access_errors_name_file_and_key) {
    const auto f = gguf::file::from_memory(sample_writer().to_memory(), "typed.gguf");
    try {
        f->get_int("general.architecture");
        FAIL() << "no throw";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("typed.gguf"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("general.architecture"), std::string::npos) << e.what();
    }
    EXPECT_THROW(f->get_string("u32"), pa::error);
    EXPECT_THROW(f->get_float("strings"), pa::error);
    EXPECT_THROW(f->get("floats").strings(), pa::error);
    EXPECT_THROW(f->get("missing"), pa::error);
    EXPECT_THROW(f->get_tensor("missing"), pa::error);
}

TEST(gguf, writer_rejects_bad_tensors) {
    gguf::writer w;
    const int64_t ne[] = {33, 2};
    EXPECT_THROW(w.add_tensor("x", PA_TYPE_Q8_0, ne, std::vector<uint8_t>(100)), pa::error); // not whole blocks
    const int64_t ne2[] = {4, 2};
    EXPECT_THROW(w.add_tensor("x", PA_TYPE_F32, ne2, std::vector<uint8_t>(31)), pa::error); // wrong size
    w.add_tensor("x", PA_TYPE_F32, ne2, std::vector<uint8_t>(32));
    EXPECT_THROW(w.add_tensor("x", PA_TYPE_F32, ne2, std::vector<uint8_t>(32)), pa::error); // duplicate
    EXPECT_THROW(w.add_tensor(std::string(64, 'n'), PA_TYPE_F32, ne2, std::vector<uint8_t>(32)), pa::error);
    w.set("k", gguf::value::of_u32(1));
    w.set("k", gguf::value::of_string("replaced"));
    const auto f = gguf::file::from_memory(w.to_memory(), "w.gguf");
    EXPECT_EQ(f->get_string("k"), "replaced");
    EXPECT_EQ(f->metadata().size(), 1u);
}

TEST(gguf, open_errors_name_the_file) {
    try {
        gguf::file f("/nonexistent/dir/model.gguf");
        FAIL() << "no throw";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos);
    }
    const std::string path = temp_path("empty.gguf");
    std::fclose(std::fopen(path.c_str(), "wb"));
    EXPECT_THROW(gguf::file f(path), pa::error);
    std::remove(path.c_str());
}
