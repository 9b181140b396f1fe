// test_gguf_malformed.cpp - hostile GGUF images: every one must be rejected with a pa::error
// whose message names the file, before any large allocation, and never crash. Images are
// written field by field here (not with gguf::writer) so each field can be corrupted.
#include <cstring>
#include <gtest/gtest.h>
#include <random>

#include "pa/error.h"
#include "pa/gguf.h"

namespace gguf = pa::gguf;

namespace {

// A small valid image whose fields can be overridden.
struct image_spec {
    uint32_t version = 3;
    uint64_t n_tensors = 2, n_kv = 3;
    uint64_t key_len = 0;          // 0: the real length
    uint32_t value_type = 8;       // string
    uint32_t array_elem_type = 8;  // string
    uint64_t array_len = 3;
    uint32_t alignment_type = 4;   // u32
    uint32_t alignment = 32;
    uint32_t tensor_type = 0;      // F32 (first tensor)
    uint32_t n_dims = 2;
    uint64_t ne0 = 4, ne1 = 2;
    uint64_t offset1 = 32;         // second tensor's offset (first is 0, 32 bytes)
    const char* name1 = "t1";
    const char* key2 = "k.arr";
};

struct bytes {
    std::vector<uint8_t> v;
    template <class T> void put(T x) {
        const auto* p = reinterpret_cast<const uint8_t*>(&x);
        v.insert(v.end(), p, p + sizeof x);
    }
    void str(const std::string& s, uint64_t len_override = 0) {
        put<uint64_t>(len_override ? len_override : s.size());
        v.insert(v.end(), s.begin(), s.end());
    }
};

std::vector<uint8_t> make_image(const image_spec& s) {
    bytes b;
    b.v = {'G', 'G', 'U', 'F'};
    b.put<uint32_t>(s.version);
    b.put<uint64_t>(s.n_tensors);
    b.put<uint64_t>(s.n_kv);
    // kv 0: general.name (string)
    b.str("general.name", s.key_len);
    b.put<uint32_t>(s.value_type);
    b.str("tiny");
    // kv 1: an array of strings
    b.str(s.key2);
    b.put<uint32_t>(9);
    b.put<uint32_t>(s.array_elem_type);
    b.put<uint64_t>(s.array_len);
    for (const char* e : {"x", "yy", "zzz"}) b.str(e);
    // kv 2: general.alignment
    b.str("general.alignment");
    b.put<uint32_t>(s.alignment_type);
    if (s.alignment_type == 4) b.put<uint32_t>(s.alignment);
    else b.put<uint64_t>(s.alignment);
    // tensor 0: F32 [4, 2] at 0; tensor 1: F32 [8] at offset1
    b.str("t0");
    b.put<uint32_t>(s.n_dims);
    for (uint32_t d = 0; d < s.n_dims && d < 8; ++d) b.put<uint64_t>(d == 0 ? s.ne0 : s.ne1);
    b.put<uint32_t>(s.tensor_type);
    b.put<uint64_t>(0);
    b.str(s.name1);
    b.put<uint32_t>(1);
    b.put<uint64_t>(8);
    b.put<uint32_t>(0);
    b.put<uint64_t>(s.offset1);
    const size_t align = s.alignment ? s.alignment : 1;
    while (b.v.size() % align) b.v.push_back(0);
    for (int i = 0; i < 64; ++i) b.v.push_back(uint8_t(i));
    return b.v;
}

// Rejected with a one-line error naming the file; returns the message.
std::string rejects(const std::vector<uint8_t>& img) {
    try {
        gguf::file::from_memory(img, "bad.gguf");
    } catch (const pa::error& e) {
        const std::string m = e.what();
        EXPECT_EQ(m.rfind("bad.gguf: ", 0), 0u) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        return m;
    }
    ADD_FAILURE() << "image accepted";
    return {};
}

#define EXPECT_REJECT(img, fragment) \
    EXPECT_NE(rejects(img).find(fragment), std::string::npos) << "expected '" << (fragment) << "'"

} // namespace

TEST(gguf_malformed, valid_image_is_accepted) {
    const auto f = gguf::file::from_memory(make_image({}), "ok.gguf");
    EXPECT_EQ(f->tensors().size(), 2u);
    EXPECT_EQ(f->get("k.arr").strings().size(), 3u);
}

TEST(gguf_malformed, truncated_at_every_offset) {
    const std::vector<uint8_t> img = make_image({});
    const size_t data_end = img.size(); // the last tensor ends exactly at the end
    for (size_t n = 0; n < data_end; ++n) {
        const std::vector<uint8_t> cut(img.begin(), img.begin() + long(n));
        SCOPED_TRACE(n);
        rejects(cut);
    }
}

