// chat_template.cpp - see chat_template.h.
#include "chat_template.h"

#include <fmt/format.h>

#include "pa/error.h"

namespace pa::model {
namespace {

constexpr const char* im_start = "<|im_start|>";
constexpr const char* im_end = "<|im_end|>";

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The literal default system message of a ChatML template, if it writes one:
// ... '<|im_start|>system\nTEXT<|im_end|>\n' ... (inside a Jinja string, so "\n" may be the
// two characters backslash and n).
std::string default_system_of(const std::string& jinja) {
    for (const char* nl : {"\\n", "\n"}) {
        const std::string open = std::string(im_start) + "system" + nl;
        const size_t b = jinja.find(open);
        if (b == std::string::npos) continue;
        const size_t start = b + open.size();
        const size_t e = jinja.find(im_end, start);
        if (e == std::string::npos) continue;
        std::string text = jinja.substr(start, e - start);
        // a template that only formats messages has Jinja here ('{{ ... }}', quotes), not text
        if (text.find("{{") != std::string::npos || text.find("{%") != std::string::npos ||
            text.find('\'') != std::string::npos || text.find('+') != std::string::npos)
            continue;
        return text;
    }
    return {};
}

} // namespace

chat_template chat_template::named(const std::string& name) {
    chat_template t;
    if (name == "chatml")
        t.style_ = style::chatml;
    else if (name == "llama3")
        t.style_ = style::llama3;
    else
        throw error(fmt::format("chat template '{}' is not chatml or llama3", name));
    return t;
}

chat_template chat_template::from_metadata(const std::string& jinja, const std::string& model_path) {
    if (jinja.empty())
        throw error(
            fmt::format("{}: no tokenizer.chat_template in the metadata (give --chat-template chatml|llama3)",
                        model_path));
    chat_template t;
    if (jinja.find(im_start) != std::string::npos) {
        t.style_ = style::chatml;
        t.default_system_ = default_system_of(jinja);
    } else if (jinja.find("<|start_header_id|>") != std::string::npos) {
        t.style_ = style::llama3;
    } else {
        const std::string head = jinja.substr(0, 60);
        throw error(
            fmt::format("{}: chat template not supported (known: ChatML <|im_start|>, Llama-3 "
                        "<|start_header_id|>); it starts with \"{}\"; give --chat-template chatml|llama3",
                        model_path, head));
    }
    return t;
}

std::string chat_template::jinja(style s) {
    if (s == style::chatml)
        return "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
               "message['content'] + "
               "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ "
               "'<|im_start|>assistant\\n' }}"
               "{% endif %}";
    return "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
           "'<|end_header_id|>\\n\\n' + "
           "message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
           "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
}

std::string chat_template::render(const std::vector<chat_message>& messages, bool add_assistant) const {
    std::string out;
    const bool has_system = !messages.empty() && messages[0].role == "system";
    if (style_ == style::chatml) {
        if (!has_system && !default_system_.empty())
            out += fmt::format("{}system\n{}{}\n", im_start, default_system_, im_end);
        for (const chat_message& m : messages)
            out += fmt::format("{}{}\n{}{}\n", im_start, m.role, m.content, im_end);
        if (add_assistant) out += fmt::format("{}assistant\n", im_start);
        return out;
    }
    for (const chat_message& m : messages)
        out += fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", m.role, trim(m.content));
    if (add_assistant) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

} // namespace pa::model
