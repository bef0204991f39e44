// What a results file says per setting: tasks completed, failed and pending, and the headline
// numbers (sample-weighted means of the tasks' stored headlines). `inspect` prints it; the report
// script's numbers are tested against it.
#pragma once

#include <string>
#include <vector>

#include "engine/store/result_store.hpp"

namespace robustscope {

struct SettingSummary {
  const Procedure* procedure = nullptr;  // the spec's (the summary lives no longer than the spec)
  std::string model, kind, procedure_key, setting_key;
  std::string label, family;                // the procedure's own (Procedure::label, ::family)
  std::vector<std::string> headline_names;  // in display order
  int64_t tasks = 0, completed = 0, failed = 0, samples = 0;
  Headline headline;  // over the completed tasks
};

struct ResultsSummary {
  std::vector<SettingSummary> settings;  // in plan order
  std::vector<std::string> pending;      // task keys
  std::vector<std::string> failures;     // "key: message"
  int64_t planned = 0, completed = 0, failed = 0;
};

ResultsSummary summarize_results(const ExperimentSpec& spec, const StoredResults& results);

}  // namespace robustscope