TEST(gguf_malformed, header) {
    std::vector<uint8_t> img = make_image({});
    img[0] = 'X';
    EXPECT_REJECT(img, "bad magic");
    image_spec s;
    s.version = 1;
    EXPECT_REJECT(make_image(s), "version 1");
    s.version = 4;
    EXPECT_REJECT(make_image(s), "unsupported GGUF version 4");
    s.version = 0x03000000; // a big-endian v3 file read as little-endian
    EXPECT_REJECT(make_image(s), "big-endian");
}

TEST(gguf_malformed, absurd_counts) {
    image_spec s;
    s.n_tensors = uint64_t(1) << 60;
    EXPECT_REJECT(make_image(s), "tensor count");
    s = {};
    s.n_kv = ~uint64_t(0);
    EXPECT_REJECT(make_image(s), "metadata count");
    s = {};
    s.n_kv = 4; // one more than present: runs into the tensor infos and fails there
    rejects(make_image(s));
    s = {};
    s.array_len = uint64_t(1) << 62;
    EXPECT_REJECT(make_image(s), "cannot fit");
    s = {};
    s.array_elem_type = 10; // u64 array of 3 elements: reads into the next key, then fails
    s.array_len = uint64_t(1) << 61;
    EXPECT_REJECT(make_image(s), "exceeds");
}

TEST(gguf_malformed, huge_string_lengths) {
    image_spec s;
    s.key_len = uint64_t(1) << 63;
    EXPECT_REJECT(make_image(s), "string length");
    s.key_len = 1000;
    EXPECT_REJECT(make_image(s), "string length");
}

TEST(gguf_malformed, types) {
    image_spec s;
    s.value_type = 13;
    EXPECT_REJECT(make_image(s), "unknown value type 13");
    s = {};
    s.array_elem_type = 99;
    EXPECT_REJECT(make_image(s), "unknown array element type 99");
    s = {};
    s.array_elem_type = 9;
    EXPECT_REJECT(make_image(s), "nested arrays");
    s = {};
    s.tensor_type = 7; // a removed ggml type id
    EXPECT_REJECT(make_image(s), "unsupported type id 7");
    s.tensor_type = 1000;
    EXPECT_REJECT(make_image(s), "unsupported type id 1000");
    s.tensor_type = 8; // Q8_0 rows of 4 elements
    EXPECT_REJECT(make_image(s), "not a whole number");
}

TEST(gguf_malformed, shapes) {
    image_spec s;
    s.n_dims = 0;
    EXPECT_REJECT(make_image(s), "0 dimensions");
    s.n_dims = 5;
    EXPECT_REJECT(make_image(s), "5 dimensions");
    s = {};
    s.ne0 = 0;
    EXPECT_REJECT(make_image(s), "dimension 0 is 0");
    s = {};
    s.ne0 = uint64_t(1) << 32; // product overflows the element limit
    s.ne1 = uint64_t(1) << 32;
    EXPECT_REJECT(make_image(s), "elements");
    s = {};
    s.ne0 = ~uint64_t(0);
    EXPECT_REJECT(make_image(s), "too large");
    s = {};
    s.ne0 = 1 << 20; // fits the limits, but not the file
    EXPECT_REJECT(make_image(s), "outside");
}

TEST(gguf_malformed, offsets_and_alignment) {
    image_spec s;
    s.offset1 = 1 << 20;
    EXPECT_REJECT(make_image(s), "outside");
    s.offset1 = ~uint64_t(0) - 31; // aligned, and offset + size overflows
    EXPECT_REJECT(make_image(s), "outside");
    s.offset1 = 33;
    EXPECT_REJECT(make_image(s), "not a multiple of the alignment");
    s.offset1 = 0;
    EXPECT_REJECT(make_image(s), "overlap");
    s = {};
    s.alignment = 0;
    EXPECT_REJECT(make_image(s), "general.alignment");
    s.alignment = 24;
    EXPECT_REJECT(make_image(s), "general.alignment");
    s = {};
    s.alignment_type = 10; // u64 instead of u32
    EXPECT_REJECT(make_image(s), "general.alignment");
}

TEST(gguf_malformed, duplicates) {
    image_spec s;
    s.name1 = "t0";
    EXPECT_REJECT(make_image(s), "duplicate tensor name 't0'");
    s = {};
    s.key2 = "general.name";
    EXPECT_REJECT(make_image(s), "duplicate metadata key");
    s = {};
    s.name1 = "";
    EXPECT_REJECT(make_image(s), "name length 0");
}

// Random corruption: each image is either accepted or rejected with pa::error, never a crash
// (run under the sanitizers in CI).
TEST(gguf_malformed, random_byte_flips) {
    const std::vector<uint8_t> img = make_image({});
    std::mt19937 rng(1234);
    int rejected = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<uint8_t> m = img;
        const int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k) m[rng() % m.size()] = uint8_t(rng());
        try {
            const auto f = gguf::file::from_memory(m, "fuzz.gguf");
            for (const auto& t : f->tensors()) EXPECT_LE(f->tensor_bytes(t).size(), m.size());
        } catch (const pa::error&) {
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 100);
}
