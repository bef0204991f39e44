// The gradient-masking checks on planted numbers: task records written as a run would, with robust
// accuracies and ψ chosen to show each symptom on one model and none on its twin; then what merge
// stores and reads back.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>

#include "engine/store/masking_alarms.hpp"
#include "engine/store/result_store.hpp"
#include "engine/store/schema.hpp"
#include "support/batch_runs.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

constexpr int64_t kSamples = 20;

class MaskingAlarms : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::save_mlp(dir.file("m.pt"), 1);
    spec = parse_spec(
        "name: alarms\nseed: 1\noutput: " + dir.file("r.h5") +
            "\ndata: {dir: " + testing::data_dir() +
            "}\nsamples: {count: 20, shard_size: 20, batch_size: 20}\nmodels:\n"
            "  - {name: sound, checkpoint: " +
            dir.file("m.pt") + "}\n  - {name: masked, checkpoint: " + dir.file("m.pt") +
            "}\n"
            "procedures:\n"
            "  metric: {epsilon: 0.1, normalization: none, steps: 5}\n"
            "  attacks:\n"
            "    - {name: fgsm, epsilon: 0.1}\n"
            "    - {name: pgd, epsilon: 0.1, steps: [10, 40]}\n"
            "    - {name: pgd, epsilon: [0.3, 1.0], steps: 10}\n"
            "  transfers:\n"
            "    - {substitute: sound, name: fgsm, epsilon: 0.1}\n"
            "  ensembles:\n"
            "    - {members: [apgd-ce, apgd-t], epsilon: 0.1, steps: 5, target_classes: 3}\n"
            "  certify: {method: crown, epsilon: 0.1, normalization: none}\n",
        dir.file("alarms.yaml"));
    resolve_models(spec, false);
  }

  // The planted number of a task: robust accuracy for attacks, ψ for the metric, ψ certified.
  using Planted = double (*)(const std::string& model, const Procedure& procedure);

  StoredResults planted(Planted number) const {
    StoredResults results;
    for (const Task& task : plan_tasks(spec)) {
      const Procedure& procedure = spec.procedures[task.procedure];
      const double value = number(spec.models[task.model].name, procedure);
      Record record;
      record.set(schema::kStatus, std::string("completed"));
      record.set(schema::kKey, task.key);
      record.set(schema::kId, task.id);
      record.datasets[schema::kSampleIds] =
          torch::arange(task.first_sample, task.first_sample + kSamples, torch::kInt64);
      record.datasets[schema::kCleanCorrect] = torch::ones({kSamples}, torch::kBool);
      const std::string kind = procedure.kind();
      if (kind == "metric") {
        record.datasets[schema::kPsi] = torch::full({kSamples}, value, torch::kFloat32);
      } else if (kind == "certify") {
        record.datasets[schema::kPsiUpper] = torch::full({kSamples}, value, torch::kFloat32);
        record.datasets[schema::kCertified] = torch::zeros({kSamples}, torch::kBool);
      } else {  // value: robust accuracy, in twentieths
        const auto unbroken = static_cast<int64_t>(std::lround(value * kSamples));
        record.datasets[schema::kBroken] = torch::arange(kSamples) >= unbroken;
      }
      for (const auto& [name, headline] : procedure_headline(kind, record))
        record.set(schema::kHeadlinePrefix + name, headline);
      record.set(schema::kChecksum, record_checksum(record));
      results.tasks[task.id] = record;
    }
    return results;
  }

  TempDir dir;
  ExperimentSpec spec;
};

// A sound model: stronger attacks do better, larger ε leaves less, ~0 at the whole domain, and the
// ascent's ψ within a factor 10 of the certified bound. The masked twin shows every symptom (its
// ascent stalls at ψ = 1e-8 where the bound allows 4).
double planted_numbers(const std::string& model, const Procedure& procedure) {
  const bool masked = model == "masked";
  if (std::get_if<MetricProcedure>(&procedure.settings)) return masked ? 1e-8 : 0.5;
  if (std::get_if<CertifyProcedure>(&procedure.settings)) return 4.0;
  if (std::get_if<TransferProcedure>(&procedure.settings)) return masked ? 0.25 : 0.9;
  if (std::get_if<EnsembleProcedure>(&procedure.settings)) return masked ? 0.05 : 0.35;
  const AttackConfig& attack = std::get<AttackProcedure>(procedure.settings).config;
  if (attack.name == "fgsm") return masked ? 0.4 : 0.6;
  if (attack.epsilon == 1.0) return masked ? 0.7 : 0.0;
  if (attack.epsilon == 0.3) return masked ? 0.95 : 0.1;
  return attack.steps == 40 ? (masked ? 0.5 : 0.4) : (masked ? 0.8 : 0.4);
}

