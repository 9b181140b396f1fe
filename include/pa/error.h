// error.h - the one exception type used inside the runtime. The C ABI edge turns it into a
// pa_status plus message; the CLI prints "error: <what>" and exits non-zero.
#pragma once

#include <stdexcept>
#include <string>

#include "pa/pa_plugin.h"

namespace pa {

class error : public std::runtime_error {
public:
    explicit error(const std::string& msg, pa_status status = PA_ERR_INVALID)
        : std::runtime_error(msg), status_(status) {}
    pa_status status() const noexcept { return status_; }

private:
    pa_status status_;
};

} // namespace pa
