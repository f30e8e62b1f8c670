// LazyEviction's importance score (spec §1.5), exposed for tests and the docs.
#pragma once

#include <cstdint>

namespace tc {

enum class LazyScoreForm : uint8_t {
  Code,   // released code: H1 = 2σ(−(1 + Δ/(M + 1e−5))), H2 = 0 if M = 0 else 2σ(−(M − 1))
  Paper,  // paper form (A): H1 = 2σ(−Δ/(M + 1e−5)), H2 = 0 if M = 0 else 2σ(−1/(M − 1))
};

// I = H1 + H2 for a token whose last activation was `delta` = t − TS steps ago and whose
// maximum recurrence interval is `mri` = M.
double lazy_importance(LazyScoreForm form, double delta, double mri);

}  // namespace tc
