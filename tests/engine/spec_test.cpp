// Experiment specs: grid expansion, the task plan, and every validation error with its location.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "engine/spec/task_plan.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

const char* kValidSpec = R"(name: unit
seed: 7
output: out/results.h5
samples: {count: 10, shard_size: 4, batch_size: 2}
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

template <typename Type>
const Type& as(const Procedure& procedure) {
  return std::get<Type>(procedure.settings);
}

ExperimentSpec hashed(ExperimentSpec spec) {
  for (ModelSpec& model : spec.models) model.content_hash = "0123456789abcdef";
  return spec;
}

TEST(Spec, ListsExpandIntoAGridAndTheGridIntoShardedTasks) {
  const ExperimentSpec spec = hashed(parse_spec(kValidSpec, "unit.yaml"));
  // metric 2x2, attacks 2 + 1, ensemble 1, landscape 1.
  ASSERT_EQ(spec.procedures.size(), 9u);
  EXPECT_EQ(as<MetricProcedure>(spec.procedures[0]).config.epsilon, 0.1);
  EXPECT_EQ(as<MetricProcedure>(spec.procedures[0]).config.steps, 10);
  EXPECT_EQ(as<MetricProcedure>(spec.procedures[1]).config.steps, 20);  // last key fastest
  EXPECT_EQ(as<MetricProcedure>(spec.procedures[2]).config.epsilon, 0.3);
  EXPECT_EQ(as<AttackProcedure>(spec.procedures[4]).config.name, "fgsm");
  EXPECT_EQ(as<AttackProcedure>(spec.procedures[5]).config.epsilon, 0.3);
  ASSERT_STREQ(spec.procedures[8].kind(), "landscape");
  EXPECT_EQ(as<LandscapeProcedure>(spec.procedures[8]).config.pgd.steps, 4);  // dotted keys
  const EnsembleProcedure& ensemble = as<EnsembleProcedure>(spec.procedures[7]);
  ASSERT_EQ(ensemble.members.size(), 2u);
  EXPECT_EQ(ensemble.members[1].steps, 3);  // a shared key reaches the members that read it
  EXPECT_EQ(ensemble.members[0].steps, 1);  // fgsm does not read steps
  EXPECT_EQ(ensemble.members[0].epsilon, 0.2);

  EXPECT_EQ(count_tasks(spec), 2 * (8 * 3 + 1));
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
  EXPECT_EQ(plan[0].seed, plan[25].seed);  // but every model gets the same: common random numbers
  EXPECT_NE(plan[0].setting_key.find("|seed=" + std::to_string(plan[0].seed) + "|"),
            std::string::npos)
      << plan[0].setting_key;
  EXPECT_EQ(plan[25].setting_key.rfind("model=b|", 0), 0u);
  // The key holds what the numbers depend on: the model's content and the batch size.
  EXPECT_NE(plan[0].setting_key.find("|model_hash=0123456789abcdef|batch_size=2"),
            std::string::npos)
      << plan[0].setting_key;
  // The spec seed enters every task seed.
  std::string reseeded = kValidSpec;
  reseeded.replace(reseeded.find("seed: 7"), 7, "seed: 8");
  EXPECT_NE(plan_tasks(hashed(parse_spec(reseeded, "unit.yaml")))[0].seed, plan[0].seed);
  // Costs: fgsm is 1 F+B and 2 F per sample; the metric K = 10 steps F+B per sample.
  EXPECT_EQ(estimate_cost(spec, plan[12]).forward_backward, 4);
  EXPECT_EQ(estimate_cost(spec, plan[0]).forward_backward, 40);
}

TEST(Spec, KeysDoNotDependOnTheOrderOfSettings) {
  const ExperimentSpec one = hashed(parse_spec(kValidSpec, "unit.yaml"));
  std::string reordered = kValidSpec;
  const std::string pgd = "    - name: pgd\n      epsilon: 0.1\n      steps: 5\n";
  reordered.replace(reordered.find(pgd), pgd.size(), "    - {steps: 5, epsilon: 0.1, name: pgd}\n");
  const ExperimentSpec two = hashed(parse_spec(reordered, "unit.yaml"));
  EXPECT_EQ(one.procedures[6].key(), two.procedures[6].key());
  EXPECT_EQ(plan_tasks(one)[18].id, plan_tasks(two)[18].id);
  EXPECT_EQ(plan_tasks(one)[18].seed, plan_tasks(two)[18].seed);
}

