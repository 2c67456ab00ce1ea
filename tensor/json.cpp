#include "tensor/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "kernels/error.h"

namespace glia {

class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  Json document() {
    Json v = value(0);
    skip_space();
    if (pos_ != s_.size()) fail("unexpected trailing characters");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;  // refuse pathological nesting instead of overflowing the stack

  [[noreturn]] void fail(const std::string& why) const {
    GLIA_FAIL(what_ << ": invalid JSON at byte " << pos_ << ": " << why);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skip_space();
    if (pos_ >= s_.size()) fail("unexpected end of input");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool literal(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 64 levels");
    char c = peek();
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return Json(string());
    if (literal("true")) return Json(true);
    if (literal("false")) return Json(false);
    if (literal("null")) return Json();
    return number();
  }

  Json object(int depth) {
    Json obj = Json::object();
    expect('{');
    if (peek() == '}') { ++pos_; return obj; }
    // A set, not a scan of the members: a header of a million keys must not take 10^12 steps.
    std::unordered_set<std::string> keys;
    while (true) {
      if (peek() != '"') fail("expected a string key");
      std::string key = string();
      expect(':');
      if (!keys.insert(key).second) fail("duplicate key \"" + key + "\"");
      obj.members_.emplace_back(std::move(key), value(depth + 1));
      char c = peek();
      ++pos_;
      if (c == '}') return obj;
      if (c != ',') { --pos_; fail("expected ',' or '}'"); }
    }
  }

  Json array(int depth) {
    Json arr = Json::array();
    expect('[');
    if (peek() == ']') { ++pos_; return arr; }
    while (true) {
      arr.items_.push_back(value(depth + 1));
      char c = peek();
      ++pos_;
      if (c == ']') return arr;
      if (c != ',') { --pos_; fail("expected ',' or ']'"); }
    }
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') { out += c; continue; }
      if (pos_ >= s_.size()) fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': append_utf8(out, hex4()); break;
        default: fail(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  Json number() {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    bool integral = true;
    auto digits = [&] {
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > d;
    };
    if (!digits()) fail("expected a value");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (!digits()) fail("expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) fail("expected exponent digits");
    }
    std::string token = s_.substr(start, pos_ - start);
    if (integral && token.size() < 19) return Json(static_cast<int64_t>(std::strtoll(token.c_str(), nullptr, 10)));
    if (integral) {
      errno = 0;
      long long v = std::strtoll(token.c_str(), nullptr, 10);
      if (errno == 0) return Json(static_cast<int64_t>(v));
    }
    return Json(std::strtod(token.c_str(), nullptr));
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

Json Json::parse(const std::string& text, const std::string& what) { return JsonParser(text, what).document(); }

const std::string& Json::as_string() const {
  GLIA_CHECK(kind_ == Kind::string, "JSON value is not a string");
  return string_;
}
double Json::as_number() const {
  GLIA_CHECK(kind_ == Kind::number, "JSON value is not a number");
  return number_;
}
int64_t Json::as_integer() const {
  GLIA_CHECK(is_integer(), "JSON value is not an integer");
  return integer_;
}
bool Json::as_bool() const {
  GLIA_CHECK(kind_ == Kind::boolean, "JSON value is not true/false");
  return bool_;
}
const Json& Json::operator[](size_t i) const {
  GLIA_CHECK(kind_ == Kind::array && i < items_.size(), "JSON array index " << i << " out of range (size " << items_.size() << ")");
  return items_[i];
}
void Json::push_back(Json v) {
  GLIA_CHECK(kind_ == Kind::array, "push_back on a JSON value that is not an array");
  items_.push_back(std::move(v));
}
bool Json::contains(const std::string& key) const {
  for (auto& m : members_)
    if (m.first == key) return true;
  return false;
}
const Json& Json::at(const std::string& key) const {
  GLIA_CHECK(kind_ == Kind::object, "JSON value is not an object (looking up \"" << key << "\")");
  for (auto& m : members_)
    if (m.first == key) return m.second;
  GLIA_FAIL("JSON object has no key \"" << key << "\"");
}
Json& Json::operator[](const std::string& key) {
  if (kind_ == Kind::null) kind_ = Kind::object;
  GLIA_CHECK(kind_ == Kind::object, "JSON value is not an object (setting \"" << key << "\")");
  for (auto& m : members_)
    if (m.first == key) return m.second;
  members_.emplace_back(key, Json());
  return members_.back().second;
}

namespace {

void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void dump_value(std::string& out, const Json& j, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (j.kind()) {
    case Json::Kind::null: out += "null"; break;
    case Json::Kind::boolean: out += j.as_bool() ? "true" : "false"; break;
    case Json::Kind::number: {
      if (j.is_integer()) {
        out += std::to_string(j.as_integer());
      } else if (!std::isfinite(j.as_number())) {
        out += "null";  // JSON has no NaN/inf
      } else if (j.as_number() == 0 && std::signbit(j.as_number())) {
        out += "-0.0";  // "-0" would read back as the integer 0 (found by fuzzing)
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", j.as_number());  // round-trips every double
        out += buf;
      }
      break;
    }
    case Json::Kind::string: dump_string(out, j.as_string()); break;
    case Json::Kind::array: {
      out += '[';
      for (size_t i = 0; i < j.items().size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        dump_value(out, j.items()[i], indent, level + 1);
      }
      if (!j.items().empty()) newline(level);
      out += ']';
      break;
    }
    case Json::Kind::object: {
      out += '{';
      bool first = true;
      for (auto& [k, v] : j.members()) {
        if (!first) out += ',';
        first = false;
        newline(level + 1);
        dump_string(out, k);
        out += indent < 0 ? ":" : ": ";
        dump_value(out, v, indent, level + 1);
      }
      if (!j.members().empty()) newline(level);
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string Json::dump(int indent) const {
  std::string out;
  dump_value(out, *this, indent, 0);
  return out;
}

}  // namespace glia
