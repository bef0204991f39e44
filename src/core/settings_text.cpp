// Settings given as text.
#include "core/settings_text.hpp"

#include <cmath>
#include <cstdio>

#include "core/error.hpp"

namespace robustscope {

double parse_number(const std::string& key, const std::string& value) {
  try {
    size_t used = 0;
    const double number = std::stod(value, &used);
    if (used == value.size()) return number;
  } catch (const std::exception&) {
  }
  throw Error(key, "\"" + value + "\" is not a number");
}

int64_t parse_integer(const std::string& key, const std::string& value) {
  try {
    size_t used = 0;
    const long long number = std::stoll(value, &used);
    if (used == value.size()) return number;
  } catch (const std::exception&) {
  }
  throw Error(key, "\"" + value + "\" is not an integer");
}

bool parse_bool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw Error(key, "\"" + value + "\" is not true or false");
}

std::string format_number(double value) {
  char text[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

}  // namespace robustscope