TEST(Spec, ANewModelFileOrBatchSizeMakesNewTasksWithTheSameSeeds) {
  const ExperimentSpec spec = hashed(parse_spec(kValidSpec, "unit.yaml"));
  ExperimentSpec retrained = spec;
  retrained.models[0].content_hash = "fedcba9876543210";
  ExperimentSpec rebatched = spec;
  rebatched.models[0].batch_size = 4;  // what samples.batch_size or batch_size: auto sets
  const Task task = plan_tasks(spec)[0];
  for (const ExperimentSpec* changed : {&retrained, &rebatched}) {
    const Task other = plan_tasks(*changed)[0];
    EXPECT_NE(other.id, task.id);
    EXPECT_EQ(other.seed, task.seed);
  }
}

TEST(Spec, AnExplicitSeedIsUsedAsWrittenEvenZero) {
  std::string text = kValidSpec;
  text.replace(text.find("steps: 5\n"), 9, "steps: 5\n      seed: 0\n");
  const ExperimentSpec spec = hashed(parse_spec(text, "unit.yaml"));
  EXPECT_EQ(spec.procedures[6].seed, std::optional<uint64_t>(0));
  EXPECT_NE(spec.procedures[6].key().find("seed=0"), std::string::npos);
  for (const Task& task : plan_tasks(spec)) {
    if (task.procedure == 6) {
      EXPECT_EQ(task.seed, 0u);
    }
  }
}

TEST(Spec, AGridTooLargeIsRefusedBeforeItIsBuilt) {
  // 10 values on each of 7 keys: 10^7 settings; counted, not expanded.
  std::string text = kValidSpec;
  const std::string axis = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
  text.replace(text.find("    epsilon: [0.1, 0.3]\n    steps: [10, 20]\n"), 44,
               "    steps: " + axis + "\n    restarts: " + axis + "\n    tau: " + axis +
                   "\n    start_scale: " + axis + "\n    step_size: " + axis +
                   "\n    epsilon: " + axis + "\n    seed: " + axis + "\n");
  EXPECT_ERROR_CONTAINING(parse_spec(text, "big.yaml"),
                          "big.yaml:10:5: the procedures expand to more than 200000 settings");
  // The limit is the spec's to raise, and the task count is checked before the plan is built.
  std::string limited = kValidSpec;
  limited.replace(limited.find("seed: 7"), 7, "seed: 7\nlimits: {max_tasks: 20}");
  EXPECT_ERROR_CONTAINING(plan_tasks(hashed(parse_spec(limited, "small.yaml"))),
                          "small.yaml: expands to 50 tasks, more than the 20 allowed");
}

TEST(Spec, ReadingIsBoundedToRegularFilesOfAtMostOneMebibyte) {
  EXPECT_ERROR_CONTAINING(load_spec("/dev/zero"), "/dev/zero: is not a regular file");
  TempDir dir;
  testing::write_file(dir.file("huge.yaml"), std::string(kMaxSpecBytes + 1, '#'));
  EXPECT_ERROR_CONTAINING(load_spec(dir.file("huge.yaml")), "more than the 1048576 allowed");
  EXPECT_ERROR_CONTAINING(load_spec(dir.file("missing.yaml")), "missing.yaml: cannot be read");
}

TEST(Spec, ParsingReadsNoModelFile) {
  // A checkpoint entry without a dataset is resolved later, from the file, by resolve_models.
  TempDir dir;
  std::string text = kValidSpec;
  text.replace(text.find("{name: a, torchscript: a.pt, dataset: mnist}"), 44,
               "{name: a, checkpoint: " + dir.file("missing.pt") + "}");
  ExperimentSpec spec = parse_spec(text, "unit.yaml");
  EXPECT_EQ(spec.models[0].dataset, "");
  EXPECT_ERROR_CONTAINING(resolve_models(spec, false),
                          "unit.yaml:6:5: model a: checkpoint file " + dir.file("missing.pt") +
                              " does not exist (and it has no train: settings)");
  resolve_models(spec, true);
  EXPECT_EQ(spec.models[0].content_hash, "missing");
}

TEST(Spec, EpsilonBeyondTheInputDomainIsRefusedAtItsValue) {
  std::string text = kValidSpec;
  text.replace(text.find("epsilon: 0.2, steps: 3"), 22, "epsilon: 2.5, steps: 3");
  const ExperimentSpec spec = parse_spec(text, "bad.yaml");
  EXPECT_ERROR_CONTAINING(check_procedures_against_data(spec),
                          "bad.yaml:18:39: epsilon: 2.5 is larger than any linf distance between "
                          "inputs in [0,1]^784");
}

