// pa convert: llama2.c checkpoint (+ tokenizer) -> llama GGUF, or GGUF -> requantized GGUF.
#include <cstdio>
#include <fmt/format.h>
#include <map>

#include "chat_template.h"
#include "cli.h"
#include "convert.h"
#include "pa/error.h"
#include "session_options.h"

namespace {

const char* usage =
    "usage: pa convert --checkpoint MODEL.bin --tokenizer TOK.bin -o OUT.gguf [--type T]\n"
    "       pa convert -m IN.gguf -o OUT.gguf --type T\n"
    "Converts a llama2.c checkpoint and its tokenizer file into a llama-architecture GGUF (tokenizer\n"
    "in the metadata), or requantizes an existing GGUF.\n"
    "  --type T         f32 | f16 | q8_0 | q4_0 | q4_1 for 2-D weights (default f32). Weights whose\n"
    "                   rows are not whole 32-element blocks stay F32; 1-D tensors keep their type.\n"
    "  --name NAME      general.name (default: the checkpoint's file name)\n"
    "  --chat-template T  write tokenizer.chat_template: chatml | llama3 (a standard Jinja template of\n"
    "                   that format) or FILE (its text); what `pa run -cnv` formats a conversation with\n"
    "  --quiet          no summary\n";

std::string summary(const std::string& path) {
    const pa::gguf::file f(path);
    std::map<std::string, int> types;
    for (const auto& t : f.tensors())
        types[std::string(pa::type_name(t.type))]++;
    std::string ts;
    for (const auto& [name, n] : types)
        ts += fmt::format("{}{} {}", ts.empty() ? "" : ", ", n, name);
    return fmt::format("wrote {}: {:.2f} MB, {} tensors ({})", path, double(f.file_size()) / 1e6,
                       f.tensors().size(), ts);
}

// --chat-template: a known format's Jinja template, or the text of a file
std::string chat_jinja(const std::string& arg) {
    if (arg == "chatml") return pa::model::chat_template::jinja(pa::model::chat_template::style::chatml);
    if (arg == "llama3") return pa::model::chat_template::jinja(pa::model::chat_template::style::llama3);
    return pa::cli::read_text_file(arg);
}

int run_convert(int argc, char** argv) {
    pa::cli::args a(argc, argv, std::string(usage) + pa::cli::device_options);
    if (a.help()) return a.print_usage();
    std::vector<std::string> pos = a.positional();
    std::string checkpoint = a.str("--checkpoint", pos.size() == 2 ? pos[0] : "");
    std::string tokenizer = a.str("--tokenizer", pos.size() == 2 ? pos[1] : "");
    const std::string in_gguf = a.str("-m", "");
    const std::string out = a.str("-o", "");
    const std::string type_name = a.str("--type", "f32");
    const std::string name = a.str("--name", "");
    const std::string chat = a.str("--chat-template", "");
    const bool quiet = a.flag("--quiet");
    a.str("--device", "");
    a.str("--plugin", ""); // every command takes them; nothing here runs on a device
    a.finish();

    pa_type type;
    if (!pa::type_from_name(type_name, type) || type == PA_TYPE_I32)
        throw pa::error(fmt::format("--type: '{}' is not one of f32, f16, q8_0, q4_0, q4_1", type_name));
    if (out.empty()) throw pa::error("give the output file with -o OUT.gguf");
    std::vector<std::string> notes;
    if (!in_gguf.empty()) {
        if (!checkpoint.empty()) throw pa::error("give either -m IN.gguf or --checkpoint, not both");
        if (in_gguf == out) throw pa::error("-o must differ from -m (the input is mapped while writing)");
        const pa::gguf::file in(in_gguf);
        pa::gguf::writer w = pa::model::requantize_gguf(in, type, notes);
        if (!name.empty()) w.set("general.name", pa::gguf::value::of_string(name));
        if (!chat.empty()) w.set("tokenizer.chat_template", pa::gguf::value::of_string(chat_jinja(chat)));
        w.write(out);
    } else {
        if (checkpoint.empty() || tokenizer.empty())
            throw pa::error(
                "give --checkpoint MODEL.bin and --tokenizer TOK.bin, or -m IN.gguf (see --help)");
        pa::gguf::writer w = pa::model::convert_llama2c_files(checkpoint, tokenizer, type, notes);
        if (!name.empty()) w.set("general.name", pa::gguf::value::of_string(name));
        if (!chat.empty()) w.set("tokenizer.chat_template", pa::gguf::value::of_string(chat_jinja(chat)));
        w.write(out);
    }
    for (const std::string& n : notes)
        std::fprintf(stderr, "note: %s\n", n.c_str());
    if (!quiet) std::fprintf(stderr, "%s\n", summary(out).c_str());
    return 0;
}

} // namespace

PA_CLI_COMMAND(convert, "llama2.c checkpoint -> GGUF, or requantize a GGUF (f16/q8_0/q4_0/q4_1)",
               run_convert);
