// Helpers of the end-to-end batch tests.
#include "support/batch_runs.hpp"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/models/architectures.hpp"
#include "core/models/checkpoint.hpp"
#include "core/runtime/device.hpp"
#include "engine/records/schema.hpp"
#include "engine/store/result_store.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope::testing {
namespace fs = std::filesystem;

std::string launcher(int ranks) {
  if (ranks == 1) return "";
  return "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " ";
}

CommandResult robustscope(const std::string& arguments, int ranks) {
  return run_command(launcher(ranks) + ROBUSTSCOPE_BINARY + " " + arguments);
}

void save_mlp(const std::string& path, uint64_t seed, int64_t hidden, int64_t layers,
              bool poisoned) {
  seed_all(seed);
  CheckpointMetadata metadata;
  metadata.architecture = ArchitectureConfig::for_dataset("mlp", dataset_info("mnist"));
  metadata.architecture.arguments["hidden"] = hidden;
  metadata.architecture.arguments["layers"] = layers;
  metadata.dataset = "mnist";
  metadata.recipe = {{"name", "natural"}};
  metadata.seed = seed;
  BuiltinClassifier model(metadata.architecture);
  if (poisoned) {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& parameter : model.parameters()) parameter.fill_(NAN);
  }
  save_checkpoint(path, model, metadata);
}

void expect_same_results(const std::string& a, const std::string& b) {
  const StoredResults one = read_results(a), two = read_results(b);
  ASSERT_EQ(one.tasks.size(), two.tasks.size());
  for (const auto& [id, record] : one.tasks) {
    SCOPED_TRACE(id);
    ASSERT_TRUE(two.tasks.count(id));
    const Record& other = two.tasks.at(id);
    ASSERT_EQ(record.datasets.size(), other.datasets.size());
    for (const auto& [path, tensor] : record.datasets) {
      ASSERT_TRUE(other.datasets.count(path)) << path;
      EXPECT_TENSORS_EQUAL(tensor, other.datasets.at(path)) << path;
    }
    for (const auto& [path, values] : record.attributes) {
      for (const auto& [name, value] : values) {
        if (name == schema::kSeconds || name == schema::kRank || name == schema::kHost ||
            name == schema::kThreads)
          continue;
        EXPECT_TRUE(other.attributes.at(path).at(name) == value) << path << " " << name;
      }
    }
  }
}

std::vector<pid_t> processes_mentioning(const std::string& text) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string command((std::istreambuf_iterator<char>(in)), {});
    if (command.find(text) != std::string::npos) found.push_back(pid);
  }
  return found;
}

int64_t count_files(const std::string& folder, const std::string& extension) {
  int64_t count = 0;
  if (fs::is_directory(folder))
    for (const auto& entry : fs::directory_iterator(folder))
      count += entry.path().extension() == extension;
  return count;
}

}  // namespace robustscope::testing