struct BadSpec {
  const char* name;
  std::string from, to;  // replaced in kValidSpec
  std::string location, message;
};

void PrintTo(const BadSpec& bad, std::ostream* out) { *out << bad.name; }

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
                "shard_size = 0 is out of range (1..2147483648)"},
        BadSpec{"shard size not a multiple of the batch size", "shard_size: 4", "shard_size: 5",
                "bad.yaml:4:34", "shard_size (5) must be a multiple of batch_size (2)"},
        BadSpec{"batch size neither a number nor auto", "batch_size: 2", "batch_size: big",
                "bad.yaml:4:49", "batch_size = big is neither a number nor auto"},
        BadSpec{"a batch memory budget without batch_size: auto", "batch_size: 2",
                "batch_size: 2, batch_memory_mib: 512",
                "bad.yaml:4:", "batch_memory_mib is the budget of batch_size: auto"},
        BadSpec{"a batch memory budget of zero", "batch_size: 2",
                "batch_size: auto, batch_memory_mib: 0",
                "bad.yaml:4:", "batch_memory_mib = 0 is out of range (1..1073741824)"},
        BadSpec{"fractional seed", "seed: 7", "seed: 1.5", "bad.yaml:2:7",
                "seed: \"1.5\" is not a seed"},
        BadSpec{"negative seed", "seed: 7", "seed: -1", "bad.yaml:2:7", "is not a seed"},
        BadSpec{"seed beyond 64 bits", "seed: 7", "seed: 18446744073709551616", "bad.yaml:2:7",
                "out of range"},
        BadSpec{"negative epsilon", "epsilon: [0.1, 0.3]\n    steps",
                "epsilon: [0.1, -0.3]\n    steps", "bad.yaml:10:20", "epsilon"},
        BadSpec{"zero steps", "      steps: 5", "      steps: 0", "bad.yaml:16:14", "steps"},
        BadSpec{"fractional steps", "steps: [10, 20]", "steps: [10, 2.5]", "bad.yaml:11:17",
                "steps: \"2.5\" is not an integer"},
        BadSpec{"unknown attack", "name: fgsm", "name: fgsn", "bad.yaml:13:14",
                "unknown attack \"fgsn\" (known: fgsm"},
        BadSpec{"a key the attack ignores", "name: fgsm, epsilon: [0.1, 0.3]",
                "name: fgsm, steps: 40, epsilon: [0.1, 0.3]", "bad.yaml:13:20",
                "fgsm does not use \"steps\" (its settings: norm, epsilon, loss)"},
        BadSpec{"a key given twice", "      steps: 5", "      steps: 5\n      steps: 3",
                "bad.yaml:17:7", "duplicate key \"steps\""},
        BadSpec{"an ensemble key no member reads", "epsilon: 0.2, steps: 3",
                "epsilon: 0.2, steps: 3, target_classes: 3", "bad.yaml:18:54",
                "no member of the ensemble (fgsm, pgd) uses \"target_classes\""},
        BadSpec{"unknown ensemble member", "members: [fgsm, pgd]", "members: [fgsm, pgdd]",
                "bad.yaml:18:24", "unknown attack \"pgdd\""},
        BadSpec{"unknown ensemble preset", "members: [fgsm, pgd], epsilon: 0.2, steps: 3",
                "preset: strong, epsilon: 0.2", "bad.yaml:18:16",
                "preset: \"strong\" is unknown (known: standard)"},
        BadSpec{"ensemble members and a preset", "members: [fgsm, pgd]",
                "preset: standard, members: [fgsm, pgd]", "bad.yaml:18:16",
                "an ensemble has either members or a preset, not both"},
        BadSpec{"unknown metric key", "steps: [10, 20]", "stepz: [10, 20]", "bad.yaml:11:5",
                "metric setting \"stepz\" is unknown (known: divergence"},
        BadSpec{"unknown metric value", "steps: [10, 20]", "divergence: hellinger",
                "bad.yaml:11:17", "divergence: \"hellinger\" is unknown"},
        BadSpec{"unknown landscape direction", "resolution_2d: 5", "adversarial_direction: up",
                "bad.yaml:22:28", "\"up\" is unknown"},
        BadSpec{"even landscape resolution", "resolution_2d: 5", "resolution_2d: 4",
                "bad.yaml:22:20", "resolution_2d: must be odd"},
        BadSpec{"bad nested landscape value", "pgd: {steps: 4}", "pgd: {steps: four}",
                "bad.yaml:23:18", "pgd.steps: \"four\" is not an integer"},
        BadSpec{"transfer from an unknown model", "  landscape:",
                "  transfers:\n    - {substitute: c, name: fgsm}\n  landscape:", "bad.yaml:20:20",
                "substitute \"c\" is not a model of the spec (models: a, b)"},
        BadSpec{"certify without a bound for the normalisation", "  landscape:",
                "  certify: {epsilon: 0.1, normalization: l2}\n  landscape:", "bad.yaml:19:42",
                "no certified bound is implemented for the l2"},
        BadSpec{"unknown certify method",
                "  landscape:", "  certify: {method: [crown, lp]}\n  landscape:", "bad.yaml:19:29",
                "method: \"lp\" is unknown (known: ibp, crown)"},
        BadSpec{"duplicate model", "name: b,", "name: a,", "bad.yaml:7:12",
                "duplicate model name \"a\""},
        BadSpec{"two model files", "torchscript: b.pt", "torchscript: b.pt, checkpoint: b.ckpt",
                "bad.yaml:7:5", "exactly one of checkpoint, torchscript"},
        BadSpec{"unknown data set", "dataset: mnist}\n  - {name: b", "dataset: svhn}\n  - {name: b",
                "bad.yaml:6:43", "\"svhn\" is unknown (known: mnist"},
        BadSpec{"unknown architecture", "{name: a, torchscript: a.pt, dataset: mnist}",
                "{name: a, checkpoint: a.pt, dataset: mnist, train: {arch: resnet9000}}",
                "bad.yaml:6:63", "arch: \"resnet9000\" is unknown (known:"},
        BadSpec{"one checkpoint trained two ways",
                "  - {name: b, torchscript: b.pt, dataset: mnist}",
                "  - {name: b, checkpoint: c.pt, dataset: mnist, train: {epochs: 1}}\n"
                "  - {name: c, checkpoint: c.pt, dataset: mnist, train: {epochs: 2}}",
                "bad.yaml:8:56", "model c trains c.pt with other settings than model b"},
        BadSpec{"one checkpoint trained two ways under another spelling of its path",
                "  - {name: b, torchscript: b.pt, dataset: mnist}",
                "  - {name: b, checkpoint: c.pt, dataset: mnist, train: {epochs: 1}}\n"
                "  - {name: c, checkpoint: ./x/../c.pt, dataset: mnist, train: {epochs: 2}}",
                "bad.yaml:8:63",
                "model c trains ./x/../c.pt with other settings than model b (bad.yaml:7:5, c.pt, "
                "the same file)"},
        BadSpec{"a metric setting written twice", "epsilon: [0.1, 0.3]", "epsilon: [0.1, 1e-1]",
                "bad.yaml:10:20", "is written twice (also at bad.yaml:10:15)"},
        BadSpec{"an attack repeated with its keys reordered", "      steps: 5\n  ensembles",
                "      steps: 5\n    - {steps: 5, epsilon: 0.1, name: pgd}\n  ensembles",
                "bad.yaml:17:27", "is written twice (also at bad.yaml:15:16)"},
        BadSpec{"a model named dot", "name: b,", "name: '.',", "bad.yaml:7:12",
                "a model name must be non-empty, not \".\""},
        BadSpec{"a model name with a NUL byte", "name: b,", "name: \"b\\0x\",", "bad.yaml:7:12",
                "or control characters"},
        BadSpec{"an empty seed", "seed: 7", "seed:", "bad.yaml:", "seed has no value"},
        BadSpec{"a task limit no plan can hold", "seed: 7", "seed: 7\nlimits: {max_tasks: 3000000}",
                "bad.yaml:3:21", "max_tasks = 3000000 is out of range (1..2000000)"},
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

