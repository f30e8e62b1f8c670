#include "util/json.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.h"
#include "util/utf8.h"

namespace tc {

namespace {
const char* type_name(Json::Type t) {
  switch (t) {
    case Json::Type::Null: return "null";
    case Json::Type::Bool: return "a boolean";
    case Json::Type::Number: return "a number";
    case Json::Type::String: return "a string";
    case Json::Type::Array: return "an array";
    case Json::Type::Object: return "an object";
  }
  return "?";
}

}  // namespace

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  Json parse_document() {
    skip_ws();
    Json v = parse_value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* problem) {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    TC_THROW("%s: line %zu, column %zu: %s", what_.c_str(), line, col, problem);
  }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect_word(const char* w) {
    size_t n = std::strlen(w);
    if (s_.substr(i_, n) != w) fail("invalid literal");
    i_ += n;
  }
  Json parse_value(int depth) {
    if (depth > 512) fail("nesting deeper than 512 levels");
    if (i_ >= s_.size()) fail("unexpected end of input");
    char c = s_[i_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Json(parse_string());
    if (c == 't') { expect_word("true"); return Json(true); }
    if (c == 'f') { expect_word("false"); return Json(false); }
    if (c == 'n') { expect_word("null"); return Json(); }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    fail("expected a value");
  }
  Json parse_object(int depth) {
    ++i_;
    Json obj = Json::object();
    Json::Object& members = obj.obj_;
    skip_ws();
    if (eat('}')) return obj;
    for (;;) {
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string key");
      std::string key = parse_string();
      skip_ws();
      if (!eat(':')) fail("expected ':' after an object key");
      skip_ws();
      members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_ws();
      if (eat(',')) continue;
      if (eat('}')) return obj;
      fail("expected ',' or '}' in an object");
    }
  }
  Json parse_array(int depth) {
    ++i_;
    Json arr = Json::array();
    skip_ws();
    if (eat(']')) return arr;
    for (;;) {
      skip_ws();
      arr.arr_.push_back(parse_value(depth + 1));
      skip_ws();
      if (eat(',')) continue;
      if (eat(']')) return arr;
      fail("expected ',' or ']' in an array");
    }
  }
  uint32_t parse_hex4() {
    if (i_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail("invalid hex digit in \\u escape");
    }
    return v;
  }
  std::string parse_string() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by \uDC00..\uDFFF; a lone one becomes U+FFFD.
            if (i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
              size_t save = i_;
              i_ += 2;
              uint32_t lo = parse_hex4();
              if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              } else {
                i_ = save;
                cp = 0xFFFD;
              }
            } else {
              cp = 0xFFFD;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          utf8_append(out, cp);
          break;
        }
        default: fail("invalid escape in a string");
      }
    }
  }
  Json parse_number() {
    size_t start = i_;
    bool is_int = true;
    eat('-');
    if (i_ >= s_.size() || !(s_[i_] >= '0' && s_[i_] <= '9')) fail("invalid number");
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      is_int = false;
      ++i_;
      if (i_ >= s_.size() || !(s_[i_] >= '0' && s_[i_] <= '9')) fail("invalid number");
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      is_int = false;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !(s_[i_] >= '0' && s_[i_] <= '9')) fail("invalid number");
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    std::string text(s_.substr(start, i_ - start));
    if (is_int && text.size() < 19) return Json(int64_t(std::strtoll(text.c_str(), nullptr, 10)));
    return Json(std::strtod(text.c_str(), nullptr));
  }

  std::string_view s_;
  std::string what_;
  size_t i_ = 0;
};

Json Json::parse(std::string_view text, const std::string& what) {
  return JsonParser(text, what).parse_document();
}

Json Json::parse_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) TC_THROW("cannot open %s", path.c_str());
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

