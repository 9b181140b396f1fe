// main.cpp - `pa <subcommand> ...`: dispatch, and the one place that turns errors into
// "error: ..." and a non-zero exit.
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli.h"
#include "pa/error.h"
#include "pa_version.h"

namespace {

void print_usage() {
    std::printf(
        "usage: pa <command> [options]   (pa <command> --help for its options; pa --version)\n\ncommands:\n");
    for (const auto& c : pa::cli::commands())
        std::printf("  %-12s %s\n", c.name, c.summary);
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        print_usage();
        return argc < 2 ? 1 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::printf("pa %s (%s)\n", PA_VERSION, PA_GIT_COMMIT);
        return 0;
    }
    for (const auto& c : pa::cli::commands()) {
        if (std::strcmp(c.name, argv[1]) != 0) continue;
        try {
            return c.run(argc - 1, argv + 1);
        } catch (const pa::error& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return e.status() == PA_ERR_INTERRUPTED ? 130 : 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "error: unknown command '%s' (pa --help lists them)\n", argv[1]);
    return 1;
}
