// sanitizer_build.h - whether this test binary was built with AddressSanitizer (the CI's second
// suite): tests that need a plain process (address-space limits) or that only measure quality at
// sizes ASan makes slow consult it.
#pragma once

namespace pa::test {

inline constexpr bool built_with_asan =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

} // namespace pa::test
