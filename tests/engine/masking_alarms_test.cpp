// The gradient-masking checks on planted numbers: task records written as a run would, with robust
// accuracies and ψ chosen to show each symptom on one model and none on its twin; then what merge
// stores and reads back.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>

#include "core/error.hpp"
#include "engine/analysis/masking_alarms.hpp"
#include "engine/records/schema.hpp"
#include "engine/store/result_store.hpp"
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
    spec =
        parse_spec("name: alarms\nseed: 1\noutput: " + dir.file("r.h5") +
                       "\ndata: {dir: " + testing::data_dir() +
                       "}\nsamples: {count: 20, shard_size: 20, batch_size: 20}\nmodels:\n"
                       "  - {name: sound, checkpoint: " +
                       dir.file("m.pt") + "}\n  - {name: masked, checkpoint: " + dir.file("m.pt") +
                       "}\n  - {name: copy, checkpoint: " + dir.file("m.pt") +
                       ", reparameterize: {last_layer_scale: 10}}\n"
                       "procedures:\n"
                       "  metric: {epsilon: 0.1, normalization: none, steps: 5}\n"
                       "  attacks:\n"
                       "    - {name: fgsm, epsilon: 0.1}\n"
                       "    - {name: pgd, epsilon: 0.1, steps: [10, 40]}\n"
                       "    - {name: pgd, epsilon: [0.3, 1.0], steps: 10}\n"
                       "    - {name: apgd-ce, epsilon: 0.1, steps: 5}\n" +
                       extra_attacks +
                       "  transfers:\n"
                       "    - {substitute: sound, name: fgsm, epsilon: 0.1}\n"
                       "  ensembles:\n"
                       "    - {members: [apgd-ce, square], epsilon: 0.1, steps: 5, queries: 10}\n"
                       "  certify: {method: crown, epsilon: 0.1, normalization: none}\n",
                   dir.file("alarms.yaml"));
    resolve_models(spec, false);
  }

  // Samples the ensemble's first member (white-box apgd-ce) breaks; its second (black-box square)
  // breaks the rest of the broken ones.
  static int64_t first_member_breaks(const std::string& model) {
    return model == "masked" ? 8 : 20;
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
      } else {  // value: robust accuracy, in twentieths; the first samples stay unbroken
        const auto unbroken = static_cast<int64_t>(std::lround(value * kSamples));
        record.datasets[schema::kBroken] = torch::arange(kSamples) >= unbroken;
        if (kind == "ensemble") {  // the first member breaks up to kFirstMemberBreaks samples
          const torch::Tensor index = torch::arange(kSamples);
          record.datasets[schema::kBrokenBy] =
              torch::where(index < unbroken, torch::full({kSamples}, -1, torch::kInt64),
                           (index < unbroken + first_member_breaks(spec.models[task.model].name))
                               .to(torch::kInt64)
                               .neg()
                               .add(1));
        }
      }
      for (const auto& [name, headline] : procedure.headline(record))
        record.set(schema::kHeadlinePrefix + name, headline);
      record.set(schema::kChecksum, record_checksum(record));
      results.tasks[task.id] = record;
    }
    return results;
  }

  std::string extra_attacks;  // spec lines added to `attacks:`
  TempDir dir;
  ExperimentSpec spec;
};

// An attack registered from outside core/attack/methods, declared black-box: never run here.
Crafted unchanged(Classifier&, const torch::Tensor& images, const torch::Tensor&,
                  const torch::Tensor&, const AttackConfig&) {
  return {images, torch::Tensor(), 0, 0};
}

class MaskingAlarmsWithAFakeAttack : public MaskingAlarms {
 protected:
  void SetUp() override {
    AttackDefinition fake{"fake-query",
                          AttackFamily::kBlackBox,
                          "nobody 2026",
                          "a test's black-box attack",
                          {"norm", "epsilon", "seed"},
                          {},
                          {Norm::kLinf},
                          make_attack_config("square"),
                          nullptr,
                          [](const AttackConfig&) {
                            return PassCount{1, 0};
                          },
                          unchanged};
    register_attack(fake);
    extra_attacks = "    - {name: fake-query, epsilon: 0.1}\n";
    MaskingAlarms::SetUp();
  }
};

