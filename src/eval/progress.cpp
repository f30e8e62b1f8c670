#include "eval/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include "util/error.h"

namespace tc::eval {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long total = long(std::lround(s));
  if (total >= 3600) return str_printf("%ld h %02ld min", total / 3600, (total % 3600) / 60);
  if (total >= 60) return str_printf("%ld min %02ld s", total / 60, total % 60);
  return str_printf("%ld s", total);
}

ProgressBar::ProgressBar(std::string unit, int64_t total, bool enabled, std::FILE* out)
    : unit_(std::move(unit)), total_(total), enabled_(enabled), out_(out), start_(now_seconds()) {
  tty_ = enabled_ && isatty(fileno(out_));
}

std::string ProgressBar::line(int64_t done, const std::string& detail) const {
  const int width = 30;
  const double fraction = total_ > 0 ? double(done) / double(total_) : 1.0;
  const int filled = int(fraction * width);
  std::string bar = "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "]";
  const double elapsed = now_seconds() - start_;
  std::string eta = done > 0 && done < total_ ? ", ETA " + format_duration(elapsed / fraction - elapsed) : "";
  return str_printf("%s %lld/%lld %s%s%s  %s%s", bar.c_str(), (long long)done, (long long)total_, unit_.c_str(),
                    detail.empty() ? "" : "  ", detail.c_str(), format_duration(elapsed).c_str(), eta.c_str());
}

void ProgressBar::update(int64_t done, const std::string& detail) {
  done_ = done;
  detail_ = detail;
  if (!enabled_ || finished_) return;
  if (tty_) {
    double t = now_seconds();
    if (t - last_draw_ < 0.1 && done < total_) return;
    last_draw_ = t;
    std::fprintf(out_, "\r%s\033[K", line(done, detail).c_str());
    std::fflush(out_);
    return;
  }
  int decile = total_ > 0 ? int(10 * done / total_) : 10;
  if (decile > last_decile_ && done < total_) {
    last_decile_ = decile;
    std::fprintf(out_, "%s\n", line(done, detail).c_str());
    std::fflush(out_);
  }
}

void ProgressBar::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(out_, tty_ ? "\r%s\033[K\n" : "%s\n", line(done_, detail_).c_str());
  std::fflush(out_);
}

}  // namespace tc::eval
