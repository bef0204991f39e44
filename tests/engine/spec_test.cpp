// Experiment specs: grid expansion, the task plan, and every validation error with its location.
#include <gtest/gtest.h>

#include <set>

#include "engine/spec/experiment_spec.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

const char* kValidSpec = R"(name: unit
seed: 7
output: out/results.h5
samples: {count: 10, shard_size: 4, batch_size: 5}
models:
  - {name: a, torchscript: a.pt, dataset: mnist}
  - {name: b, torchscript: b.pt, dataset: mnist}
procedures:
  metric:
    epsilon: [0.1, 0.3]
    steps: [10, 20]
  attacks:
    - {name: fgsm, epsilon: [0.1, 0.3]}
    - name: pgd
      epsilon: 0.1
      steps: 5
  ensembles:
    - {members: [fgsm, pgd], epsilon: 0.2, steps: 3}
  landscape:
    samples: 2
    epsilon: 0.3
    resolution_2d: 5
    pgd: {steps: 4}
)";

TEST(Spec, ListsExpandIntoAGridAndTheGridIntoShardedTasks) {
  const ExperimentSpec spec = parse_spec(kValidSpec, "unit.yaml");
  // metric 2x2, attacks 2 + 1, ensemble 1, landscape 1.
  ASSERT_EQ(spec.procedures.size(), 9u);
  EXPECT_EQ(spec.procedures[0].metric.epsilon, 0.1);
  EXPECT_EQ(spec.procedures[0].metric.steps, 10);
  EXPECT_EQ(spec.procedures[1].metric.steps, 20);  // the last key varies fastest
  EXPECT_EQ(spec.procedures[2].metric.epsilon, 0.3);
  EXPECT_EQ(spec.procedures[4].attacks.front().name, "fgsm");
  EXPECT_EQ(spec.procedures[5].attacks.front().epsilon, 0.3);
  ASSERT_EQ(spec.procedures[8].kind, "landscape");
  EXPECT_EQ(spec.procedures[8].landscape.pgd.steps, 4);  // nested maps are dotted keys
  const Procedure& ensemble = spec.procedures[7];
  ASSERT_EQ(ensemble.attacks.size(), 2u);
  EXPECT_EQ(ensemble.attacks[1].steps, 3);
  EXPECT_EQ(ensemble.attacks[0].epsilon, 0.2);

  const std::vector<Task> plan = plan_tasks(spec);
  // 8 procedures x 3 shards (4+4+2) + the landscape's 2 samples in 1 shard, for each of 2 models.
  ASSERT_EQ(plan.size(), 2u * (8 * 3 + 1));
  EXPECT_EQ(plan[0].sample_count, 4);
  EXPECT_EQ(plan[2].first_sample, 8);
  EXPECT_EQ(plan[2].sample_count, 2);
  std::set<std::string> ids, keys;
  for (const Task& task : plan) {
    ids.insert(task.id);
    keys.insert(task.key);
  }
  EXPECT_EQ(ids.size(), plan.size());
  EXPECT_EQ(keys.size(), plan.size());
  EXPECT_EQ(plan[0].seed, plan[1].seed);   // shards of one setting share the seed
  EXPECT_NE(plan[0].seed, plan[3].seed);   // settings do not
  EXPECT_NE(plan[0].seed, plan[25].seed);  // nor models
  EXPECT_EQ(plan[25].setting_key.rfind("model=b|", 0), 0u);
  // The spec seed enters every task seed.
  std::string reseeded = kValidSpec;
  reseeded.replace(reseeded.find("seed: 7"), 7, "seed: 8");
  EXPECT_NE(plan_tasks(parse_spec(reseeded, "unit.yaml"))[0].seed, plan[0].seed);
  // Costs: fgsm is 1 F+B and 2 F per sample; the metric K = 10 steps F+B per sample.
  EXPECT_EQ(estimate_cost(spec, plan[12]).forward_backward, 4);
  EXPECT_EQ(estimate_cost(spec, plan[0]).forward_backward, 40);
}

TEST(Spec, KeysDoNotDependOnTheOrderOfSettings) {
  const ExperimentSpec one = parse_spec(kValidSpec, "unit.yaml");
  std::string reordered = kValidSpec;
  const std::string pgd = "    - name: pgd\n      epsilon: 0.1\n      steps: 5\n";
  reordered.replace(reordered.find(pgd), pgd.size(), "    - {steps: 5, epsilon: 0.1, name: pgd}\n");
  const ExperimentSpec two = parse_spec(reordered, "unit.yaml");
  EXPECT_EQ(one.procedures[6].key(), two.procedures[6].key());
  EXPECT_EQ(plan_tasks(one)[18].id, plan_tasks(two)[18].id);
  EXPECT_EQ(plan_tasks(one)[18].seed, plan_tasks(two)[18].seed);
}

struct BadSpec {
  const char* name;
  std::string from, to;  // replaced in kValidSpec
  std::string location, message;
};

