// test_model_chat_pty.cpp - `pa run -cnv` in a pseudo-terminal, as a person uses it: stories260K
// converted with a ChatML template in its metadata (`pa convert --chat-template chatml`), two
// turns typed at the "> " prompt, Ctrl-C during a reply (back to the prompt, the chat goes on),
// Ctrl-D to quit. The first reply is checked against `pa run -p` on the conversation written out
// by hand in ChatML; the second against greedy decoding, through the library, of the token
// stream a chat holds: turn one's prompt, its reply's tokens, then the text ChatML adds for turn
// two (a reply's text need not tokenize back into the tokens that were generated).
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model.h"
#include "sampling.h"
#include "session.h"

namespace fs = std::filesystem;

namespace {

const std::string data_dir = std::string(PA_SOURCE_DIR) + "/tests/data/";

std::string pa_binary() {
    return (fs::path(PA_PLUGIN_PATH).parent_path().parent_path() / "bin" / "pa").string();
}

// stdout of a shell command (stderr dropped)
std::string capture(const std::string& cmd) {
    std::string out;
    FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
    if (!p) return out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    pclose(p);
    return out;
}

// A child process on the slave side of a pseudo-terminal.
class pty_child {
  public:
    explicit pty_child(const std::vector<std::string>& argv) {
        pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
        if (pid_ == 0) {
            std::vector<char*> args;
            for (const std::string& a : argv)
                args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~pty_child() {
        if (pid_ > 0 && !reaped_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (fd_ >= 0) close(fd_);
    }
    bool started() const { return pid_ > 0 && fd_ >= 0; }
    void send(const std::string& s) { ASSERT_EQ(write(fd_, s.data(), s.size()), ssize_t(s.size())); }

    // Reads until `what` appears after `from` in everything read so far (or the timeout).
    bool read_until(const std::string& what, size_t from, double timeout_s = 60) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (out_.find(what, from) == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, int(left.count())) <= 0) return false;
            char buf[4096];
            const ssize_t n = read(fd_, buf, sizeof buf);
            if (n <= 0) return false; // the child closed the terminal
            out_.append(buf, size_t(n));
        }
        return true;
    }
    int wait_exit() {
        int status = 0;
        char buf[4096];
        for (ssize_t n; (n = read(fd_, buf, sizeof buf)) > 0;)
            out_.append(buf, size_t(n)); // until it closes
        waitpid(pid_, &status, 0);
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    const std::string& out() const { return out_; }

  private:
    pid_t pid_ = -1;
    int fd_ = -1;
    bool reaped_ = false;
    std::string out_;
};

// The reply printed after the line typed at the prompt that starts at `prompt_at`: terminal
// output between the echoed line and the next prompt, without CR.
std::string reply_after(const std::string& out, size_t prompt_at, const std::string& typed) {
    const size_t line = out.find(typed, prompt_at);
    if (line == std::string::npos) return "<no echo>";
    size_t b = out.find('\n', line);
    const size_t e = out.find("\n> ", b);
    std::string r = out.substr(b + 1, e == std::string::npos ? std::string::npos : e - b - 1);
    std::erase(r, '\r');
    return r;
}

std::string chatml(const std::vector<std::pair<std::string, std::string>>& turns) {
    std::string s;
    for (const auto& [role, text] : turns)
        s += fmt::format("<|im_start|>{}\n{}<|im_end|>\n", role, text);
    return s + "<|im_start|>assistant\n";
}

class chat_pty : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        model_ = (fs::temp_directory_path() / fmt::format("pa_chat_{}.gguf", getpid())).string();
        const std::string cmd =
            fmt::format("{} convert --checkpoint {}stories260K.bin --tokenizer {}tok512.bin -o {} "
                        "--chat-template chatml --quiet",
                        pa_binary(), data_dir, data_dir, model_);
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    static void TearDownTestSuite() { std::remove(model_.c_str()); }
    void SetUp() override {
        if (!fs::exists(pa_binary())) GTEST_SKIP() << pa_binary() << " is not built";
    }
    static std::string model_;
};
std::string chat_pty::model_;

} // namespace

