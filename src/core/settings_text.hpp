// Settings given as text (spec values, CLI key=value pairs, checkpoint metadata) parsed with errors
// that name the key, and numbers written back so that they read the same.
#pragma once

#include <cstdint>
#include <string>

namespace robustscope {

double parse_number(const std::string& key, const std::string& value);
int64_t parse_integer(const std::string& key, const std::string& value);
bool parse_bool(const std::string& key, const std::string& value);  // true|false|1|0
std::string format_number(double value);  // shortest text that parses back to the same double

}  // namespace robustscope