TEST_F(MaskingAlarms, EachSymptomIsFlaggedOnTheMaskedModelAndNoneOnItsSoundTwin) {
  const std::vector<MaskingAlarm> alarms = masking_alarms(spec, planted(planted_numbers));
  std::map<std::string, const MaskingAlarm*> by_check;
  for (const MaskingAlarm& alarm : alarms) {
    EXPECT_EQ(alarm.model, "masked") << alarm.check << ": " << alarm.evidence;
    EXPECT_EQ(by_check.count(alarm.check), 0u) << "twice: " << alarm.check;
    by_check[alarm.check] = &alarm;
  }
  EXPECT_EQ(by_check.size(), masking_check_names().size());
  for (const std::string& check : masking_check_names())
    EXPECT_EQ(by_check.count(check), 1u) << check << " not flagged";
  if (by_check.size() != masking_check_names().size()) return;

  // (a) The transfer (0.25) is not the strongest black-box setting: the ensemble (0.05) is,
  // against the stronger of PGD-10 (0.80) and PGD-40 (0.50).
  const MaskingAlarm& black_box = *by_check["black-box-stronger"];
  EXPECT_NEAR(black_box.value, 0.5, 1e-12);
  EXPECT_NEAR(black_box.reference_value, 0.05, 1e-12);
  EXPECT_NE(black_box.setting.find("steps=40"), std::string::npos) << black_box.setting;
  EXPECT_EQ(black_box.reference.rfind("ensemble(", 0), 0u) << black_box.reference;
  EXPECT_NE(black_box.evidence.find("worst of apgd-ce+apgd-t leaves 0.050 robust accuracy at "
                                    "linf ε=0.1 where the strongest white-box pgd-40 leaves 0.500"),
            std::string::npos)
      << black_box.evidence;
  // (b) At ε = 1, the whole domain.
  EXPECT_NEAR(by_check["no-collapse-at-large-epsilon"]->value, 0.7, 1e-12);
  EXPECT_NE(by_check["no-collapse-at-large-epsilon"]->setting.find("epsilon=1,"),
            std::string::npos);
  // (b) PGD-10 leaves 0.95 at ε = 0.3 but 0.80 at ε = 0.1 (ε = 1's 0.70 is a fall).
  const MaskingAlarm& rises = *by_check["accuracy-rises-with-epsilon"];
  EXPECT_NEAR(rises.value, 0.95, 1e-12);
  EXPECT_NEAR(rises.reference_value, 0.8, 1e-12);
  // (c) PGD-40 leaves 0.50 where PGD-10 left 0.80.
  EXPECT_NEAR(by_check["not-converged"]->value, 0.8, 1e-12);
  EXPECT_NEAR(by_check["not-converged"]->reference_value, 0.5, 1e-12);
  // (d) FGSM's 0.40 below the strongest PGD's 0.50.
  EXPECT_NEAR(by_check["single-step-stronger"]->reference_value, 0.4, 1e-12);
  // (e) ψ 1e-8 against a bound of 4 on every sample.
  EXPECT_EQ(by_check["certified-gap"]->value, 1.0);
  EXPECT_EQ(by_check["certified-gap"]->reference_value, 4.0);
  EXPECT_NE(by_check["certified-gap"]->evidence.find(
                "the ascent's ψ stays below 1e-06 on 100% of the 20 samples whose certified bound "
                "exceeds 0.01 (median bound 4)"),
            std::string::npos)
      << by_check["certified-gap"]->evidence;
}

TEST_F(MaskingAlarms, MergeStoresTheAlarmsAndInspectPrintsThem) {
  const ResultStore store(dir.file("r.h5"));
  store.record_spec(spec);
  for (const auto& [id, record] : planted(planted_numbers).tasks) store.folder().write_task(record);
  store.merge(spec);
  const StoredResults merged = read_results(dir.file("r.h5"));
  ASSERT_TRUE(merged.alarms.has_value());
  const std::vector<MaskingAlarm> stored = alarms_from_record(*merged.alarms);
  const std::vector<MaskingAlarm> computed =
      masking_alarms(stored_spec(merged, dir.file("r.h5")), merged);
  ASSERT_EQ(stored.size(), masking_check_names().size());
  ASSERT_EQ(stored.size(), computed.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].model, computed[i].model);
    EXPECT_EQ(stored[i].check, computed[i].check);
    EXPECT_EQ(stored[i].evidence, computed[i].evidence);
    EXPECT_EQ(stored[i].setting, computed[i].setting);
    EXPECT_EQ(stored[i].reference, computed[i].reference);
    EXPECT_EQ(stored[i].value, computed[i].value);
    EXPECT_EQ(stored[i].reference_value, computed[i].reference_value);
    EXPECT_EQ(stored[i].threshold, computed[i].threshold);
  }
  const auto inspected =
      testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " inspect " + dir.file("r.h5"));
  ASSERT_EQ(inspected.exit_code, 0) << inspected.output;
  EXPECT_NE(inspected.output.find("gradient-masking alarms (docs/alarms.md): 6"), std::string::npos)
      << inspected.output;
  for (const MaskingAlarm& alarm : stored)
    EXPECT_NE(inspected.output.find(alarm.evidence), std::string::npos) << alarm.evidence;

  // A store without symptoms says so.
  const ResultStore clean(dir.file("clean.h5"));
  ExperimentSpec clean_spec = spec;
  clean_spec.output = dir.file("clean.h5");
  clean.record_spec(clean_spec);
  for (const auto& [id, record] : planted([](const std::string&, const Procedure& procedure) {
                                    return planted_numbers("sound", procedure);
                                  }).tasks)
    clean.folder().write_task(record);
  clean.merge(clean_spec);
  EXPECT_TRUE(alarms_from_record(*read_results(dir.file("clean.h5")).alarms).empty());
  const auto quiet =
      testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " inspect " + dir.file("clean.h5"));
  EXPECT_NE(quiet.output.find("gradient-masking alarms (docs/alarms.md): none"), std::string::npos)
      << quiet.output;
}

}  // namespace
}  // namespace robustscope
