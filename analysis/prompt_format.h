// prompt_format.h - how a user message becomes a prompt for `pa eval`: plain text, or ChatML
// (<|im_start|>role ... <|im_end|>, SmolLM2 and Qwen2 instruct models). A small stand-in for the
// model's chat template: it recognises a ChatML template and the default system message written
// in it, and nothing more.
#pragma once

#include <string>
#include <string_view>

namespace pa::analysis {

struct prompt_format {
    enum class kind { plain, chatml };
    kind style = kind::plain;
    std::string system; // ChatML: the system message ("" = none)

    // plain: "<user>\nAnswer:"; ChatML: [system turn] user turn, then the assistant's turn opened
    std::string apply(std::string_view user) const;
    const char* name() const { return style == kind::chatml ? "chatml" : "plain"; }
};

// From a GGUF tokenizer.chat_template (Jinja text): ChatML when it writes <|im_start|>, with the
// system message the template writes by default when it holds one as a literal; plain otherwise.
prompt_format prompt_format_from_template(std::string_view chat_template);

} // namespace pa::analysis
