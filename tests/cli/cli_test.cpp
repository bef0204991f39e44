// The robustscope executable: train, eval and info end to end, and errors as messages with exit
// codes.
#include <gtest/gtest.h>

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
  EXPECT_TRUE(std::regex_search(evaluated.output, std::regex("clean +clean +" + accuracy)))
      << evaluated.output;

  const auto info = run_command(robustscope("info --model " + dir.file("mlp.pt")));
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
  EXPECT_NE(result.output.find("attack1    fgsm(epsilon=0.1"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("restarts=2"), std::string::npos);
  EXPECT_NE(result.output.find("worst case over attack1..attack2"), std::string::npos);
  EXPECT_NE(result.output.find("psi mean"), std::string::npos);
  const std::string csv = testing::read_file(dir.file("samples.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "sample,label,attack1.broken,attack1.norm,attack1.margin,attack2.broken,attack2.norm,"
            "attack2.margin,ensemble.broken,ensemble.norm,ensemble.margin,ensemble.broken_by,"
            "metric.psi,metric.clean_class,metric.worst_class,metric.best_step");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 41);

  const auto unknown_attack =
      run_command(robustscope("eval --model " + dir.file("m.pt") + data + " --attack pgdd"));
  EXPECT_EQ(unknown_attack.exit_code, 1);
  EXPECT_NE(unknown_attack.output.find("attack: \"pgdd\" is unknown (known: fgsm, bim, pgd"),
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
