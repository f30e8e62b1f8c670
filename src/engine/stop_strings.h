// Stop strings over streamed text: text is released as soon as it can no longer be the
// start of a stop string, and generation stops once the text contains one. The stop string
// and anything after it are never released.
#pragma once

#include <string>
#include <vector>

namespace tc {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops);  // empty strings are ignored

  // Adds newly decoded text; returns the text now safe to emit.
  std::string push(const std::string& text);
  // At the end of generation: whatever is still held back (nothing once stopped).
  std::string flush();
  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }  // the stop string that ended it

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace tc
