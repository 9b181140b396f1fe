// ptx_register_cap.h - a register cap for NVIDIA's OpenCL programs, written into their PTX.
//
// NVIDIA's OpenCL compiler takes -cl-nv-maxrregcount=N and ignores it (driver 580: 168 registers
// under a cap of 128 by its own build log). Its program binaries are PTX text, which the driver
// assembles when a program is built from them, and PTX states a cap per kernel entry
// (`.maxnreg N` between the parameter list and the body), which the assembler honours. So the
// program cache applies a cap asked for in the build options by rebuilding the program from its
// PTX with the directive written into every entry (program_cache.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pa::ocl {

// The build option that asks NVIDIA's compiler for a cap: "-cl-nv-maxrregcount=N".
inline constexpr std::string_view register_cap_option = "-cl-nv-maxrregcount";

// N of the last -cl-nv-maxrregcount=N in build options; 0 when there is none or N is not a
// positive number.
int register_cap_of(std::string_view options);

// ptx with `.maxnreg cap` on every .entry (an entry's existing .maxnreg replaced); nullopt when
// the text holds no complete entry (not PTX, or cut short) or cap is not positive. Trailing NULs
// of a driver's binary are kept.
std::optional<std::string> ptx_with_register_cap(std::string_view ptx, int cap);

} // namespace pa::ocl