bool Json::as_bool() const {
  if (type_ != Type::Bool) TC_THROW("expected a boolean, found %s", type_name(type_));
  return bool_;
}
double Json::as_double() const {
  if (type_ != Type::Number) TC_THROW("expected a number, found %s", type_name(type_));
  return num_;
}
int64_t Json::as_int() const {
  if (type_ != Type::Number) TC_THROW("expected an integer, found %s", type_name(type_));
  if (is_int_) return int_;
  if (std::floor(num_) != num_ || std::fabs(num_) > 9.2e18) TC_THROW("expected an integer, found %g", num_);
  return int64_t(num_);
}
const std::string& Json::as_string() const {
  if (type_ != Type::String) TC_THROW("expected a string, found %s", type_name(type_));
  return str_;
}
const Json::Array& Json::as_array() const {
  if (type_ != Type::Array) TC_THROW("expected an array, found %s", type_name(type_));
  return arr_;
}
const Json::Object& Json::as_object() const {
  if (type_ != Type::Object) TC_THROW("expected an object, found %s", type_name(type_));
  return obj_;
}
Json::Array& Json::as_array() {
  if (type_ != Type::Array) TC_THROW("expected an array, found %s", type_name(type_));
  return arr_;
}
Json::Object& Json::as_object() {
  if (type_ != Type::Object) TC_THROW("expected an object, found %s", type_name(type_));
  return obj_;
}
size_t Json::size() const {
  if (type_ == Type::Array) return arr_.size();
  if (type_ == Type::Object) return obj_.size();
  return 0;
}
const Json* Json::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& kv : obj_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}
const Json& Json::at(std::string_view key) const {
  const Json* v = find(key);
  if (!v) TC_THROW("missing key \"%.*s\"", int(key.size()), key.data());
  return *v;
}
std::string Json::get_string(std::string_view key, const std::string& def) const {
  const Json* v = find(key);
  if (!v || v->is_null()) return def;
  if (!v->is_string()) TC_THROW("key \"%.*s\": expected a string", int(key.size()), key.data());
  return v->str_;
}
double Json::get_double(std::string_view key, double def) const {
  const Json* v = find(key);
  if (!v || v->is_null()) return def;
  if (!v->is_number()) TC_THROW("key \"%.*s\": expected a number", int(key.size()), key.data());
  return v->num_;
}
int64_t Json::get_int(std::string_view key, int64_t def) const {
  const Json* v = find(key);
  if (!v || v->is_null()) return def;
  if (!v->is_number()) TC_THROW("key \"%.*s\": expected an integer", int(key.size()), key.data());
  return v->as_int();
}
bool Json::get_bool(std::string_view key, bool def) const {
  const Json* v = find(key);
  if (!v || v->is_null()) return def;
  if (!v->is_bool()) TC_THROW("key \"%.*s\": expected a boolean", int(key.size()), key.data());
  return v->bool_;
}
Json& Json::set(std::string key, Json value) {
  if (type_ == Type::Null) type_ = Type::Object;
  if (type_ != Type::Object) TC_THROW("set() on %s", type_name(type_));
  for (auto& kv : obj_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return *this;
    }
  }
  obj_.emplace_back(std::move(key), std::move(value));
  return *this;
}
Json& Json::push(Json value) {
  if (type_ == Type::Null) type_ = Type::Array;
  if (type_ != Type::Array) TC_THROW("push() on %s", type_name(type_));
  arr_.push_back(std::move(value));
  return *this;
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    if (c == '"') { out += "\\\""; ++i; continue; }
    if (c == '\\') { out += "\\\\"; ++i; continue; }
    if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        }
      }
      ++i;
      continue;
    }
    if (c < 0x80) { out += char(c); ++i; continue; }
    // Validate a UTF-8 sequence; copy it whole or emit U+FFFD for one bad byte.
    int len = (c >= 0xF0 && c <= 0xF4) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC2 && c < 0xE0) ? 2 : 0;
    bool ok = len > 0 && i + len <= s.size();
    if (ok) {
      for (int k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) ok = false;
    }
    if (ok && len == 3) {
      unsigned char c1 = s[i + 1];
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) ok = false;
    }
    if (ok && len == 4) {
      unsigned char c1 = s[i + 1];
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) ok = false;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  out += '"';
  return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent) * d, ' ');
  };
  switch (type_) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += bool_ ? "true" : "false"; break;
    case Type::Number: {
      if (is_int_) {
        out += std::to_string(int_);
      } else if (!std::isfinite(num_)) {
        out += "null";  // JSON has no NaN/Inf
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g", num_);
        out += buf;
      }
      break;
    }
    case Type::String: out += json_quote(str_); break;
    case Type::Array: {
      out += '[';
      for (size_t k = 0; k < arr_.size(); ++k) {
        if (k) out += indent < 0 ? "," : ",";
        newline(depth + 1);
        arr_[k].dump_to(out, indent, depth + 1);
      }
      if (!arr_.empty()) newline(depth);
      out += ']';
      break;
    }
    case Type::Object: {
      out += '{';
      for (size_t k = 0; k < obj_.size(); ++k) {
        if (k) out += ",";
        newline(depth + 1);
        out += json_quote(obj_[k].first);
        out += indent < 0 ? ":" : ": ";
        obj_[k].second.dump_to(out, indent, depth + 1);
      }
      if (!obj_.empty()) newline(depth);
      out += '}';
      break;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

void json_lines_for_each(const std::string& path,
                         const std::function<void(const Json& value, const std::string& where)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) TC_THROW("cannot open %s", path.c_str());
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    const Json value = Json::parse(line, where);
    try {
      visit(value, where);
    } catch (const Error& e) {
      TC_THROW("%s: %s", where.c_str(), e.what());
    }
  }
}

}  // namespace tc
