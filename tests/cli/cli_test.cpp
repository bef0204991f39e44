// The robustscope executable: train, eval and info end to end, and errors as messages with exit
// codes.
#include <gtest/gtest.h>

#include <sstream>

#include <algorithm>
#include <regex>

#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

using testing::run_command;
using testing::TempDir;

std::string robustscope(const std::string& arguments) {
  return std::string(ROBUSTSCOPE_BINARY) + " " + arguments;
}

TEST(Cli, TrainWritesACheckpointThatEvalAndInfoRead) {
  TempDir dir;
  const std::string data = " --data-dir " + testing::data_dir();
  const auto trained =
      run_command(robustscope("train --arch mlp --arch-arg hidden=32 --epochs 3 "
                              "--batch-size 32 --train-limit 500 --seed 3 --threads 1 --output " +
                              dir.file("mlp.pt") + data));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(trained.output, match, std::regex("test accuracy ([0-9.]+)")))
      << trained.output;
  const std::string accuracy = match[1];
  EXPECT_GT(std::stod(accuracy), 0.5);
  EXPECT_NE(trained.output.find("samples/s"), std::string::npos);

  const auto evaluated = run_command(robustscope("eval --model " + dir.file("mlp.pt") + data));
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_TRUE(
      std::regex_search(evaluated.output, std::regex(accuracy + " +1\\.0 +0\\.0 +- +clean")))
      << evaluated.output;

  // The path as an operand, like plan and inspect take theirs.
  const auto info = run_command(robustscope("info " + dir.file("mlp.pt")));
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("architecture=mlp\n"), std::string::npos);
  EXPECT_NE(info.output.find("architecture.argument.hidden=32\n"), std::string::npos);
  EXPECT_NE(info.output.find("recipe.name=natural\n"), std::string::npos);
  EXPECT_NE(info.output.find("recipe.train_samples=500\n"), std::string::npos);
  EXPECT_NE(info.output.find("seed=3\n"), std::string::npos);
}

TEST(Cli, EvalRunsAttacksAndTheMetricAndWritesOneRowPerSample) {
  TempDir dir;
  const std::string data = " --data-dir " + testing::data_dir();
  ASSERT_EQ(
      run_command(robustscope("train --arch mlp --arch-arg hidden=32 --epochs 2 --batch-size 32 "
                              "--train-limit 500 --threads 1 --output " +
                              dir.file("m.pt") + data))
          .exit_code,
      0);
  const auto result = run_command(robustscope("eval --model " + dir.file("m.pt") + data +
                                              " --limit 40 --epsilon 0.1 --attack fgsm "
                                              "--attack pgd:steps=5,restarts=2 --ensemble --metric "
                                              "--metric-arg steps=5 --threads 1 --output " +
                                              dir.file("samples.csv")));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string fgsm = "fgsm(epsilon=0.1 loss=ce norm=linf)";
  const std::string pgd =
      "pgd(epsilon=0.1 loss=ce norm=linf random_start=uniform restarts=2 seed=0 step_size=0.05 "
      "steps=5)";
  EXPECT_NE(result.output.find("  " + fgsm), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("worst case of " + fgsm + " + " + pgd), std::string::npos);
  EXPECT_NE(result.output.find("psi mean"), std::string::npos);
  EXPECT_NE(result.output.find("s elapsed"), std::string::npos);
  // The columns are named after the settings, and the clean verdict has its own.
  const std::string csv = testing::read_file(dir.file("samples.csv"));
  const std::string metric =
      "metric(divergence=kl epsilon=0.1 norm=linf normalization=standardize "
      "random_start=gaussian restarts=1 schedule=fixed seed=0 start_scale=0.001 step_size=0.05 "
      "steps=5 tau=0)";
  const std::string worst = "worst case of " + fgsm + " + " + pgd;
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "sample,label,clean_correct," + fgsm + ".broken," + fgsm + ".norm," + fgsm +
                ".margin," + pgd + ".broken," + pgd + ".norm," + pgd + ".margin," + worst +
                ".broken," + worst + ".norm," + worst + ".margin," + worst + ".broken_by," +
                metric + ".psi," + metric + ".clean_class," + metric + ".worst_class," + metric +
                ".best_step");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 41);

  const auto unknown_attack =
      run_command(robustscope("eval --model " + dir.file("m.pt") + data + " --attack pgdd"));
  EXPECT_EQ(unknown_attack.exit_code, 1);
  EXPECT_NE(unknown_attack.output.find("attack \"pgdd\" is unknown (known: fgsm, bim, pgd"),
            std::string::npos)
      << unknown_attack.output;
  const auto negative = run_command(
      robustscope("eval --model " + dir.file("m.pt") + data + " --attack pgd:epsilon=-0.1"));
  EXPECT_EQ(negative.exit_code, 1);
  EXPECT_NE(negative.output.find("epsilon: must be a finite number >= 0, got -0.1"),
            std::string::npos)
      << negative.output;
  const auto bad_metric = run_command(robustscope("eval --model " + dir.file("m.pt") + data +
                                                  " --metric --metric-arg random_start=none"));
  EXPECT_EQ(bad_metric.exit_code, 1);
  EXPECT_NE(bad_metric.output.find("exactly zero at the clean input"), std::string::npos)
      << bad_metric.output;
}

