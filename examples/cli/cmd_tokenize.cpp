// pa tokenize: the token ids of a text under a model's tokenizer, printed as llama.cpp's
// llama-tokenize prints them (one "id -> 'piece'" line per token, or --ids: [1, 2, 3]).
#include <cstdio>
#include <fmt/format.h>

#include "cli.h"
#include "model.h"
#include "pa/error.h"
#include "pa/gguf.h"
#include "session_options.h"
#include "tokenizer.h"

namespace {

const char* usage =
    "usage: pa tokenize -m MODEL.gguf (-p TEXT | -f FILE) [--ids] [options]\n"
    "Prints the tokens of TEXT: one line per token (id -> 'piece'), or the ids as a list.\n"
    "  --ids               print only the ids, as [1, 2, 3]\n"
    "  --no-bos            do not add BOS even when the model asks for it\n"
    "  --no-parse-special  spell out special-token text (<|im_start|>, <unk>) instead of matching it\n"
    "  --show-count        print the number of tokens last\n";

int run_tokenize(int argc, char** argv) {
    pa::cli::args a(argc, argv, std::string(usage) + pa::cli::device_options);
    if (a.help()) return a.print_usage();
    const std::string path = a.str("-m", "");
    const pa::cli::text_source text_in = pa::cli::text_source_from(a);
    const bool ids_only = a.flag("--ids");
    const bool no_bos = a.flag("--no-bos");
    const bool no_special = a.flag("--no-parse-special");
    const bool show_count = a.flag("--show-count");
    a.str("--device", "");
    a.str("--plugin", ""); // every command takes them; nothing here runs on a device
    a.finish();
    if (path.empty()) throw pa::error("give a model with -m MODEL.gguf");
    if (text_in.has_text == !text_in.file.empty())
        throw pa::error("give the text with -p TEXT or -f FILE (one of them)");

    // only the tokenizer: no weights are checked or mapped into tensors
    const pa::gguf::file f(path);
    const pa::model::tokenizer tok(f);
    const std::vector<int32_t> ids = tok.encode(text_in.read(), tok.add_bos() && !no_bos, !no_special);
    if (ids_only) {
        std::string out = "[";
        for (size_t i = 0; i < ids.size(); ++i)
            out += fmt::format("{}{}", i ? ", " : "", ids[i]);
        fmt::print("{}]\n", out);
    } else {
        for (int32_t id : ids)
            fmt::print("{:6} -> '{}'\n", id, tok.piece(id, true));
    }
    if (show_count) fmt::print("Total number of tokens: {}\n", ids.size());
    return 0;
}

} // namespace

PA_CLI_COMMAND(tokenize, "token ids of a text (as llama.cpp's llama-tokenize prints them)", run_tokenize);
