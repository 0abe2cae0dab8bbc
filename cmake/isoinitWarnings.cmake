# isoinit_warnings(<target>): the warnings the kernel and the bindings compile clean under,
# and -Werror when ISOINIT_WERROR is ON (CI). Third-party headers (Eigen, pybind11) come
# from imported targets, whose include directories are SYSTEM, so their warnings don't count.
include_guard(GLOBAL)
option(ISOINIT_WERROR "Treat compiler warnings as errors (CI)" OFF)
# The sanitizer job of .ci/run: AddressSanitizer and UndefinedBehaviorSanitizer on every target
# that calls isoinit_warnings() (the C++ tests and the _core extension). UB aborts at the first
# finding; a Python process loading a sanitized _core needs LD_PRELOAD of the ASan runtime.
option(ISOINIT_SANITIZE "Build with -fsanitize=address,undefined (CI's sanitizer job)" OFF)

function(isoinit_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Wno-unknown-pragmas)
    if(ISOINIT_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(ISOINIT_SANITIZE)
      target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                               -fno-omit-frame-pointer -g)
      target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4)
    if(ISOINIT_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  endif()
endfunction()
