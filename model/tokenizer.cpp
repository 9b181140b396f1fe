// tokenizer.cpp - vocabulary from GGUF, special-token splitting, pieces and decoding.
// The two merge algorithms live in tokenizer_spm.cpp and tokenizer_bpe.cpp.
#include "tokenizer.h"

#include <algorithm>
#include <fmt/format.h>

#include "pa/error.h"
#include "unicode.h"

namespace pa::model {
namespace {

// GGUF token types (llama.cpp's llama_token_type).
constexpr int32_t tt_normal = 1, tt_unknown = 2, tt_control = 3, tt_user_defined = 4, tt_byte = 6;

constexpr const char* spm_space = "\xe2\x96\x81"; // U+2581

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// "<0xAB>" -> 0xAB, or -1
int byte_token_value(const std::string& s) {
    if (s.size() != 6 || s.compare(0, 3, "<0x") != 0 || s[5] != '>') return -1;
    const int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

} // namespace

tokenizer::tokenizer(const gguf::file& f) {
    auto fail = [&](const std::string& what) { throw error(fmt::format("{}: {}", f.path(), what)); };
    const std::string model = f.get_string("tokenizer.ggml.model");
    if (model == "llama")
        kind_ = tokenizer_kind::spm;
    else if (model == "gpt2")
        kind_ = tokenizer_kind::bpe;
    else
        fail(fmt::format("tokenizer model '{}' is not supported (llama, gpt2)", model));

    try {
        tokens_ = f.get("tokenizer.ggml.tokens").strings();
        if (const gguf::value* v = f.find("tokenizer.ggml.scores")) scores_ = v->floats();
        if (const gguf::value* v = f.find("tokenizer.ggml.token_type")) {
            for (int64_t t : v->ints())
                types_.push_back(int32_t(t));
        }
    } catch (const error& e) {
        if (std::string_view(e.what()).starts_with(f.path())) throw;
        fail(fmt::format("tokenizer: {}", e.what()));
    }
    const size_t n = tokens_.size();
    if (n == 0 || n > size_t(INT32_MAX)) fail(fmt::format("tokenizer has {} tokens", n));
    if (scores_.empty()) scores_.assign(n, 0.0f);
    if (types_.empty()) types_.assign(n, tt_normal);
    if (scores_.size() != n || types_.size() != n)
        fail(
            fmt::format("tokenizer: {} tokens but {} scores and {} types", n, scores_.size(), types_.size()));
    ids_.reserve(n);
    for (size_t i = 0; i < n; ++i)
        ids_.emplace(tokens_[i], int32_t(i));

    auto token_id = [&](const char* key, int64_t def) {
        const int64_t id = f.get_int(key, def);
        if (id < -1 || id >= int64_t(n))
            fail(fmt::format("{} = {} is outside the vocabulary of {}", key, id, n));
        return int32_t(id);
    };
    const bool spm = kind_ == tokenizer_kind::spm;
    bos_ = token_id("tokenizer.ggml.bos_token_id", spm ? 1 : -1);
    eos_ = token_id("tokenizer.ggml.eos_token_id", spm ? 2 : -1);
    unk_ = token_id("tokenizer.ggml.unknown_token_id", spm ? 0 : -1);
    add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", spm) && bos_ >= 0;
    add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix", spm);

    std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
    for (size_t i = 0; i < n; ++i) {
        if (types_[i] == tt_byte || spm) {
            const int b = byte_token_value(tokens_[i]);
            if (b >= 0 && byte_ids_[b] < 0) byte_ids_[b] = int32_t(i);
        }
    }

    if (!spm) {
        bool known = true;
        pre_ = pre_style_from_name(f.get_string("tokenizer.ggml.pre", "gpt2"), &known);
        std::vector<std::string> merges;
        try {
            merges = f.get("tokenizer.ggml.merges").strings();
        } catch (const error& e) {
            fail(fmt::format("tokenizer.ggml.merges: {}", e.what()));
        }
        merges_.reserve(merges.size());
        for (size_t r = 0; r < merges.size(); ++r) {
            const std::string& m = merges[r];
            const size_t sp = m.find(' ', 1);
            if (sp == std::string::npos) fail(fmt::format("merge {} ('{}') has no space", r, m));
            const auto l = ids_.find(std::string_view(m).substr(0, sp));
            const auto rt = ids_.find(std::string_view(m).substr(sp + 1));
            const auto merged = ids_.find(m.substr(0, sp) + m.substr(sp + 1));
            if (l == ids_.end() || rt == ids_.end() || merged == ids_.end()) continue; // unusable merge
            const uint64_t key = uint64_t(uint32_t(l->second)) << 32 | uint32_t(rt->second);
            merges_.emplace(key, merge_entry{int32_t(r), merged->second});
        }
    }

    // matched whole in text (parse_special), as llama.cpp does: control, user-defined and unknown
    // tokens ("<unk>" in a prompt is the unknown token, not its letters)
    for (size_t i = 0; i < n; ++i)
        if ((types_[i] == tt_control || types_[i] == tt_user_defined || types_[i] == tt_unknown) &&
            !tokens_[i].empty())
            specials_.push_back(int32_t(i));
    std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
        return tokens_[size_t(a)].size() > tokens_[size_t(b)].size();
    });

