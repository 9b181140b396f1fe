// stories_util.h - the stories260K fixtures shared by the model tests: its files, the text
// greedy decoding must reproduce (llama2.c's output for the same checkpoint), a longer story for
// perplexity and chunking, loading the converted GGUF from memory, and greedy decoding.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "convert.h"
#include "sampling.h"
#include "session.h"

namespace pa::test {

inline const std::string stories_data_dir = std::string(PA_SOURCE_DIR) + "/tests/data/";
inline const std::string stories_golden =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
inline const std::string stories_story =
    "Once upon a time, there was a little boy named Tim. Tim had a big red ball. He liked to play with his "
    "ball in the park. One day, Tim saw a cat in a tree. The cat was sad because it could not get down. Tim "
    "wanted to help the cat. He threw his ball up to the tree. The cat jumped on the ball and came down. Tim "
    "and the cat were happy. They played together all day. The end.";

// stories260K converted to a GGUF of the given type, loaded from memory
inline std::unique_ptr<model::model> load_stories(pa_type type) {
    std::vector<std::string> notes;
    const auto w = model::convert_llama2c_files(stories_data_dir + "stories260K.bin",
                                                stories_data_dir + "tok512.bin", type, notes);
    return std::make_unique<model::model>(gguf::file::from_memory(w.to_memory(), "stories260K.gguf"));
}

// Greedy decoding after BOS until the text has min_chars characters, an end token, or the
// context is full.
inline std::string greedy(model::session& s, const model::tokenizer& tok, size_t min_chars) {
    std::vector<int32_t> prompt = {tok.bos()};
    std::vector<float> logits = s.eval(prompt);
    std::vector<int32_t> out;
    std::string text;
    while (text.size() < min_chars && s.n_past() < s.n_ctx()) {
        const int32_t t = model::argmax(logits);
        if (tok.is_eog(t)) break;
        out.push_back(t);
        text = tok.decode(out);
        logits = s.eval(std::span<const int32_t>(&t, 1));
    }
    return text;
}

} // namespace pa::test