// A sound model: stronger attacks do better, larger ε leaves less, ~0 at the whole domain, and the
// ascent finds ψ = 0.5. The masked twin shows every symptom (its ascent stalls at ψ = 1e-8 on
// samples the attacks broke); `copy`, a prediction-preserving copy of the sound model, has its
// numbers but for FGSM, which misses samples it broke on the base.
double planted_numbers(const std::string& model, const Procedure& procedure) {
  const bool masked = model == "masked";
  if (model == "copy") {
    const auto* attack = std::get_if<AttackProcedure>(&procedure.settings);
    if (attack && attack->config.name == "fgsm") return 0.9;
    return planted_numbers("sound", procedure);
  }
  if (std::get_if<MetricProcedure>(&procedure.settings)) return masked ? 1e-8 : 0.5;
  if (std::get_if<CertifyProcedure>(&procedure.settings)) return 4.0;
  if (std::get_if<TransferProcedure>(&procedure.settings)) return masked ? 0.25 : 0.9;
  if (std::get_if<EnsembleProcedure>(&procedure.settings)) return masked ? 0.05 : 0.35;
  const AttackConfig& attack = std::get<AttackProcedure>(procedure.settings).config;
  if (attack.name == "fgsm") return masked ? 0.4 : 0.6;
  if (attack.name == "apgd-ce") return masked ? 0.3 : 0.4;
  if (attack.epsilon == 1.0) return masked ? 0.7 : 0.0;
  if (attack.epsilon == 0.3) return masked ? 0.95 : 0.1;
  return attack.steps == 40 ? (masked ? 0.5 : 0.4) : (masked ? 0.8 : 0.4);
}

TEST_F(MaskingAlarms, EachSymptomIsFlaggedOnTheMaskedModelAndNoneOnItsSoundTwin) {
  const std::vector<MaskingAlarm> alarms = masking_alarms(spec, planted(planted_numbers));
  std::map<std::string, const MaskingAlarm*> by_check;
  for (const MaskingAlarm& alarm : alarms) {
    const bool on_copy = alarm.check == "missed-on-equivalent-copy";
    EXPECT_EQ(alarm.model, on_copy ? "copy" : "masked") << alarm.check << ": " << alarm.evidence;
    EXPECT_EQ(by_check.count(alarm.check), 0u) << "twice: " << alarm.check;
    by_check[alarm.check] = &alarm;
  }
  EXPECT_EQ(by_check.size(), masking_check_names().size());
  for (const std::string& check : masking_check_names())
    EXPECT_EQ(by_check.count(check), 1u) << check << " not flagged";
  if (by_check.size() != masking_check_names().size()) return;

  // (a) The transfer (0.25) is not the strongest black-box setting: the ensemble (0.05) is, whose
  // square broke 11 of 20 samples, against the stronger of PGD-10 (0.80) and PGD-40 (0.50).
  const MaskingAlarm& black_box = *by_check["black-box-stronger"];
  EXPECT_NEAR(black_box.value, 0.5, 1e-12);
  EXPECT_NEAR(black_box.reference_value, 0.05, 1e-12);
  EXPECT_NE(black_box.setting.find("steps=40"), std::string::npos) << black_box.setting;
  EXPECT_EQ(black_box.reference.rfind("ensemble(", 0), 0u) << black_box.reference;
  EXPECT_NE(black_box.evidence.find("worst of apgd-ce-5+square leaves 0.050 robust accuracy at "
                                    "linf ε=0.1 where the strongest white-box pgd-40 leaves 0.500 "
                                    "(black-box members: square broke 0.550)"),
            std::string::npos)
      << black_box.evidence;
  // (a') APGD-CE alone leaves 0.30 where PGD-40 leaves 0.50.
  const MaskingAlarm& weaker = *by_check["reference-weaker"];
  EXPECT_NEAR(weaker.value, 0.5, 1e-12);
  EXPECT_NEAR(weaker.reference_value, 0.3, 1e-12);
  EXPECT_EQ(weaker.reference.rfind("attack(", 0), 0u) << weaker.reference;
  EXPECT_NE(weaker.reference.find("name=apgd-ce"), std::string::npos) << weaker.reference;
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
  // (e) ψ 1e-8 on every one of the 19 samples some attack broke at ε = 0.1 (only sample 0 stays
  // unbroken, by the ensemble).
  const MaskingAlarm& stalled = *by_check["stalled-ascent"];
  EXPECT_EQ(stalled.value, 1.0);
  EXPECT_EQ(stalled.reference_value, 19.0);
  EXPECT_NE(stalled.evidence.find("ψ raw ε=0.1 K=5: ψ stays below 1e-06 on 100% of the 19 "
                                  "samples an attack broke in the same ball (worst of "
                                  "apgd-ce-5+square ε=0.1 broke most of them)"),
            std::string::npos)
      << stalled.evidence;
  // (f) FGSM broke samples 12–19 on the sound base and only 18–19 on its copy.
  const MaskingAlarm& copy = *by_check["missed-on-equivalent-copy"];
  EXPECT_NEAR(copy.value, 6.0 / 20, 1e-12);
  EXPECT_NEAR(copy.reference_value, 8.0 / 20, 1e-12);
  EXPECT_NE(
      copy.evidence.find("FGSM ε=0.1 leaves 0.900 robust accuracy here and 0.600 on its base "
                         "sound, which predicts as this model does everywhere: it missed 6 of "
                         "the 20 samples it broke on sound"),
      std::string::npos)
      << copy.evidence;
}

