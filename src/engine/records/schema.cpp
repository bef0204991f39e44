// The schema's names and the task status.
#include "engine/records/schema.hpp"

namespace robustscope::schema {

const EnumNames<TaskStatus>& task_status_names() {
  static const EnumNames<TaskStatus> kNames(
      {{TaskStatus::kCompleted, "completed"}, {TaskStatus::kFailed, "failed"}});
  return kNames;
}

const std::map<std::string, std::string>& all_names() {
#define ROBUSTSCOPE_SCHEMA_ENTRY(name, text) {#name, text},
  static const std::map<std::string, std::string> kNames = {
      ROBUSTSCOPE_SCHEMA_NAMES(ROBUSTSCOPE_SCHEMA_ENTRY)};
#undef ROBUSTSCOPE_SCHEMA_ENTRY
  return kNames;
}

}  // namespace robustscope::schema
