// cli_interrupt.cpp - Ctrl-C turns into a flag the scheduler checks between runs of nodes.
#include <csignal>
#include <unistd.h>

#include "cli.h"

namespace pa::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
    if (g_interrupted.exchange(true)) _exit(130); // second Ctrl-C: leave now
}

} // namespace

const std::atomic<bool>* interrupt_flag() {
    static const bool installed = [] {
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, nullptr);
        return true;
    }();
    (void)installed;
    return &g_interrupted;
}

void clear_interrupt() {
    g_interrupted = false;
}

} // namespace pa::cli