TEST(Spec, AnErrorNamesItsLocationOnce) {
  std::string text = kValidSpec;
  text.replace(text.find("seed: 7"), 7, "seed:");
  EXPECT_ERROR_CONTAINING(parse_spec(text, "seed.yaml"), "seed has no value");
  try {
    parse_spec(text, "seed.yaml");
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find("seed.yaml", 1), std::string::npos) << message;
  }
}

TEST(Spec, TwoRecipesForOneFileThroughALinkAreRefused) {
  TempDir dir;
  std::filesystem::create_symlink("real.pt", dir.file("alias.pt"));  // real.pt does not exist yet
  std::string text = kValidSpec;
  const std::string models =
      "  - {name: a, torchscript: a.pt, dataset: mnist}\n"
      "  - {name: b, torchscript: b.pt, dataset: mnist}\n";
  text.replace(text.find(models), models.size(),
               "  - {name: a, checkpoint: " + dir.file("real.pt") +
                   ", dataset: mnist, train: {epochs: 1}}\n  - {name: b, checkpoint: " +
                   dir.file("alias.pt") + ", dataset: mnist, train: {epochs: 2}}\n");
  EXPECT_ERROR_CONTAINING(parse_spec(text, "link.yaml"), "model b trains " + dir.file("alias.pt") +
                                                             " with other settings than model a");
  // A hard link to an existing checkpoint is the same file too.
  testing::write_file(dir.file("trained.pt"), "weights");
  std::filesystem::create_hard_link(dir.file("trained.pt"), dir.file("hard.pt"));
  std::string linked = text;
  linked.replace(linked.find(dir.file("real.pt")), dir.file("real.pt").size(),
                 dir.file("trained.pt"));
  linked.replace(linked.find(dir.file("alias.pt")), dir.file("alias.pt").size(),
                 dir.file("hard.pt"));
  EXPECT_ERROR_CONTAINING(parse_spec(linked, "link.yaml"),
                          "model b trains " + dir.file("hard.pt") + " with other settings");
  // The same recipe for both spellings is one training of one file.
  text.replace(text.find("epochs: 2"), 9, "epochs: 1");
  EXPECT_NO_THROW(parse_spec(text, "link.yaml"));
}

