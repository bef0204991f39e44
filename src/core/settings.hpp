// Settings as text: strict parsing of numbers, integers, seeds and flags with errors that name the
// key; named choices (enums) parsed where text enters; and SettingTable, the one description of a
// config's settings — its keys, help, parsing and typed values — that spec parsing, the CLI, the
// task key, the result file and the docs all read.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace robustscope {

// A finite decimal number ("0.3", "1e-3"); Error naming `key` otherwise (also for "nan", "inf").
double parse_number(const std::string& key, const std::string& text);
// An integer written in digits with an optional sign; "2.5", "3x" and out-of-range values fail.
int64_t parse_integer(const std::string& key, const std::string& text);
// A seed: digits only, 0 .. 2^63 − 1 (seeds are stored as int64 in result files).
uint64_t parse_seed(const std::string& key, const std::string& text);
// true | false | yes | no | 1 | 0.
bool parse_bool(const std::string& key, const std::string& text);
// The shortest text that parses back to the same double ("0.3", not 0.29999999999999999).
std::string format_number(double value);
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

// The names of an enum's values, parsed once where text enters (spec, CLI, checkpoint metadata).
template <typename Enum>
class EnumNames {
 public:
  EnumNames(std::vector<std::pair<Enum, std::string>> names) : names_(std::move(names)) {}
  Enum parse(const std::string& key, const std::string& text) const {
    for (const auto& [value, name] : names_)
      if (name == text) return value;
    throw Error::for_key(key, "\"" + text + "\" is unknown (known: " + known() + ")");
  }
  const std::string& name(Enum value) const {
    for (const auto& [candidate, name] : names_)
      if (candidate == value) return name;
    throw Error("internal", "an enum value without a name");
  }
  std::string known() const {
    std::vector<std::string> names;
    for (const auto& item : names_) names.push_back(item.second);
    return join(names);
  }

 private:
  std::vector<std::pair<Enum, std::string>> names_;
};

// A setting's value as stored: numbers as numbers, choices and flags as text.
using SettingValue = std::variant<std::string, double, int64_t>;
std::string setting_text(const SettingValue& value);  // canonical text (format_number for doubles)

// Setting name → value, in key order: what a task key, a result file and a label are made of.
using SettingEntries = std::map<std::string, SettingValue>;

// The settings of one config type. Each entry parses text into the config (throwing Error for its
// key) and reads the typed value back.
template <typename Config>
class SettingTable {
 public:
  struct Entry {
    std::string key;
    std::string help;
    std::function<void(Config&, const std::string&)> parse;
    std::function<SettingValue(const Config&)> value;
  };

  SettingTable& number(const std::string& key, double Config::*field, const std::string& help) {
    return add({key, help,
                [key, field](Config& c, const std::string& t) { c.*field = parse_number(key, t); },
                [field](const Config& c) { return SettingValue(c.*field); }});
  }
  SettingTable& integer(const std::string& key, int64_t Config::*field, const std::string& help) {
    return add({key, help,
                [key, field](Config& c, const std::string& t) { c.*field = parse_integer(key, t); },
                [field](const Config& c) { return SettingValue(c.*field); }});
  }
  SettingTable& seed(const std::string& key, uint64_t Config::*field, const std::string& help) {
    return add({key, help,
                [key, field](Config& c, const std::string& t) { c.*field = parse_seed(key, t); },
                [field](const Config& c) { return SettingValue(static_cast<int64_t>(c.*field)); }});
  }
  SettingTable& flag(const std::string& key, bool Config::*field, const std::string& help) {
    return add({key, help,
                [key, field](Config& c, const std::string& t) { c.*field = parse_bool(key, t); },
                [field](const Config& c) { return SettingValue(c.*field ? "true" : "false"); }});
  }
  template <typename Enum>
  SettingTable& choice(const std::string& key, Enum Config::*field, const EnumNames<Enum>& names,
                       const std::string& help) {
    return add(
        {key, help + " (" + names.known() + ")",
         [key, field, names](Config& c, const std::string& t) { c.*field = names.parse(key, t); },
         [field, names](const Config& c) { return SettingValue(names.name(c.*field)); }});
  }
  SettingTable& add(Entry entry) {
    entries_.push_back(std::move(entry));
    return *this;
  }

  const Entry* find(const std::string& key) const {
    for (const Entry& entry : entries_)
      if (entry.key == key) return &entry;
    return nullptr;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> keys;
    for (const Entry& entry : entries_) keys.push_back(entry.key);
    return keys;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  // Sets `key` from text; an unknown key is an Error naming `what` and the known keys.
  void set(Config& config, const std::string& what, const std::string& key,
           const std::string& text) const {
    const Entry* entry = find(key);
    if (!entry) throw Error::unknown_key(what, key, join(keys()));
    entry->parse(config, text);
  }
  SettingValue value(const Config& config, const std::string& key) const {
    const Entry* entry = find(key);
    if (!entry) throw Error("internal", "no setting \"" + key + "\"");
    return entry->value(config);
  }

 private:
  std::vector<Entry> entries_;
};

}  // namespace robustscope
