// A progress bar on stderr: "[#####.....] 37/200 problems  1480/11000 runs  12 s, ETA 54 s".
// On a terminal it redraws one line (at most 10 times a second); otherwise (a log file, CI)
// it prints a line at every 10% and at the end, so logs stay short.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace tc::eval {

class ProgressBar {
 public:
  // unit: what `done`/`total` count ("problems"); enabled = false prints nothing.
  ProgressBar(std::string unit, int64_t total, bool enabled = true, std::FILE* out = stderr);
  // detail: extra text after the counts (e.g. "1480/11000 runs").
  void update(int64_t done, const std::string& detail = "");
  void finish();  // the final state and a newline (idempotent)

 private:
  std::string line(int64_t done, const std::string& detail) const;

  std::string unit_;
  int64_t total_;
  bool enabled_;
  bool tty_;
  std::FILE* out_;
  double start_;
  double last_draw_ = -1;
  int last_decile_ = -1;
  int64_t done_ = 0;
  std::string detail_;
  bool finished_ = false;
};

// "1 h 02 min", "3 min 05 s", "12 s".
std::string format_duration(double seconds);

}  // namespace tc::eval