TEST_F(chat_pty, two_turns_then_ctrl_d) {
    pty_child c({pa_binary(), "run", "-m", model_, "-cnv", "--temp", "0", "-n", "24", "--device", "cpu"});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(c.read_until("> ", 0)) << c.out();
    const std::string first = "Once upon a time", second = "Where did Lily go?";
    size_t at = c.out().size();
    c.send(first + "\r");
    ASSERT_TRUE(c.read_until("\n> ", at)) << c.out();
    const std::string reply1 = reply_after(c.out(), at, first);
    at = c.out().rfind("\n> ");
    c.send(second + "\r");
    ASSERT_TRUE(c.read_until("\n> ", at + 3)) << c.out();
    const std::string reply2 = reply_after(c.out(), at, second);
    c.send("\x04"); // Ctrl-D at the prompt
    EXPECT_EQ(c.wait_exit(), 0) << c.out();

    // the same conversation through plain generation
    const std::string run = fmt::format("{} run -m {} --temp 0 -n 24 --device cpu -p ", pa_binary(), model_);
    auto quoted = [](const std::string& s) {
        std::string q = "'";
        for (char ch : s)
            q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
        return q + "'";
    };
    const std::string want1 = capture(run + quoted(chatml({{"user", first}})));
    EXPECT_FALSE(reply1.empty());
    EXPECT_EQ(reply1 + "\n", want1);
    // turn two by hand: the chat's token stream, greedy
    const pa::model::model m(model_);
    const auto cpu = pa::make_cpu_backend(2);
    pa::model::session_options o;
    o.attn = pa::model::attn_mode::dense;
    o.n_ctx = 512;
    pa::model::session s(m, {cpu.get()}, o);
    auto greedy = [&](std::vector<float> logits, std::vector<int32_t>& out) {
        std::string text;
        for (int i = 0; i < 24; ++i) {
            const int32_t t = pa::model::argmax(logits);
            if (m.tok().is_eog(t)) break;
            out.push_back(t);
            text += m.tok().piece(t);
            logits = s.eval(std::span<const int32_t>(&out.back(), 1));
        }
        return text;
    };
    const std::string prompt1 = chatml({{"user", first}});
    std::vector<int32_t> gen1;
    const std::string text1 = greedy(s.eval(m.tok().encode(prompt1, true, true)), gen1);
    ASSERT_EQ(text1, reply1);
    const std::string prompt2 = chatml({{"user", first}, {"assistant", reply1}, {"user", second}});
    ASSERT_EQ(prompt2.compare(0, prompt1.size() + reply1.size(), prompt1 + reply1), 0);
    std::vector<int32_t> gen2;
    const std::string want2 =
        greedy(s.eval(m.tok().encode(prompt2.substr(prompt1.size() + reply1.size()), false, true)), gen2);
    EXPECT_FALSE(reply2.empty());
    EXPECT_EQ(reply2, want2);
}

TEST_F(chat_pty, ctrl_c_stops_a_reply_and_returns_to_the_prompt) {
    // a reply that would run until the context is full: Ctrl-C must end it, the chat goes on
    pty_child c({pa_binary(), "run", "-m", model_, "-cnv", "--temp", "0", "--ignore-eos", "-c", "4096",
                 "--device", "cpu"});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(c.read_until("> ", 0)) << c.out();
    size_t at = c.out().size();
    c.send("Tell me a long story\r");
    ASSERT_TRUE(c.read_until("story\r\n", at)) << c.out();
    const size_t reply_at = c.out().size();
    ASSERT_TRUE(c.read_until(" ", reply_at)) << c.out(); // it is writing the reply
    c.send("\x03");                                      // Ctrl-C
    ASSERT_TRUE(c.read_until("[stopped]", reply_at, 30)) << c.out();
    ASSERT_TRUE(c.read_until("\n> ", reply_at)) << c.out();
    at = c.out().size();
    c.send("Once upon a time\r");
    ASSERT_TRUE(c.read_until("time\r\n", at)) << c.out();
    const size_t second_at = c.out().size();
    ASSERT_TRUE(c.read_until(" ", second_at)) << c.out(); // a second reply starts
    c.send("\x03");
    ASSERT_TRUE(c.read_until("\n> ", second_at, 30)) << c.out();
    c.send("\x04");
    EXPECT_EQ(c.wait_exit(), 0) << c.out();
}
