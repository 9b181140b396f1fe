// prompt_format.cpp - see prompt_format.h.
#include "prompt_format.h"

namespace pa::analysis {

std::string prompt_format::apply(std::string_view user) const {
    if (style == kind::plain) return std::string(user) + "\nAnswer:";
    std::string s;
    if (!system.empty()) s += "<|im_start|>system\n" + system + "<|im_end|>\n";
    s += "<|im_start|>user\n";
    s += user;
    s += "<|im_end|>\n<|im_start|>assistant\n";
    return s;
}

prompt_format prompt_format_from_template(std::string_view tpl) {
    prompt_format f;
    if (tpl.find("<|im_start|>") == std::string_view::npos) return f;
    f.style = prompt_format::kind::chatml;
    // a default system turn written as a literal: '<|im_start|>system\nYou are ...<|im_end|>'
    // (the template may hold a real newline or the two characters \n)
    for (std::string_view open : {"<|im_start|>system\n", "<|im_start|>system\\n"}) {
        const size_t at = tpl.find(open);
        if (at == std::string_view::npos) continue;
        const size_t from = at + open.size(), end = tpl.find("<|im_end|>", from);
        if (end == std::string_view::npos) continue;
        const std::string_view msg = tpl.substr(from, end - from);
        if (msg.find_first_of("'\"{}+") == std::string_view::npos) f.system = std::string(msg);
        break;
    }
    return f;
}

} // namespace pa::analysis
