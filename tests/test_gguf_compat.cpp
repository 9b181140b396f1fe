// test_gguf_compat.cpp - compatibility with the tools of the GGUF ecosystem, offline, against
// data those tools made once (tests/data/gen_compat_refs.py says how):
//   - a GGUF written by the gguf Python package (gguf==0.19.0): pa's reader sees the metadata and
//     tensors gguf-py sees (tests/data/gguf_py_tiny.dump.txt), and pa's writer copies it exactly;
//   - `pa convert` of stories260K: gguf-py sees in it what pa sees; `--type q8_0/q4_0/q4_1`
//     gives the bytes of gguf-py's own quantizer;
//   - tokenizers: a fixed multilingual text gives the ids llama.cpp's llama-tokenize gave
//     (llama.cpp 0c1e570, from the llama-cpp-python 0.3.36 source package), for stories260K
//     (SentencePiece-style) and SmolLM2-135M-Instruct (byte-level BPE, the tokenizer stored in
//     gguf_py_tiny.gguf).
// When python3 can import gguf, gguf-py also reads pa's output live.
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

#include "convert.h"
#include "pa/gguf.h"
#include "tokenizer.h"

namespace fs = std::filesystem;
namespace gguf = pa::gguf;

namespace {

const std::string data_dir = std::string(PA_SOURCE_DIR) + "/tests/data/";

// the text of gen_compat_refs.py (TEXT)
const std::string multilingual =
    "Hello world! Gr\u00fc\u00dfe aus K\u00f6ln, \u00e7a va? "
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, "
    "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442, "
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8, \u4e2d\u6587\u6587\u672c, \ud55c\uad6d\uc5b4, "
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629, \u0939\u093f\u0928\u094d\u0926\u0940. Emoji: "
    "\U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F1EB\U0001F1F7\r\n\tTabs\tand  "
    "spaces; "
    "numbers 3.14159 and 1,234,567; code: if (x != y) { return x * 2; } <unk> <|im_start|>";

// llama-tokenize -m MODEL -p TEXT --ids (parse_special on, BOS as the model says)
const std::vector<int32_t> llama_cpp_stories = {
    1,   346, 306, 414, 263, 304, 341, 443, 410, 463, 420, 198, 191, 198, 162, 411, 261, 425, 419, 410,
    462, 198, 185, 421, 416, 432, 410, 198, 170, 412, 410, 435, 412, 450, 410, 209, 152, 209, 190, 209,
    190, 209, 186, 209, 192, 209, 188, 209, 189, 209, 175, 432, 410, 211, 163, 212, 134, 212, 132, 212,
    132, 211, 189, 211, 187, 211, 188, 410, 212, 133, 211, 184, 211, 189, 212, 132, 212, 133, 432, 410,
    233, 154, 168, 233, 159, 175, 235, 173, 161, 230, 132, 177, 230, 134, 137, 230, 133, 176, 230, 133,
    188, 230, 134, 139, 432, 410, 231, 187, 176, 233, 153, 138, 233, 153, 138, 233, 159, 175, 432, 410,
    240, 152, 159, 237, 184, 176, 239, 153, 183, 432, 410, 219, 170, 220, 135, 219, 188, 219, 180, 219,
    171, 220, 141, 219, 172, 432, 410, 227, 167, 188, 227, 167, 194, 227, 167, 171, 227, 168, 144, 227,
    167, 169, 227, 168, 131, 426, 410, 459, 423, 414, 449, 417, 467, 410, 243, 162, 148, 144, 243, 162,
    146, 192, 410, 243, 162, 148, 171, 229, 131, 144, 243, 162, 148, 172, 229, 131, 144, 243, 162, 148,
    170, 410, 243, 162, 138, 174, 243, 162, 138, 186, 16,  13,  12,  434, 412, 430, 419, 12,  412, 264,
    410, 262, 427, 412, 331, 419, 474, 297, 425, 423, 430, 285, 419, 410, 472, 426, 475, 484, 475, 480,
    483, 269, 410, 475, 432, 479, 472, 484, 432, 480, 490, 491, 474, 280, 414, 418, 411, 467, 410, 417,
    431, 410, 489, 444, 410, 443, 64,  348, 488, 410, 126, 410, 276, 413, 425, 420, 416, 410, 444, 410,
    497, 410, 479, 474, 410, 128, 410, 0,   410, 410, 504, 506, 288, 98,  356, 295, 413, 506, 505};
const std::vector<int32_t> llama_cpp_smollm2 = {
    19556, 905,   17,    9171,  7170,  34878, 85,    253,   376,   659,   7466,  34115, 28,    5549,
    117,   81,    46316, 47,    5664,  239,   17162, 17162, 25723, 11517, 12001, 21118, 26112, 28,
    5470,  250,   14714, 9382,  39511, 7872,  24958, 38106, 6643,  13760, 24674, 28,    17097, 241,
    115,   40993, 179,   120,   248,   26453, 11100, 224,   10391, 251,   10391, 134,   11100, 226,
    28,    216,   28589, 29184, 29184, 40993, 28,    216,   33085, 246,   181,   130,   251,   183,
    240,   129,   28,    27819, 34966, 20602, 31462, 23339, 43463, 28,    12335, 134,   27011, 30658,
    16525, 44757, 37189, 30,    2553,  33777, 42,    15107, 235,   231,   10813, 233,   138,   15107,
    235,   118,   321,   231,   10813, 235,   119,   321,   231,   10813, 235,   117,   15107, 225,
    121,   10813, 225,   132,   2738,  197,   68,    7366,  197,   397,   216,   5600,  43,    2966,
    216,   35,    30,    33,    36,    33,    37,    41,    284,   216,   33,    28,    34,    35,
    36,    28,    37,    38,    39,    43,    2909,  42,    585,   365,   104,   6541,  329,   25,
    1662,  1003,  1792,  1672,  216,   34,    43,    4029,  2067,  5131,  46,    216,   1};

uint64_t fnv1a64(std::span<const uint8_t> b) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t c : b)
        h = (h ^ c) * 0x100000001b3ull;
    return h;
}
uint64_t fnv1a64(std::string_view s) {
    return fnv1a64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::string scalar_text(gguf::vtype t, const uint8_t* p) {
    auto get = [&](auto v) {
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    switch (t) {
    case gguf::vtype::u8:
        return std::to_string(get(uint8_t{}));
    case gguf::vtype::i8:
        return std::to_string(get(int8_t{}));
    case gguf::vtype::u16:
        return std::to_string(get(uint16_t{}));
    case gguf::vtype::i16:
        return std::to_string(get(int16_t{}));
    case gguf::vtype::u32:
        return std::to_string(get(uint32_t{}));
    case gguf::vtype::i32:
        return std::to_string(get(int32_t{}));
    case gguf::vtype::u64:
        return std::to_string(get(uint64_t{}));
    case gguf::vtype::i64:
        return std::to_string(get(int64_t{}));
    case gguf::vtype::boolean:
        return get(uint8_t{}) ? "true" : "false";
    case gguf::vtype::f32:
    case gguf::vtype::f64: {
        const double v = t == gguf::vtype::f32 ? double(get(float{})) : get(double{});
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9g", v);
        return buf;
    }
    default:
        return "?";
    }
}

std::string string_text(const std::string& s) {
    return fmt::format("{:016x}:{}", fnv1a64(s), s.size());
}

std::string type_text(gguf::vtype t) {
    switch (t) {
    case gguf::vtype::boolean:
        return "bool";
    case gguf::vtype::string:
        return "str";
    default:
        return std::string(gguf::vtype_name(t));
    }
}

// The dump of gen_compat_refs.py, from pa's reader.
std::vector<std::string> dump(const gguf::file& f) {
    std::vector<std::string> lines;
    for (const gguf::kv& kv : f.metadata()) {
        const gguf::value& v = kv.val;
        if (v.is_array()) {
            std::string joined;
            const size_t n = size_t(v.size());
            for (size_t i = 0; i < n; ++i) {
                if (i) joined += '\x1f';
                joined +=
                    v.elem_type() == gguf::vtype::string
                        ? string_text(v.strings()[i])
                        : scalar_text(v.elem_type(), v.raw().data() + i * gguf::vtype_size(v.elem_type()));
            }
            lines.push_back(fmt::format("kv {} array:{} {} {:016x}", kv.key, type_text(v.elem_type()), n,
                                        fnv1a64(joined)));
        } else if (v.type() == gguf::vtype::string) {
            lines.push_back(fmt::format("kv {} str {}", kv.key, string_text(v.as_string())));
        } else {
            lines.push_back(fmt::format("kv {} {} {}", kv.key, type_text(v.type()),
                                        scalar_text(v.type(), v.raw().data())));
        }
    }
    for (const gguf::tensor_info& t : f.tensors()) {
        std::string ne;
        for (uint32_t d = 0; d < t.n_dims; ++d)
            ne += fmt::format("{}{}", d ? "," : "", t.ne[d]);
        lines.push_back(
            fmt::format("tensor {} {} {} {:016x}", t.name, int(t.type), ne, fnv1a64(f.tensor_bytes(t))));
    }
    std::sort(lines.begin(), lines.end());
    return lines;
}

// lines of a committed dump starting with prefix (or all but "quant" lines)
std::vector<std::string> read_lines(const std::string& path, const std::string& prefix = "") {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
        if (!l.empty() && (prefix.empty() ? l.rfind("quant ", 0) != 0 : l.rfind(prefix, 0) == 0))
            out.push_back(l);
    return out;
}

std::unique_ptr<gguf::file> converted(pa_type type) {
    std::vector<std::string> notes;
    const gguf::writer w =
        pa::model::convert_llama2c_files(data_dir + "stories260K.bin", data_dir + "tok512.bin", type, notes);
    return gguf::file::from_memory(w.to_memory(), "stories260K.gguf");
}

bool python_has_gguf() {
    return std::system("python3 -c 'import gguf' >/dev/null 2>&1") == 0;
}

std::vector<std::string> python_dump(const std::string& path) {
    std::vector<std::string> lines;
    const std::string cmd = fmt::format("python3 {}gen_compat_refs.py --dump {}", data_dir, path);
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return lines;
    char buf[4096];
    std::string out;
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
        out.append(buf, n);
    pclose(p);
    for (size_t b = 0, e; b < out.size(); b = e + 1) {
        e = out.find('\n', b);
        if (e == std::string::npos) e = out.size();
        if (e > b) lines.push_back(out.substr(b, e - b));
    }
    return lines;
}

} // namespace

TEST(gguf_compat, a_gguf_py_file_reads_as_gguf_py_reads_it) {
    const gguf::file f(data_dir + "gguf_py_tiny.gguf");
    const std::vector<std::string> want = read_lines(data_dir + "gguf_py_tiny.dump.txt");
    ASSERT_GT(want.size(), 20u);
    EXPECT_EQ(dump(f), want);
}

TEST(gguf_compat, pa_writer_copies_a_gguf_py_file_exactly) {
    const gguf::file f(data_dir + "gguf_py_tiny.gguf");
    gguf::writer w;
    w.set_all(f.metadata());
    for (const gguf::tensor_info& t : f.tensors())
        w.add_tensor_ref(t.name, t.type, std::span<const int64_t>(t.ne, t.n_dims), f.tensor_bytes(t));
    const auto back = gguf::file::from_memory(w.to_memory(), "copy.gguf");
    EXPECT_EQ(dump(*back), read_lines(data_dir + "gguf_py_tiny.dump.txt"));
    if (!python_has_gguf())
        GTEST_SKIP() << "python3 cannot import gguf: gguf-py's live reading of pa's copy skipped";
    const std::string path =
        (fs::temp_directory_path() / fmt::format("pa_compat_{}.gguf", getpid())).string();
    w.write(path);
    EXPECT_EQ(python_dump(path), read_lines(data_dir + "gguf_py_tiny.dump.txt"));
    std::remove(path.c_str());
}

TEST(gguf_compat, pa_convert_reads_in_gguf_py_as_in_pa) {
    const auto f = converted(PA_TYPE_F32);
    EXPECT_EQ(dump(*f), read_lines(data_dir + "stories260K_convert.dump.txt"));
}

TEST(gguf_compat, pa_quantizers_give_gguf_py_bytes) {
    const auto f32 = converted(PA_TYPE_F32);
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1}) {
        std::vector<std::string> notes;
        const gguf::writer w = pa::model::requantize_gguf(*f32, t, notes);
        const auto q = gguf::file::from_memory(w.to_memory(), "q.gguf");
        const std::string name(pa::type_name(t));
        const std::vector<std::string> want =
            read_lines(data_dir + "stories260K_convert.dump.txt", "quant " + name + " ");
        ASSERT_FALSE(want.empty()) << name;
        for (const std::string& line : want) { // "quant q8_0 <tensor> <hash>"
            const size_t a = line.find(' ', 6), b = line.rfind(' ');
            const std::string tensor = line.substr(a + 1, b - a - 1);
            const gguf::tensor_info& ti = q->get_tensor(tensor);
            EXPECT_EQ(ti.type, t) << tensor;
            EXPECT_EQ(fmt::format("{:016x}", fnv1a64(q->tensor_bytes(ti))), line.substr(b + 1))
                << name << " " << tensor;
        }
    }
}

TEST(gguf_compat, tokenizers_give_llama_cpp_ids_on_a_multilingual_text) {
    const auto stories = converted(PA_TYPE_F32);
    const pa::model::tokenizer spm(*stories);
    EXPECT_EQ(spm.encode(multilingual, spm.add_bos(), true), llama_cpp_stories);
    const gguf::file smol(data_dir + "gguf_py_tiny.gguf");
    const pa::model::tokenizer bpe(smol);
    EXPECT_EQ(bpe.encode(multilingual, bpe.add_bos(), true), llama_cpp_smollm2);
}