    if (eos_ >= 0) eog_.push_back(eos_);
    const int32_t eot = token_id("tokenizer.ggml.eot_token_id", -1);
    if (eot >= 0) eog_.push_back(eot);
    for (const char* s : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"}) {
        const int32_t id = find(s);
        if (id >= 0 && is_control(id)) eog_.push_back(id);
    }
}

int32_t tokenizer::find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
}

bool tokenizer::is_control(int32_t id) const {
    return id >= 0 && id < n_vocab() && types_[size_t(id)] == tt_control;
}

bool tokenizer::is_eog(int32_t id) const {
    return std::find(eog_.begin(), eog_.end(), id) != eog_.end();
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    std::vector<int32_t> out;
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    bool after_special = true; // SentencePiece puts its space prefix at the start and after specials
    size_t start = 0;
    if (parse_special && !specials_.empty()) {
        for (size_t i = 0; i < text.size();) {
            int32_t hit = -1;
            for (int32_t id : specials_) {
                const std::string& s = tokens_[size_t(id)];
                if (s[0] == text[i] && text.compare(i, s.size(), s) == 0) {
                    hit = id;
                    break;
                }
            }
            if (hit < 0) {
                ++i;
                continue;
            }
            if (i > start) encode_fragment(text.substr(start, i - start), after_special, out);
            out.push_back(hit);
            after_special = true;
            i += tokens_[size_t(hit)].size();
            start = i;
        }
    }
    if (start < text.size()) encode_fragment(text.substr(start), after_special, out);
    return out;
}

void tokenizer::encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
    if (kind_ == tokenizer_kind::spm) {
        std::string s;
        s.reserve(text.size() + 8);
        if (add_space_prefix_ && after_special) s += spm_space;
        for (char c : text) {
            if (c == ' ')
                s += spm_space;
            else
                s += c;
        }
        return encode_spm(s, out);
    }
    for (std::string_view word : pretokenize(text, pre_))
        encode_bpe_word(word, out);
}

std::string tokenizer::piece(int32_t id, bool show_special) const {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& t = tokens_[size_t(id)];
    const int32_t type = types_[size_t(id)];
    if (type == tt_control || type == tt_unknown) return show_special ? t : std::string();
    if (kind_ == tokenizer_kind::spm) {
        if (const int b = byte_token_value(t); b >= 0 && (type == tt_byte || byte_ids_[b] == id))
            return std::string(1, char(b));
        std::string out;
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, 3, spm_space) == 0) {
                out += ' ';
                i += 3;
            } else {
                out += t[i++];
            }
        }
        return out;
    }
    if (type == tt_user_defined) return t;
    std::string out;
    for (size_t i = 0; i < t.size();) {
        uint32_t cp;
        const size_t len = utf8_decode(t, i, cp);
        const int b = codepoint_to_byte(cp);
        if (b >= 0)
            out += char(b);
        else
            out.append(t, i, len);
        i += len;
    }
    return out;
}

std::string tokenizer::decode(std::span<const int32_t> ids, bool show_special) const {
    std::string out;
    bool at_start = true;
    for (int32_t id : ids) {
        std::string p = piece(id, show_special);
        if (at_start && !p.empty()) {
            if (kind_ == tokenizer_kind::spm && add_space_prefix_ && p[0] == ' ') p.erase(0, 1);
            at_start = false;
        }
        out += p;
    }
    return out;
}

} // namespace pa::model
