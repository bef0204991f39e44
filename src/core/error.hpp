// The one exception type of robustscope: a message and a typed location (file, line, column, key).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace robustscope {

// Where a problem is. `file` names a file or another named source ("--threads", "model output");
// `line` and `column` are 1-based (0: unknown); `key` is the setting the problem is about, in the
// words of spec keys ("steps", "pgd.steps"). The spec parser reads `key` and `subject` to place an
// error at the YAML node it belongs to.
struct Location {
  enum class Subject { kValue, kKeyName };  // a bad value, or a key that is itself wrong

  std::string file;
  int64_t line = 0;
  int64_t column = 0;
  std::string key;
  Subject subject = Subject::kValue;

  static Location of_key(std::string key, Subject subject = Subject::kValue);
  // "file:line:column", "file", or "" when only a key is known.
  std::string text() const;
};

// Thrown where a problem is found and caught once in main, which prints what() and exits non-zero.
class Error : public std::runtime_error {
 public:
  Error(Location location, const std::string& message);
  // `where` names a file or object ("data/train-images-idx3-ubyte", "--threads").
  Error(const std::string& where, const std::string& message);
  explicit Error(const std::string& message);

  // A problem with the setting `key`: what() reads "key: message".
  static Error for_key(const std::string& key, const std::string& message);
  // An unknown setting name: what() reads "\"key\" is unknown (known: …)".
  static Error unknown_key(const std::string& what, const std::string& key,
                           const std::string& known);

  const Location& location() const { return location_; }
  const std::string& message() const { return message_; }
  // The same problem placed at `file:line:column`, keeping its key and the key's prefix in the
  // text.
  Error at(const std::string& file, int64_t line, int64_t column) const;

 private:
  static std::string compose(const Location& location, const std::string& message);
  Location location_;
  std::string message_;
};

}  // namespace robustscope
