#include "text/unicode.h"

#include <algorithm>
#include <vector>

#include "text/unicode_data.h"

namespace tc {

namespace ud = unicode_data;

UnicodeCategory unicode_category(uint32_t cp) {
  if (cp >= 0x110000) return UnicodeCategory::Cn;
  return UnicodeCategory(ud::kCategoryStage2[size_t(ud::kCategoryStage1[cp >> 8]) * 256 + (cp & 255)]);
}

bool unicode_is_whitespace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool unicode_is_python_space(uint32_t cp) {
  return unicode_is_whitespace(cp) || (cp >= 0x1C && cp <= 0x1F);
}

// --- UTF-8 -------------------------------------------------------------------------------

Utf8Char utf8_decode(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  size_t avail = s.size() - pos;
  unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1, true};
  // Expected length and the allowed range of the second byte (Unicode Table 3-7).
  uint32_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  uint32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) { need = 2; cp = b0 & 0x1F; }
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3; cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4; cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {kReplacementChar, 1, false};
  }
  for (uint32_t k = 1; k < need; ++k) {
    if (k >= avail) return {kReplacementChar, k, false};
    unsigned char b = p[k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return {kReplacementChar, k, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, need, true};
}

bool utf8_is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Char c = utf8_decode(s, i);
    if (!c.valid) return false;
    i += c.len;
  }
  return true;
}

std::string utf8_sanitize(std::string_view s) {
  if (utf8_is_valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    Utf8Char c = utf8_decode(s, i);
    if (c.valid) out.append(s.substr(i, c.len));
    else utf8_append(out, kReplacementChar);
    i += c.len;
  }
  return out;
}

size_t utf8_complete_prefix(std::string_view s) {
  // Only the last 3 bytes can start a sequence that more bytes would complete.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t start = n - back;
    Utf8Char c = utf8_decode(s, start);
    if (!c.valid && start + c.len == n && c.len == back) {
      // The bytes so far form a valid but truncated prefix of a longer sequence: hold it back.
      unsigned char b0 = static_cast<unsigned char>(s[start]);
      uint32_t need = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
      if (b0 >= 0xC2 && b0 <= 0xF4 && back < need) return start;
    }
    if (static_cast<unsigned char>(s[start]) < 0x80 || static_cast<unsigned char>(s[start]) >= 0xC0) break;
  }
  return n;
}

// --- NFC ---------------------------------------------------------------------------------

namespace {

constexpr uint32_t kHangulSBase = 0xAC00, kHangulLBase = 0x1100, kHangulVBase = 0x1161,
                   kHangulTBase = 0x11A7;
constexpr uint32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;
constexpr uint32_t kHangulNCount = kHangulVCount * kHangulTCount;
constexpr uint32_t kHangulSCount = kHangulLCount * kHangulNCount;

// Code points that may change under NFC or affect a neighbour (NFC_Quick_Check No or Maybe,
// plus non-zero combining classes, which reordering moves): a canonical decomposition that
// does not recompose (singletons, exclusions), or the second half of a composition (incl.
// Hangul V/T jamo). A primary composite such as U+00E9 on its own is already NFC.
const std::vector<bool>& nfc_maybe_table() {
  static const std::vector<bool> table = [] {
    std::vector<bool> t(0x110000, false), composite(0x110000, false);
    for (size_t i = 0; i < ud::kCompositionCount; ++i) composite[ud::kCompositions[i].composite] = true;
    for (size_t i = 0; i < ud::kCombiningClassCount; ++i) t[ud::kCombiningClasses[i].cp] = true;
    for (size_t i = 0; i < ud::kDecompositionCount; ++i) {
      if (!composite[ud::kDecompositions[i].cp]) t[ud::kDecompositions[i].cp] = true;
    }
    for (size_t i = 0; i < ud::kCompositionCount; ++i) t[ud::kCompositions[i].second] = true;
    for (uint32_t cp = kHangulVBase; cp < kHangulVBase + kHangulVCount; ++cp) t[cp] = true;
    for (uint32_t cp = kHangulTBase + 1; cp < kHangulTBase + kHangulTCount; ++cp) t[cp] = true;
    return t;
  }();
  return table;
}

const ud::Decomposition* find_decomposition(uint32_t cp) {
  const ud::Decomposition* end = ud::kDecompositions + ud::kDecompositionCount;
  auto it = std::lower_bound(ud::kDecompositions, end, cp,
                             [](const ud::Decomposition& d, uint32_t v) { return d.cp < v; });
  return it != end && it->cp == cp ? it : nullptr;
}

void decompose_into(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kHangulSBase && cp < kHangulSBase + kHangulSCount) {
    uint32_t s = cp - kHangulSBase;
    out.push_back(kHangulLBase + s / kHangulNCount);
    out.push_back(kHangulVBase + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount) out.push_back(kHangulTBase + s % kHangulTCount);
    return;
  }
  if (const ud::Decomposition* d = find_decomposition(cp)) {
    decompose_into(d->first, out);
    if (d->second) decompose_into(d->second, out);
    return;
  }
  out.push_back(cp);
}

uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= kHangulLBase && a < kHangulLBase + kHangulLCount && b >= kHangulVBase &&
      b < kHangulVBase + kHangulVCount) {
    return kHangulSBase + ((a - kHangulLBase) * kHangulVCount + (b - kHangulVBase)) * kHangulTCount;
  }
  if (a >= kHangulSBase && a < kHangulSBase + kHangulSCount && (a - kHangulSBase) % kHangulTCount == 0 &&
      b > kHangulTBase && b < kHangulTBase + kHangulTCount) {
    return a + (b - kHangulTBase);
  }
  const ud::Composition* end = ud::kCompositions + ud::kCompositionCount;
  auto it = std::lower_bound(ud::kCompositions, end, std::make_pair(a, b),
                             [](const ud::Composition& c, std::pair<uint32_t, uint32_t> v) {
                               return c.first != v.first ? c.first < v.first : c.second < v.second;
                             });
  return it != end && it->first == a && it->second == b ? it->composite : 0;
}

}  // namespace

uint32_t unicode_combining_class(uint32_t cp) {
  const ud::CombiningClass* end = ud::kCombiningClasses + ud::kCombiningClassCount;
  auto it = std::lower_bound(ud::kCombiningClasses, end, cp,
                             [](const ud::CombiningClass& c, uint32_t v) { return c.cp < v; });
  return it != end && it->cp == cp ? it->ccc : 0;
}

bool unicode_nfc_quick_check(std::string_view s) {
  const std::vector<bool>& maybe = nfc_maybe_table();
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Char c = utf8_decode(s, i);
    if (maybe[c.cp]) return false;
    i += c.len;
  }
  return true;
}

std::string unicode_nfc(std::string_view s) {
  if (unicode_nfc_quick_check(s)) return std::string(s);
  // cps: [n] code points after full canonical decomposition
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    Utf8Char c = utf8_decode(s, i);
    decompose_into(c.cp, cps);
    i += c.len;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  std::vector<uint32_t> ccc(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) ccc[i] = unicode_combining_class(cps[i]);
  for (size_t i = 0; i < cps.size();) {
    if (ccc[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && ccc[j] != 0) ++j;
    std::vector<std::pair<uint32_t, uint32_t>> run;  // (ccc, cp)
    for (size_t k = i; k < j; ++k) run.emplace_back(ccc[k], cps[k]);
    std::stable_sort(run.begin(), run.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (size_t k = i; k < j; ++k) {
      ccc[k] = run[k - i].first;
      cps[k] = run[k - i].second;
    }
    i = j;
  }
  // Canonical composition.
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  long starter = -1;       // index in `out` of the last starter
  uint32_t last_ccc = 0;   // combining class of the last char appended after that starter
  for (size_t i = 0; i < cps.size(); ++i) {
    uint32_t c = cps[i], k = ccc[i];
    bool adjacent = starter >= 0 && size_t(starter) + 1 == out.size();
    if (starter >= 0 && (adjacent || (last_ccc != 0 && last_ccc < k))) {
      if (uint32_t composite = compose_pair(out[starter], c)) {
        out[starter] = composite;
        continue;
      }
    }
    if (k == 0) {
      starter = long(out.size());
      last_ccc = 0;
    } else {
      last_ccc = k;
    }
    out.push_back(c);
  }
  std::string result;
  result.reserve(s.size());
  for (uint32_t c : out) utf8_append(result, c);
  return result;
}

}  // namespace tc