TEST(Spec, TheStandardEnsemblePresetIsAutoAttacksStandardVersion) {
  std::string text = kValidSpec;
  const std::string members = "members: [fgsm, pgd], epsilon: 0.2, steps: 3";
  text.replace(text.find(members), members.size(), "preset: standard, epsilon: [0.1, 0.2]");
  const ExperimentSpec spec = parse_spec(text, "preset.yaml");
  std::vector<const EnsembleProcedure*> ensembles;
  for (const Procedure& procedure : spec.procedures)
    if (const auto* ensemble = std::get_if<EnsembleProcedure>(&procedure.settings))
      ensembles.push_back(ensemble);
  ASSERT_EQ(ensembles.size(), 2u);  // one per ε
  for (const EnsembleProcedure* ensemble : ensembles) {
    ASSERT_EQ(ensemble->members.size(), 4u);
    const auto& m = ensemble->members;
    EXPECT_EQ(m[0].name, "apgd-ce");
    EXPECT_EQ(m[1].name, "apgd-t");
    EXPECT_EQ(m[2].name, "fab-t");
    EXPECT_EQ(m[3].name, "square");
    EXPECT_EQ(m[0].steps, 100);
    EXPECT_EQ(m[1].steps, 100);
    EXPECT_EQ(m[2].steps, 100);
    EXPECT_EQ(m[1].target_classes, 9);
    EXPECT_EQ(m[2].target_classes, 9);
    EXPECT_EQ(m[3].queries, 5000);
    for (const AttackConfig& member : m) EXPECT_EQ(member.epsilon, m[0].epsilon);
  }
  EXPECT_EQ(ensembles[0]->members[0].epsilon, 0.1);
  EXPECT_EQ(ensembles[1]->members[0].epsilon, 0.2);
}

TEST(Spec, EveryShippedExperimentValidatesAndPlansItsGrid) {
  struct Expected {
    const char* file;
    int64_t models, settings, tasks;
  };
  // The numbers the docs and the README state for each shipped spec.
  for (const Expected& expected :
       {Expected{"demo.yaml", 7, 23, 931}, Expected{"paper-mnist.yaml", 18, 148, 21060},
        Expected{"paper-cifar10.yaml", 27, 61, 31914},
        Expected{"paper-fmnist.yaml", 17, 40, 2669}}) {
    const std::string path = std::string(ROBUSTSCOPE_SOURCE_DIR) + "/experiments/" + expected.file;
    SCOPED_TRACE(path);
    ExperimentSpec spec = load_spec(path);
    resolve_models(spec, /*allow_missing=*/true);
    check_procedures_against_data(spec);
    EXPECT_EQ(static_cast<int64_t>(spec.models.size()), expected.models);
    EXPECT_EQ(static_cast<int64_t>(spec.procedures.size()), expected.settings);
    const std::vector<Task> plan = plan_tasks(spec);
    EXPECT_EQ(static_cast<int64_t>(plan.size()), expected.tasks);
    EXPECT_EQ(count_tasks(spec), expected.tasks);
    std::set<std::string> ids;
    for (const Task& task : plan) ids.insert(task.id);
    EXPECT_EQ(ids.size(), plan.size()) << "task ids collide";
  }
}

}  // namespace
}  // namespace robustscope