// The check runs both ways: when the base is the masked one (a distilled model, its copy deployed
// at the temperature), the base is flagged for the samples it missed.
TEST_F(MaskingAlarms, AMaskedBaseIsFlaggedForWhatItsEquivalentCopyBroke) {
  const auto numbers = [](const std::string& model, const Procedure& procedure) {
    const auto* attack = std::get_if<AttackProcedure>(&procedure.settings);
    if (attack && attack->config.name == "fgsm" && model == "sound") return 0.9;
    return planted_numbers("sound", procedure);
  };
  std::vector<MaskingAlarm> missed;
  for (const MaskingAlarm& alarm : masking_alarms(spec, planted(numbers)))
    if (alarm.check == "missed-on-equivalent-copy") missed.push_back(alarm);
  ASSERT_EQ(missed.size(), 1u);
  EXPECT_EQ(missed[0].model, "sound");
  EXPECT_NEAR(missed[0].value, 6.0 / 20, 1e-12);
  EXPECT_NE(missed[0].evidence.find("0.900 robust accuracy here and 0.600 on its copy copy"),
            std::string::npos)
      << missed[0].evidence;
}

// A white-box member that beats PGD is not black-box evidence: the same ensemble whose apgd-ce
// did all the breaking raises reference-weaker, not black-box-stronger.
TEST_F(MaskingAlarms, AnEnsembleIsJudgedByTheFamilyOfTheMembersThatBrokeTheSamples) {
  const auto numbers = [](const std::string& model, const Procedure& procedure) {
    if (std::get_if<EnsembleProcedure>(&procedure.settings)) return model == "sound" ? 0.05 : 0.4;
    return planted_numbers("sound", procedure);
  };
  for (const MaskingAlarm& alarm : masking_alarms(spec, planted(numbers))) {
    EXPECT_NE(alarm.check, "black-box-stronger") << alarm.evidence;
    if (alarm.check != "reference-weaker") continue;
    EXPECT_EQ(alarm.model, "sound");
    EXPECT_NE(alarm.evidence.find("worst of apgd-ce-5+square leaves 0.050 robust accuracy at linf "
                                  "ε=0.1 where the strongest pgd-10 leaves 0.400 (apgd-ce-5 broke "
                                  "0.950)"),
              std::string::npos)
        << alarm.evidence;
  }
}

// The alarms know an attack by its registered family alone: a new black-box attack that beats PGD
// is judged as one, with no edit to the checks.
TEST_F(MaskingAlarmsWithAFakeAttack, ANewBlackBoxAttackIsJudgedAsOne) {
  const auto numbers = [](const std::string& model, const Procedure& procedure) {
    const auto* attack = std::get_if<AttackProcedure>(&procedure.settings);
    if (attack && attack->config.name == "fake-query") return model == "sound" ? 0.1 : 0.4;
    return planted_numbers("sound", procedure);
  };
  std::vector<const MaskingAlarm*> black_box;
  const std::vector<MaskingAlarm> alarms = masking_alarms(spec, planted(numbers));
  for (const MaskingAlarm& alarm : alarms)
    if (alarm.check == "black-box-stronger") black_box.push_back(&alarm);
  ASSERT_EQ(black_box.size(), 1u);
  EXPECT_EQ(black_box[0]->model, "sound");
  EXPECT_NE(black_box[0]->reference.find("name=fake-query"), std::string::npos);
  EXPECT_NE(black_box[0]->evidence.find("fake-query leaves 0.100 robust accuracy"),
            std::string::npos)
      << black_box[0]->evidence;
  EXPECT_THROW(register_attack(find_attack("fake-query")), Error);  // a name is registered once
}

TEST_F(MaskingAlarms, MergeStoresTheAlarmsAndInspectPrintsThem) {
  const ResultStore store(dir.file("r.h5"));
  store.record_spec(spec);
  for (const auto& [id, record] : planted(planted_numbers).tasks) store.folder().write_task(record);
  store.merge(spec, alarms_of);
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
  EXPECT_NE(inspected.output.find("gradient-masking alarms (docs/alarms.md): " +
                                  std::to_string(masking_check_names().size())),
            std::string::npos)
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
  clean.merge(clean_spec, alarms_of);
  EXPECT_TRUE(alarms_from_record(*read_results(dir.file("clean.h5")).alarms).empty());
  const auto quiet =
      testing::run_command(std::string(ROBUSTSCOPE_BINARY) + " inspect " + dir.file("clean.h5"));
  EXPECT_NE(quiet.output.find("gradient-masking alarms (docs/alarms.md): none"), std::string::npos)
      << quiet.output;
}

}  // namespace
}  // namespace robustscope
