// Errors: every failure a user can cause (bad file, bad option, bad request) is thrown as
// tc::Error with a message that names the cause; the CLI prints it and exits non-zero.
// Internal invariants use TC_ASSERT, which also throws (never aborts) so a library user
// can recover, and the message carries file:line.
#pragma once

#include <cstdarg>
#include <stdexcept>
#include <string>

namespace tc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// printf-style formatting into a std::string (GCC 12 has no std::format).
std::string str_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string str_vprintf(const char* fmt, va_list args);

[[noreturn]] void throw_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace tc

#define TC_THROW(...) ::tc::throw_error(__VA_ARGS__)

#define TC_ASSERT(cond)                                                                    \
  do {                                                                                     \
    if (!(cond)) ::tc::throw_error("internal error: %s:%d: assertion failed: %s", __FILE__, \
                                   __LINE__, #cond);                                       \
  } while (0)

#define TC_CHECK_ARG(cond, ...)          \
  do {                                   \
    if (!(cond)) ::tc::throw_error(__VA_ARGS__); \
  } while (0)