TEST(Cli, BadInputGivesAMessageAndANonZeroExit) {
  TempDir dir;
  const auto unknown_arch =
      run_command(robustscope("train --arch resnet9 --output " + dir.file("x.pt")));
  EXPECT_EQ(unknown_arch.exit_code, 1);
  EXPECT_NE(unknown_arch.output.find("\"resnet9\" is unknown"), std::string::npos)
      << unknown_arch.output;

  const auto no_output = run_command(robustscope("train --epochs 1"));
  EXPECT_EQ(no_output.exit_code, 1);
  EXPECT_NE(no_output.output.find("--output"), std::string::npos) << no_output.output;

  const auto bad_value = run_command(robustscope("train --epochs many --output x.pt"));
  EXPECT_EQ(bad_value.exit_code, 1);
  EXPECT_NE(bad_value.output.find("epochs"), std::string::npos) << bad_value.output;

  const auto unknown_command = run_command(robustscope("attack"));
  EXPECT_EQ(unknown_command.exit_code, 2);
  EXPECT_NE(unknown_command.output.find("command \"attack\" is unknown"), std::string::npos);

  const auto bad_device = run_command(robustscope("eval --model x.pt --device tpu"));
  EXPECT_EQ(bad_device.exit_code, 1);

  const auto missing_model = run_command(robustscope("eval --model " + dir.file("absent.pt")));
  EXPECT_EQ(missing_model.exit_code, 1);
  EXPECT_NE(missing_model.output.find("absent.pt"), std::string::npos) << missing_model.output;

  const auto bad_arch_arg = run_command(robustscope("train --arch-arg width --output x.pt"));
  EXPECT_EQ(bad_arch_arg.exit_code, 1);
  EXPECT_NE(bad_arch_arg.output.find("--arch-arg: \"width\" is not key=value"), std::string::npos)
      << bad_arch_arg.output;
}

// A small trained model shared by the tests below (trained once per test binary run).
class CliWithModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const auto trained = run_command(robustscope(
        "train --arch mlp --arch-arg hidden=16 --epochs 1 --train-limit 300 --threads 1 "
        "--data-dir " +
        testing::data_dir() + " --output " + dir_->file("m.pt")));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("m.pt"); }
  static std::string eval(const std::string& arguments) {
    return robustscope("eval --model " + model() + " --data-dir " + testing::data_dir() +
                       " --limit 20 --threads 1 " + arguments);
  }
  static TempDir* dir_;
};
TempDir* CliWithModel::dir_ = nullptr;

