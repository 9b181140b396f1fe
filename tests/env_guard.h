// env_guard.h - sets (or unsets) an environment variable for a scope, then restores what was there.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace pa::test {

class env_guard {
  public:
    // value nullptr: the variable is unset for the scope
    env_guard(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    env_guard(const char* name, const std::string& value) : env_guard(name, value.c_str()) {}
    ~env_guard() {
        if (old_)
            ::setenv(name_.c_str(), old_->c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;

  private:
    std::string name_;
    std::optional<std::string> old_;
};

} // namespace pa::test
