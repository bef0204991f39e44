// Per-setting summaries of stored results.
#include "engine/analysis/result_summary.hpp"

#include <map>

#include "engine/records/schema.hpp"

namespace robustscope {

ResultsSummary summarize_results(const ExperimentSpec& spec, const StoredResults& results) {
  ResultsSummary summary;
  const std::vector<Task> plan = plan_tasks(spec);
  summary.planned = static_cast<int64_t>(plan.size());
  std::map<std::string, size_t> index;  // setting key → position in summary.settings
  std::map<std::string, std::map<std::string, double>> sums;  // setting → headline → Σ n·value
  for (const Task& task : plan) {
    auto found_setting = index.find(task.setting_key);
    if (found_setting == index.end()) {
      SettingSummary setting;
      setting.model = spec.models[task.model].name;
      const Procedure& procedure = spec.procedures[task.procedure];
      setting.procedure = &procedure;
      setting.kind = procedure.kind();
      setting.procedure_key = procedure.key();
      setting.label = procedure.label();
      setting.family = procedure.family();
      setting.headline_names = procedure.headline_names();
      setting.setting_key = task.setting_key;
      found_setting = index.emplace(task.setting_key, summary.settings.size()).first;
      summary.settings.push_back(setting);
    }
    SettingSummary& setting = summary.settings[found_setting->second];
    ++setting.tasks;
    const auto found = results.tasks.find(task.id);
    std::string why;
    if (found != results.tasks.end() && verify_task(found->second, task, why)) {
      ++setting.completed;
      ++summary.completed;
      setting.samples += task.sample_count;
      for (const std::string& name : setting.headline_names) {
        const std::string attribute = schema::kHeadlinePrefix + name;
        if (found->second.has(attribute))
          sums[task.setting_key][name] +=
              static_cast<double>(task.sample_count) * found->second.number(attribute);
      }
      continue;
    }
    const bool failed = found != results.tasks.end() && found->second.has(schema::kStatus) &&
                        found->second.text(schema::kStatus) ==
                            schema::task_status_names().name(schema::TaskStatus::kFailed) &&
                        found->second.text(schema::kKey) == task.key;
    if (failed) {
      ++setting.failed;
      ++summary.failed;
      summary.failures.push_back(task.key + ": " + found->second.text(schema::kMessage));
    } else {
      summary.pending.push_back(task.key);
    }
  }
  for (SettingSummary& setting : summary.settings) {
    if (setting.samples == 0) continue;
    for (const auto& [name, sum] : sums[setting.setting_key])
      setting.headline[name] = sum / static_cast<double>(setting.samples);
  }
  return summary;
}

}  // namespace robustscope
