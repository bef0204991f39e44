// Bounded randomized corruption of everything robustscope reads: IDX and CIFAR-10 files, experiment
// specs and task result files. Every outcome must be a result or a
// robustscope::Error — no crash, no other exception, no hang (ctest's timeout bounds the run).
#include <gtest/gtest.h>
#include <torch/types.h>

#include <fstream>
#include <random>

#include "core/data/cifar10.hpp"
#include "core/data/idx.hpp"
#include "engine/records/record.hpp"
#include "engine/spec/task_plan.hpp"
#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

constexpr int kRounds = 300;

// One random corruption: truncate, flip bytes, delete or duplicate a range, or insert junk.
std::string corrupt(std::string bytes, std::mt19937_64& random) {
  auto position = [&] {
    return bytes.empty() ? size_t{0}
                         : std::uniform_int_distribution<size_t>(0, bytes.size())(random);
  };
  switch (random() % 5) {
    case 0:
      bytes.resize(position());
      break;
    case 1:
      for (int i = 0, flips = 1 + random() % 8; i < flips && !bytes.empty(); ++i)
        bytes[position() % bytes.size()] ^= static_cast<char>(1 + random() % 255);
      break;
    case 2: {
      const size_t at = position();
      bytes.erase(at, random() % 64);
      break;
    }
    case 3: {
      const size_t at = position();
      bytes.insert(at, bytes.substr(at, random() % 64));
      break;
    }
    default: {
      std::string junk(1 + random() % 16, '\0');
      for (char& c : junk) c = static_cast<char>(random() % 256);
      bytes.insert(position(), junk);
    }
  }
  return bytes;
}

// Runs `read` on every corruption of `valid`; counts the clean errors.
template <typename Read>
int64_t fuzz(const std::string& valid, uint64_t seed, Read read) {
  std::mt19937_64 random(seed);
  int64_t errors = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string bytes = corrupt(valid, random);
    try {
      read(bytes);
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& other) {
      ADD_FAILURE() << "round " << round << ": not a robustscope::Error: " << other.what();
    }
  }
  return errors;
}

TEST(Fuzz, IdxReaders) {
  TempDir dir;
  write_idx_images(dir.file("images"), torch::randint(0, 256, {3, 28, 28}, torch::kUInt8));
  write_idx_labels(dir.file("labels"), torch::randint(0, 10, {3}, torch::kUInt8));
  for (const char* name : {"images", "labels"}) {
    const std::string valid = testing::read_file(dir.file(name));
    const int64_t errors = fuzz(valid, 1, [&](const std::string& bytes) {
      testing::write_file(dir.file("fuzzed"), bytes);
      if (std::string(name) == "images")
        read_idx_images(dir.file("fuzzed"));
      else
        read_idx_labels(dir.file("fuzzed"));
    });
    EXPECT_GT(errors, kRounds / 4) << name;  // most corruptions must be caught
  }
}

TEST(Fuzz, Cifar10Reader) {
  TempDir dir;
  write_cifar10_batch(dir.file("batch.bin"), torch::randint(0, 256, {2, 3, 32, 32}, torch::kUInt8),
                      torch::randint(0, 10, {2}, torch::kInt64));
  const int64_t errors =
      fuzz(testing::read_file(dir.file("batch.bin")), 2, [&](const std::string& bytes) {
        testing::write_file(dir.file("fuzzed.bin"), bytes);
        read_cifar10_batch(dir.file("fuzzed.bin"));
      });
  EXPECT_GT(errors, kRounds / 4);
}

TEST(Fuzz, SpecParser) {
  const std::string valid =
      testing::read_file(std::string(ROBUSTSCOPE_SOURCE_DIR) + "/experiments/demo.yaml");
  const int64_t errors = fuzz(valid, 3, [](const std::string& text) {
    const ExperimentSpec spec = parse_spec(text, "fuzzed.yaml");
    plan_tasks(spec);
  });
  EXPECT_GT(errors, kRounds / 4);
}

TEST(Fuzz, TaskFiles) {
  TempDir dir;
  Record record;
  record.datasets["psi"] = torch::rand({10});
  record.datasets["samples/3/grid"] = torch::rand({5, 3, 3});
  record.set("key", std::string("model=a|metric()"));
  record.set("seconds", 1.5);
  record.set("shard", int64_t{2}, "samples/3");
  write_record_file(dir.file("task.h5"), record);
  const int64_t file_errors =
      fuzz(testing::read_file(dir.file("task.h5")), 4, [&](const std::string& bytes) {
        testing::write_file(dir.file("fuzzed.h5"), bytes);
        const Hdf5File file(dir.file("fuzzed.h5"), Hdf5File::Mode::kReadOnly);
        read_record(file, "/");
      });
  EXPECT_GT(file_errors, kRounds / 10);
}

}  // namespace
}  // namespace robustscope
