// backend.cpp - defaults of the backend interface.
#include "pa/backend.h"

#include <fmt/format.h>

#include "pa/error.h"

namespace pa {

void backend::set_option(const std::string& key, const std::string&) {
    throw error(fmt::format("backend '{}' has no option '{}'", name(), key), PA_ERR_UNSUPPORTED);
}

} // namespace pa
