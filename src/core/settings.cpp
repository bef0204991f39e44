// Settings as text.
#include "core/settings.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace robustscope {
namespace {

bool is_digits(const std::string& text, size_t from) {
  return from < text.size() && text.find_first_not_of("0123456789", from) == std::string::npos;
}

}  // namespace

double parse_number(const std::string& key, const std::string& text) {
  const char* start = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(start, &end);
  const bool whole = !text.empty() && end == start + text.size() &&
                     text.find_first_of(" \t\n") == std::string::npos;
  if (!whole) throw Error::for_key(key, "\"" + text + "\" is not a number");
  if (!std::isfinite(value) || errno == ERANGE)
    throw Error::for_key(key, "\"" + text + "\" is not a finite number");
  return value;
}

int64_t parse_integer(const std::string& key, const std::string& text) {
  const size_t digits_from = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (!is_digits(text, digits_from))
    throw Error::for_key(key, "\"" + text + "\" is not an integer");
  errno = 0;
  const long long value = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE) throw Error::for_key(key, "\"" + text + "\" is out of the integer range");
  return value;
}

uint64_t parse_seed(const std::string& key, const std::string& text) {
  if (!is_digits(text, 0))
    throw Error::for_key(key, "\"" + text + "\" is not a seed (an integer 0 .. 2^63 - 1)");
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE ||
      value > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
    throw Error::for_key(key, "\"" + text + "\" is out of range (a seed is 0 .. 2^63 - 1)");
  return value;
}

bool parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "no" || text == "0") return false;
  throw Error::for_key(key, "\"" + text + "\" is not true or false");
}

std::string format_number(double value) {
  char text[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

std::string setting_text(const SettingValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* number = std::get_if<double>(&value)) return format_number(*number);
  return std::to_string(std::get<int64_t>(value));
}

}  // namespace robustscope
