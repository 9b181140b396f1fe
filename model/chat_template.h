// chat_template.h - the chat formats behind `pa run -cnv`, recognised from the model's
// tokenizer.chat_template (GGUF metadata, a Jinja template) by the markers it writes, as
// llama.cpp's built-in templates are; we do not run Jinja.
//
//   chatml:  <|im_start|>ROLE\nCONTENT<|im_end|>\n ... <|im_start|>assistant\n
//            (SmolLM2, Qwen2). A template that writes a default system message when the
//            conversation has none (a literal "<|im_start|>system\n...<|im_end|>") keeps it.
//   llama3:  <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|> ...
//            <|start_header_id|>assistant<|end_header_id|>\n\n  (content trimmed, BOS from the
//            tokenizer)
// Anything else is a clear error naming what was found.
#pragma once

#include <string>
#include <vector>

namespace pa::model {

struct chat_message {
    std::string role; // system | user | assistant
    std::string content;
};

class chat_template {
  public:
    enum class style { chatml, llama3 };

    // From the template text of a GGUF (tokenizer.chat_template) or a name ("chatml", "llama3").
    static chat_template from_metadata(const std::string& jinja, const std::string& model_path);
    static chat_template named(const std::string& name); // throws for other names

    style kind() const { return style_; }
    const char* name() const { return style_ == style::chatml ? "chatml" : "llama3"; }
    const std::string& default_system() const { return default_system_; }

    // A Jinja template of this style for tokenizer.chat_template (what `pa convert
    // --chat-template` writes): standard ChatML / Llama-3 that any Jinja runner renders the same.
    static std::string jinja(style s);

    // The conversation as text; add_assistant: end with the header that opens the reply.
    std::string render(const std::vector<chat_message>& messages, bool add_assistant) const;

  private:
    style style_ = style::chatml;
    std::string default_system_; // written when the conversation has no system message
};

} // namespace pa::model
