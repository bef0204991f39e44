// The one exception type of robustscope.
#include "core/error.hpp"

namespace robustscope {

Location Location::of_key(std::string key, Subject subject) {
  Location location;
  location.key = std::move(key);
  location.subject = subject;
  return location;
}

std::string Location::text() const {
  if (file.empty() || line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Error::compose(const Location& location, const std::string& message) {
  std::string prefix = location.text();
  // A bad value names its key; an unknown key is named by the message itself.
  if (!location.key.empty() && location.subject == Location::Subject::kValue)
    prefix += (prefix.empty() ? "" : ": ") + location.key;
  return prefix.empty() ? message : prefix + ": " + message;
}

Error::Error(Location location, const std::string& message)
    : std::runtime_error(compose(location, message)),
      location_(std::move(location)),
      message_(message) {}

Error::Error(const std::string& where, const std::string& message)
    : Error(Location{where, 0, 0, "", Location::Subject::kValue}, message) {}

Error::Error(const std::string& message) : Error(Location{}, message) {}

Error Error::for_key(const std::string& key, const std::string& message) {
  return Error(Location::of_key(key), message);
}

Error Error::unknown_key(const std::string& what, const std::string& key,
                         const std::string& known) {
  return Error(Location::of_key(key, Location::Subject::kKeyName),
               what + " \"" + key + "\" is unknown (known: " + known + ")");
}

Error Error::at(const std::string& file, int64_t line, int64_t column) const {
  Location placed = location_;
  placed.file = file;
  placed.line = line;
  placed.column = column;
  return Error(placed, message_);
}

}  // namespace robustscope
