// robustscope inspect: what a results file (or a run's task folder) holds.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "engine/analysis/masking_alarms.hpp"
#include "engine/analysis/result_summary.hpp"
#include "engine/records/schema.hpp"
#include "engine/store/result_store.hpp"

namespace robustscope::cli {
namespace {

std::string number_text(double value) {
  if (std::isnan(value)) return "-";
  if (std::isinf(value)) return "inf";
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", value);
  return text;
}

std::string attribute_text(const AttributeValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* number = std::get_if<double>(&value)) return format_number(*number);
  return std::to_string(std::get<int64_t>(value));
}

// One row per setting: model, kind, tasks, samples, every headline, the setting.
void print_csv(const ResultsSummary& summary) {
  std::cout << "model,kind,completed,tasks,samples,headline,value,setting\n";
  for (const SettingSummary& setting : summary.settings) {
    for (const auto& [name, value] : setting.headline) {
      std::cout << setting.model << "," << setting.kind << "," << setting.completed << ","
                << setting.tasks << "," << setting.samples << "," << name << ","
                << format_number(value) << ",\"" << setting.procedure_key << "\"\n";
    }
  }
}

}  // namespace

int inspect_command(const Arguments& arguments) {
  std::string output, format = "text";
  bool show_spec = false;
  po::options_description options("inspect options");
  options.add_options()("results", po::value(&output)->required(), "results file (HDF5)")(
      "spec", po::bool_switch(&show_spec), "print the spec's full text")(
      "format", value_with_default(&format),
      "text | csv (one row per setting and headline number)");
  if (!parse_command("inspect", "Prints what a results file holds.", options, arguments,
                     {"results"})) {
    return 0;
  }
  if (format != "text" && format != "csv")
    throw Error("--format", "\"" + format + "\" is unknown (known: text, csv)");
  const StoredResults results = read_results(output);
  const ExperimentSpec spec = stored_spec(results, output);
  const ResultsSummary summary = summarize_results(spec, results);
  if (format == "csv") {
    print_csv(summary);
    return 0;
  }
  std::printf("results %s\nschema %s\n", output.c_str(), results.schema.c_str());
  for (const char* name :
       {schema::kName, schema::kSpecHash, schema::kSpecPath, schema::kCodeVersion,
        schema::kLibtorchVersion, schema::kHdf5Version, schema::kMpiVersion, schema::kBlas,
        schema::kMergedAt, schema::kLastRunRankLayout}) {
    const auto found = results.root.find(name);
    if (found != results.root.end())
      std::printf("%-22s %s\n", name, attribute_text(found->second).c_str());
  }
  for (const ModelSpec& model : spec.models)
    std::printf("model %-14s %s %s (%s, hash %s)\n", model.name.c_str(), model.source.kind.c_str(),
                model.source.path.c_str(), model.dataset.c_str(), model.content_hash.c_str());
  for (const Record& run : results.runs) {
    std::printf("run %s: %s .. %s, %ld ranks, %ld computed, %ld failed, %ld skipped\n",
                run.text(schema::kRunId).c_str(), run.text(schema::kStarted).c_str(),
                run.text(schema::kEnded).c_str(), run.integer(schema::kRanks),
                run.integer(schema::kTasksComputed), run.integer(schema::kTasksFailed),
                run.integer(schema::kTasksSkipped));
  }
  if (show_spec) std::printf("\n--- spec ---\n%s--- end of spec ---\n", results.spec_text.c_str());

  std::printf("\ntasks: %ld planned, %ld completed, %ld failed, %zu pending\n", summary.planned,
              summary.completed, summary.failed, summary.pending.size());
  for (const std::string& failure : summary.failures) std::printf("  failed %s\n", failure.c_str());
  for (size_t i = 0; i < summary.pending.size() && i < 20; ++i)
    std::printf("  pending %s\n", summary.pending[i].c_str());
  if (summary.pending.size() > 20)
    std::printf("  … and %zu more pending\n", summary.pending.size() - 20);

  std::printf("\n%-14s %-9s %7s %8s  %s\n", "model", "kind", "shards", "samples",
              "headline  (setting)");
  for (const SettingSummary& setting : summary.settings) {
    if (setting.completed == 0) continue;
    std::string headline;
    for (const std::string& name : setting.headline_names) {
      const auto found = setting.headline.find(name);
      if (found != setting.headline.end())
        headline += (headline.empty() ? "" : "  ") + name + " " + number_text(found->second);
    }
    std::printf("%-14s %-9s %3ld/%-3ld %8ld  %s  (%s)\n", setting.model.c_str(),
                setting.kind.c_str(), setting.completed, setting.tasks, setting.samples,
                headline.empty() ? "-" : headline.c_str(), setting.procedure_key.c_str());
  }

  const std::vector<MaskingAlarm> alarms = masking_alarms(spec, results);
  std::printf("\ngradient-masking alarms (docs/alarms.md): %s\n",
              alarms.empty() ? "none" : std::to_string(alarms.size()).c_str());
  for (const MaskingAlarm& alarm : alarms)
    std::printf("  %-14s %-28s %s\n", alarm.model.c_str(), alarm.check.c_str(),
                alarm.evidence.c_str());
  return 0;
}

}  // namespace robustscope::cli
