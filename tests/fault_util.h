// fault_util.h - running the `pa` CLI as a child process: for fault and limit tests an argument
// vector (no shell), extra environment, captured stdout/stderr, an optional signal sent once
// stderr shows a given text, and a hard timeout; for end-to-end CLI tests a command line through
// the shell (run_pa).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sanitizer_build.h"

namespace pa::test {

// <build>/lib/libpa-opencl.so -> <build>/bin/pa
inline std::string pa_binary() {
    return (std::filesystem::path(PA_PLUGIN_PATH).parent_path().parent_path() / "bin" / "pa").string();
}

struct cli_result {
    int code = -1; // exit code; -1: did not exit normally
    std::string out, err;
};

// `pa ARGS` through the shell (ARGS may quote words), stdout and stderr captured.
inline cli_result run_pa(const std::string& args) {
    const std::string err_file =
        (std::filesystem::temp_directory_path() / ("pa_run_err_" + std::to_string(getpid()))).string();
    const std::string cmd = pa_binary() + " " + args + " 2>" + err_file;
    cli_result r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (FILE* e = std::fopen(err_file.c_str(), "rb")) {
        while ((n = fread(buf.data(), 1, buf.size(), e)) > 0)
            r.err.append(buf.data(), n);
        std::fclose(e);
    }
    std::remove(err_file.c_str());
    return r;
}

struct child_result {
    bool exited = false; // normal exit (code valid)
    int code = -1;       // exit code
    int signal = 0;      // terminating signal, if any
    bool timed_out = false;
    std::string out, err;
    double seconds = 0;               // whole run
    double seconds_after_signal = -1; // from sending the signal to the exit
};

struct child_options {
    std::map<std::string, std::optional<std::string>> env; // value nullopt: unset
    std::string signal_when_stderr_has;                    // empty: never signal
    int signal = SIGINT;
    double timeout_s = 120;
    // RLIMIT_AS of the child in bytes (0: none): a request for absurd memory then fails at once
    // instead of thrashing the machine. Not usable with ASan, which reserves terabytes.
    size_t max_address_space = 0;
};

inline child_result run_child(const std::vector<std::string>& args, const child_options& o = {}) {
    int out_pipe[2], err_pipe[2];
    child_result r;
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return r;
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]);
        close(err_pipe[0]);
        if (o.max_address_space) {
            const rlimit lim{o.max_address_space, o.max_address_space};
            setrlimit(RLIMIT_AS, &lim);
        }
        for (const auto& [k, v] : o.env) {
            if (v)
                setenv(k.c_str(), v->c_str(), 1);
            else
                unsetenv(k.c_str());
        }
        std::vector<char*> argv;
        for (const std::string& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    bool signalled = false;
    std::chrono::steady_clock::time_point t_sig;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    auto elapsed = [](auto from) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
    };
    while (open_fds > 0) {
        if (elapsed(t0) > o.timeout_s) {
            kill(pid, SIGKILL);
            r.timed_out = true;
            break;
        }
        if (poll(fds, 2, 100) < 0) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
            char buf[4096];
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            (i == 0 ? r.out : r.err).append(buf, size_t(n));
        }
        if (!signalled && !o.signal_when_stderr_has.empty() &&
            r.err.find(o.signal_when_stderr_has) != std::string::npos) {
            kill(pid, o.signal);
            signalled = true;
            t_sig = std::chrono::steady_clock::now();
        }
    }
    for (pollfd& f : fds)
        if (f.fd >= 0) close(f.fd);
    int status = 0;
    waitpid(pid, &status, 0);
    r.seconds = elapsed(t0);
    if (signalled) r.seconds_after_signal = elapsed(t_sig);
    r.exited = WIFEXITED(status);
    r.code = r.exited ? WEXITSTATUS(status) : -1;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return r;
}

// Lines of text that contain needle.
inline int count_lines_with(const std::string& text, const std::string& needle) {
    int n = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (std::string_view(text).substr(start, end - start).find(needle) != std::string_view::npos) ++n;
        start = end + 1;
    }
    return n;
}

} // namespace pa::test