TEST_F(CliWithModel, OutputsAreNeverOverwrittenWithoutForce) {
  const std::string csv = dir_->file("existing.csv");
  testing::write_file(csv, "keep me");
  const auto refused = run_command(eval("--attack fgsm --output " + csv));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("--output: \"" + csv + "\" exists already (use --force"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.output.find("clean"), std::string::npos) << "it worked before refusing";
  EXPECT_EQ(testing::read_file(csv), "keep me");
  const auto forced = run_command(eval("--attack fgsm --force --output " + csv));
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(testing::read_file(csv).rfind("sample,label,clean_correct", 0), 0u);

  const auto train = run_command(robustscope("train --epochs 1 --train-limit 100 --output " +
                                             model() + " --data-dir " + testing::data_dir()));
  EXPECT_EQ(train.exit_code, 1);
  EXPECT_NE(train.output.find("exists already"), std::string::npos) << train.output;
  const std::string landscape_file = dir_->file("l.h5");
  testing::write_file(landscape_file, "x");
  const auto landscape =
      run_command(robustscope("landscape --model " + model() + " --output " + landscape_file +
                              " --data-dir " + testing::data_dir()));
  EXPECT_EQ(landscape.exit_code, 1);
  EXPECT_NE(landscape.output.find("exists already"), std::string::npos) << landscape.output;
}

TEST_F(CliWithModel, AnUnwritableOutputIsRefusedBeforeAnyWork) {
  const auto train = run_command(robustscope("train --epochs 1 --train-limit 100 --data-dir " +
                                             testing::data_dir() + " --output " +
                                             dir_->file("no/such/folder/m.pt")));
  EXPECT_EQ(train.exit_code, 1);
  EXPECT_NE(train.output.find("does not exist"), std::string::npos) << train.output;
  EXPECT_EQ(train.output.find("epoch"), std::string::npos) << "it trained before refusing";
  const auto eval_result =
      run_command(eval("--attack fgsm --output " + dir_->file("missing/out.csv")));
  EXPECT_EQ(eval_result.exit_code, 1);
  EXPECT_EQ(eval_result.output.find("clean"), std::string::npos) << eval_result.output;
}

TEST_F(CliWithModel, NonsenseSettingsAreErrorsNotSilence) {
  struct Case {
    std::string arguments, message;
  };
  for (const Case& bad : std::vector<Case>{
           {"--attack pgd:steps=3,steps=5", "\"steps\" is given twice"},
           {"--attack fgsm:steps=40", "fgsm does not use \"steps\""},
           {"--metric-arg steps=5", "--metric-arg: has no effect without --metric or --certify"},
           {"--attack pgd:norm=l2,epsilon=1e20",
            "1e+20 is larger than any l2 distance between inputs in [0,1]^784 (at most 28"},
           {"--attack pgd --epsilon 1e39", "(at most 1: the whole pixel range)"},
           {"--seed 1.5 --attack pgd", "--seed: \"1.5\" is not a seed"},
           {"--seed -1 --attack pgd", "--seed: \"-1\" is not a seed"},
           {"--attack apgd-t:target_classes=12", "target_classes: 12 is more than the 9 other"},
           {"--ensemble --attack pgd", "--ensemble: needs at least two --attack"},
           {"--batch-size 0", "--batch-size: must be in 1..16777216"},
           {"--certify lp", "--certify: method: \"lp\" is unknown (known: ibp, crown)"},
           {"--certify crown --metric --metric-arg divergence=js",
            "--certify: divergence: no certified bound is implemented for js"}}) {
    const auto result = run_command(eval(bad.arguments));
    EXPECT_EQ(result.exit_code, 1) << bad.arguments << "\n" << result.output;
    EXPECT_NE(result.output.find(bad.message), std::string::npos) << bad.arguments << "\n"
                                                                  << result.output;
    EXPECT_EQ(result.output.find("clean"), std::string::npos) << bad.arguments << ": worked first";
  }
}

TEST_F(CliWithModel, CertifyBracketsThePsiTheMetricFindsForEverySample) {
  const std::string csv = dir_->file("bracket.csv");
  const auto result =
      run_command(eval("--epsilon 0.02 --metric --metric-arg normalization=none "
                       "--certify crown --force --output " +
                       csv));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("certified accuracy"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("bracket [psi found, psi certified]: mean gap"), std::string::npos);
  std::istringstream lines(testing::read_file(csv));
  std::string line;
  std::getline(lines, line);
  std::vector<std::string> header;
  {
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) header.push_back(field);
  }
  auto column = [&](const std::string& suffix) {
    for (size_t c = 0; c < header.size(); ++c)
      if (header[c].size() >= suffix.size() &&
          header[c].compare(header[c].size() - suffix.size(), suffix.size(), suffix) == 0)
        return c;
    ADD_FAILURE() << "no column ending in " << suffix << " in " << line;
    return size_t{0};
  };
  const size_t psi = column(".psi"), upper = column("certify(method=crown).psi_upper");
  const size_t certified = column("certify(method=crown).certified");
  const size_t worst = column(".worst_class"), clean = column(".clean_class");
  int rows = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> values;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) values.push_back(field);
    ASSERT_EQ(values.size(), header.size()) << line;
    EXPECT_LE(std::stod(values[psi]), std::stod(values[upper]) * (1 + 1e-6)) << line;
    // A certified sample cannot have been flipped by the ascent.
    if (values[certified] == "1") {
      EXPECT_EQ(values[worst], values[clean]) << line;
    }
    ++rows;
  }
  EXPECT_EQ(rows, 20);
}

