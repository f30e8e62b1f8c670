// A small JSON DOM: parse (with line:column errors), build, and serialise.
// Objects keep insertion order (outputs stay readable and stable); lookup is linear, which
// is fine for configs and requests. Large maps (a tokenizer vocabulary) are iterated, not
// looked up. Numbers keep an exact int64 when the text is an integer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tc {

class Json {
 public:
  enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::Bool), bool_(b) {}
  Json(int v) : type_(Type::Number), is_int_(true), int_(v), num_(v) {}
  Json(int64_t v) : type_(Type::Number), is_int_(true), int_(v), num_(double(v)) {}
  Json(uint64_t v) : type_(Type::Number), is_int_(true), int_(int64_t(v)), num_(double(v)) {}
  Json(double v) : type_(Type::Number), num_(v) {}
  Json(const char* s) : type_(Type::String), str_(s) {}
  Json(std::string s) : type_(Type::String), str_(std::move(s)) {}
  Json(std::string_view s) : type_(Type::String), str_(s) {}
  Json(Array a) : type_(Type::Array), arr_(std::move(a)) {}
  Json(Object o) : type_(Type::Object), obj_(std::move(o)) {}

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  // Throws tc::Error("<what>: line L, column C: <problem>") on malformed text.
  static Json parse(std::string_view text, const std::string& what = "JSON");
  static Json parse_file(const std::string& path);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_int() const { return type_ == Type::Number && is_int_; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed accessors throw tc::Error naming the expected type when the value differs.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int() const;  // accepts integral doubles too
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;
  Array& as_array();
  Object& as_object();

  size_t size() const;  // elements of an array or members of an object, else 0
  const Json& operator[](size_t i) const { return as_array().at(i); }

  // Object access. find() returns nullptr when absent; at() throws naming the key.
  const Json* find(std::string_view key) const;
  const Json& at(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // Convenience getters with defaults (throw if present but of the wrong type).
  std::string get_string(std::string_view key, const std::string& def = "") const;
  double get_double(std::string_view key, double def) const;
  int64_t get_int(std::string_view key, int64_t def) const;
  bool get_bool(std::string_view key, bool def) const;

  // Builders.
  Json& set(std::string key, Json value);  // replaces an existing key
  Json& push(Json value);

  // Serialise. indent < 0: compact one line; otherwise pretty with that many spaces.
  std::string dump(int indent = -1) const;

 private:
  void dump_to(std::string& out, int indent, int depth) const;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  int64_t int_ = 0;
  double num_ = 0;
  std::string str_;
  Array arr_;   // value semantics: copies are deep
  Object obj_;
  friend class JsonParser;
};

// Escapes a string as a JSON string literal (with quotes). Invalid UTF-8 bytes become U+FFFD.
std::string json_quote(std::string_view s);

// Reads a JSON Lines file: calls `visit(value, where)` for every non-blank line, where is
// "PATH:LINE". Errors name the place: a malformed line through Json::parse, an error thrown
// by `visit` prefixed with where. Throws "cannot open PATH" when the file cannot be read.
void json_lines_for_each(const std::string& path,
                         const std::function<void(const Json& value, const std::string& where)>& visit);

}  // namespace tc