class SpecErrors : public ::testing::TestWithParam<BadSpec> {};

TEST_P(SpecErrors, NameFileLineColumnAndWhatIsAllowed) {
  const BadSpec& bad = GetParam();
  std::string text = kValidSpec;
  const size_t at = text.find(bad.from);
  ASSERT_NE(at, std::string::npos) << bad.from;
  text.replace(at, bad.from.size(), bad.to);
  try {
    parse_spec(text, "bad.yaml");
    ADD_FAILURE() << bad.name << ": accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(bad.location, 0), 0u) << bad.name << ": " << message;
    EXPECT_NE(message.find(bad.message), std::string::npos) << bad.name << ": " << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Validation, SpecErrors,
    ::testing::Values(
        BadSpec{"malformed", "name: unit", "name: [unit", "bad.yaml:", "malformed YAML"},
        BadSpec{"unknown top-level key", "seed: 7", "sead: 7", "bad.yaml:2:1",
                "unknown key \"sead\" in the spec (allowed: name, seed"},
        BadSpec{"wrong type", "count: 10", "count: ten", "bad.yaml:4:18", "samples count"},
        BadSpec{"list where a value belongs", "count: 10", "count: [10, 20]", "bad.yaml:4:18",
                "must be a single value"},
        BadSpec{"zero shard size", "shard_size: 4", "shard_size: 0", "bad.yaml:4:34",
                "out of range (at least 1)"},
        BadSpec{"negative epsilon", "epsilon: [0.1, 0.3]\n    steps",
                "epsilon: [0.1, -0.3]\n    steps", "bad.yaml:10:20", "epsilon"},
        BadSpec{"zero steps", "      steps: 5", "      steps: 0", "bad.yaml:16:14", "steps"},
        BadSpec{"unknown attack", "name: fgsm", "name: fgsn", "bad.yaml:13:14",
                "unknown attack \"fgsn\" (known: fgsm"},
        BadSpec{"unknown ensemble member", "members: [fgsm, pgd]", "members: [fgsm, pgdd]",
                "bad.yaml:18:24", "unknown attack \"pgdd\""},
        BadSpec{"unknown metric key", "steps: [10, 20]", "stepz: [10, 20]", "bad.yaml:11:5",
                "\"stepz\" is unknown (known: divergence"},
        BadSpec{"unknown metric value", "steps: [10, 20]", "divergence: hellinger",
                "bad.yaml:11:17", "hellinger"},
        BadSpec{"unknown landscape direction", "resolution_2d: 5", "adversarial_direction: up",
                "bad.yaml:", "up"},
        BadSpec{"even landscape resolution", "resolution_2d: 5", "resolution_2d: 4",
                "bad.yaml:22:20", "must be odd"},
        BadSpec{"duplicate model", "name: b,", "name: a,", "bad.yaml:7:12",
                "duplicate model name \"a\""},
        BadSpec{"two model files", "torchscript: b.pt", "torchscript: b.pt, checkpoint: b.ckpt",
                "bad.yaml:7:5", "exactly one of checkpoint, torchscript"},
        BadSpec{"unknown data set", "dataset: mnist}\n  - {name: b", "dataset: svhn}\n  - {name: b",
                "bad.yaml:6:43", "\"svhn\" is unknown (known: mnist, cifar10)"},
        BadSpec{"unknown architecture", "dataset: mnist}\n  - {name: b",
                "dataset: mnist, train: {arch: resnet9000}}\n  - {name: b",
                "bad.yaml:6:", "architecture: \"resnet9000\" is unknown (known:"},
        BadSpec{"bad device", "seed: 7", "device: gpu", "bad.yaml:2:9",
                "allowed: auto, cpu, cuda, cuda:<index>"},
        BadSpec{"duplicate key", "seed: 7", "seed: 7\nseed: 8", "bad.yaml:3:1", "duplicate key"},
        BadSpec{"missing count", "count: 10, ", "", "bad.yaml:4:10", "samples needs count"}),
    [](const ::testing::TestParamInfo<BadSpec>& info) {
      std::string name = info.param.name;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(Spec, RunRefusesAMissingModelFileNamingTheEntry) {
  TempDir dir;
  const ExperimentSpec spec = parse_spec(kValidSpec, "unit.yaml");
  EXPECT_ERROR_CONTAINING(check_spec_files(spec),
                          "unit.yaml:6:5: model a: torchscript file a.pt "
                          "does not exist");
}

TEST(Spec, EveryShippedExperimentValidatesAndPlans) {
  for (const char* name : {"demo.yaml", "paper-mnist.yaml", "paper-cifar10.yaml"}) {
    const std::string path = std::string(ROBUSTSCOPE_SOURCE_DIR) + "/experiments/" + name;
    SCOPED_TRACE(path);
    const ExperimentSpec spec = load_spec(path);
    EXPECT_FALSE(plan_tasks(spec).empty());
  }
}

}  // namespace
}  // namespace robustscope