TEST_F(CliWithModel, ThreadsBeyondTheCoresAreCappedWithAWarning) {
  const auto result = run_command(robustscope("eval --model " + model() + " --data-dir " +
                                              testing::data_dir() + " --limit 5 --threads 100000"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("note: 100000 threads asked for"), std::string::npos)
      << result.output;
}

TEST_F(CliWithModel, ProgressReachesAPipeAtOnce) {
  // A metric of 100,000 steps runs for many minutes: its first lines must reach the pipe while it
  // runs (block buffering would hold them until exit). Read until they arrive, then kill it; if
  // they were held back, the read ends only when eval does, with its final table.
  const std::string output = testing::read_output_until(
      robustscope("eval --model " + model() + " --data-dir " + testing::data_dir() +
                  " --threads 1 --metric --metric-arg steps=100000 --limit 200"),
      {"device cpu", "model mlp"});
  EXPECT_NE(output.find("device cpu"), std::string::npos) << output;
  EXPECT_NE(output.find("model mlp"), std::string::npos) << output;
  EXPECT_EQ(output.find("clean"), std::string::npos) << "eval ran to its end: " << output;
}

TEST(Cli, HelpVersionAndMessagesReadAsWritten) {
  const auto help = run_command(robustscope("eval --help"));
  ASSERT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("(=0.3)"), std::string::npos) << help.output;
  EXPECT_EQ(help.output.find("0.2999"), std::string::npos) << help.output;
  const auto version = run_command(robustscope("--version"));
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(std::regex_search(version.output,
                                std::regex("^robustscope 0\\.[0-9]+\\.[0-9]+\\+\\S+ \\(LibTorch "
                                           "[0-9.]+, HDF5 [0-9.]+\\)\n$")))
      << version.output;
  // One prefix, not two; a missing file is called missing.
  const auto missing = run_command(robustscope("info /nonexistent/m.pt"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.output,
            "robustscope info: error: /nonexistent/m.pt: no such checkpoint file\n");
  const auto unknown_option = run_command(robustscope("eval --frobnicate"));
  EXPECT_EQ(unknown_option.exit_code, 1);
  EXPECT_EQ(unknown_option.output.find("robustscope eval: error: robustscope eval"),
            std::string::npos)
      << unknown_option.output;
}

TEST(Cli, TheAttackTableOfTheDocsIsTheRegistrys) {
  const auto listed = run_command(robustscope("eval --list-attacks"));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const std::string docs =
      testing::read_file(std::string(ROBUSTSCOPE_SOURCE_DIR) + "/docs/attacks.md");
  const std::string begin = "<!-- registry table: robustscope eval --list-attacks -->\n";
  const size_t start = docs.find(begin);
  ASSERT_NE(start, std::string::npos);
  const size_t end = docs.find("<!-- end of registry table -->", start);
  EXPECT_EQ(docs.substr(start + begin.size(), end - start - begin.size()), listed.output)
      << "docs/attacks.md lags the registry: paste robustscope eval --list-attacks";
}

TEST(Cli, NoCudaMeansAClearErrorNotASilentFallback) {
  const auto result =
      run_command(robustscope("eval --torchscript x.pt --dataset mnist --device cuda:0"));
  if (result.output.find("sees no CUDA device") == std::string::npos) {
    GTEST_SKIP() << "CUDA is present on this machine";
  }
  EXPECT_EQ(result.exit_code, 1);
}

}  // namespace
}  // namespace robustscope
