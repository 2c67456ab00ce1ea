// A small JSON value with a strict parser and a writer: enough for safetensors headers,
// metrics.json and run configs. Parse errors name the byte offset and what was expected.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace glia {

class Json {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : kind_(Kind::boolean), bool_(b) {}
  Json(double v) : kind_(Kind::number), number_(v) {}
  Json(int v) : Json(static_cast<int64_t>(v)) {}
  Json(int64_t v) : kind_(Kind::number), number_(static_cast<double>(v)), integer_(v), is_integer_(true) {}
  Json(const char* s) : kind_(Kind::string), string_(s) {}
  Json(std::string s) : kind_(Kind::string), string_(std::move(s)) {}
  static Json array() { Json j; j.kind_ = Kind::array; return j; }
  static Json object() { Json j; j.kind_ = Kind::object; return j; }

  // `what` names the document (e.g. a file path) in error messages.
  static Json parse(const std::string& text, const std::string& what = "JSON");
  std::string dump(int indent = -1) const;  // indent < 0: compact

  Kind kind() const { return kind_; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_number() const { return kind_ == Kind::number; }
  bool is_integer() const { return kind_ == Kind::number && is_integer_; }

  const std::string& as_string() const;
  double as_number() const;
  int64_t as_integer() const;  // error unless the number was written as an integer
  bool as_bool() const;

  // Arrays
  size_t size() const { return kind_ == Kind::array ? items_.size() : members_.size(); }
  const Json& operator[](size_t i) const;
  void push_back(Json v);
  const std::vector<Json>& items() const { return items_; }

  // Objects keep insertion order (so written files read naturally).
  bool contains(const std::string& key) const;
  const Json& at(const std::string& key) const;  // error naming the missing key
  Json& operator[](const std::string& key);      // inserts null when missing
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

 private:
  friend class JsonParser;
  Kind kind_ = Kind::null;
  bool bool_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  bool is_integer_ = false;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace glia
