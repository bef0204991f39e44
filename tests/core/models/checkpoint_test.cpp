// Checkpoints: bit-identical round trip, metadata, and clear refusals.
#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/models/checkpoint.hpp"
#include "core/models/model_source.hpp"
#include "core/runtime/device.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

using testing::TempDir;

CheckpointMetadata metadata_for(const std::string& dataset) {
  CheckpointMetadata metadata;
  metadata.dataset = dataset;
  metadata.recipe = {{"name", "natural"}, {"epochs", "3"}};
  metadata.seed = 42;
  metadata.test_accuracy = 0.987654321;
  return metadata;
}

TEST(Checkpoint, RoundTripGivesBitIdenticalOutputsAndMetadata) {
  TempDir dir;
  seed_all(1);
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset("preact-resnet18", dataset_info("cifar10"), {{"width", 4}}));
  // One training-mode pass moves the BatchNorm running statistics away from their initial values,
  // so the round trip must carry buffers too.
  model.set_training(true);
  model.forward(torch::rand({8, 3, 32, 32}));
  model.set_training(false);
  save_checkpoint(dir.file("m.pt"), model, metadata_for("cifar10"));

  LoadedModel loaded = load_checkpoint(dir.file("m.pt"), torch::kCPU);
  const torch::Tensor x = torch::rand({4, 3, 32, 32});
  torch::NoGradGuard no_grad;
  EXPECT_TENSORS_EQUAL(model.forward(x), loaded.model->forward(x));
  EXPECT_EQ(loaded.model->description(), model.description());
  EXPECT_EQ(loaded.metadata.seed, 42u);
  EXPECT_EQ(loaded.metadata.test_accuracy, 0.987654321);
  EXPECT_EQ(loaded.metadata.recipe.at("epochs"), "3");
  EXPECT_EQ(loaded.metadata.architecture.arguments.at("width"), 4);
  EXPECT_EQ(loaded.metadata.architecture.stddev, dataset_info("cifar10").stddev);
  EXPECT_FALSE(loaded.metadata.code_version.empty());
  EXPECT_FALSE(loaded.metadata.libtorch_version.empty());
}

TEST(Checkpoint, WrongArchitectureIsRefusedNamingBoth) {
  TempDir dir;
  BuiltinClassifier small(
      ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist"), {{"channels", 4}}));
  save_checkpoint(dir.file("m.pt"), small, metadata_for("mnist"));
  BuiltinClassifier mlp(ArchitectureConfig::for_dataset("mlp", dataset_info("mnist")));
  EXPECT_ERROR_CONTAINING(
      load_checkpoint_into(dir.file("m.pt"), mlp),
      "checkpoint holds small-cnn(channels=4, hidden=1024) on 1x28x28 -> 10, which "
      "cannot be loaded into mlp(hidden=256, layers=2) on 1x28x28 -> 10");
  BuiltinClassifier wider(
      ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist"), {{"channels", 8}}));
  EXPECT_ERROR_CONTAINING(load_checkpoint_into(dir.file("m.pt"), wider), "small-cnn(channels=8");
}

TEST(Checkpoint, DatasetMismatchIsRefused) {
  TempDir dir;
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset("mlp", dataset_info("mnist"), {{"hidden", 8}}));
  save_checkpoint(dir.file("m.pt"), model, metadata_for("mnist"));
  EXPECT_ERROR_CONTAINING(
      load_classifier({"checkpoint", dir.file("m.pt")}, dataset_info("cifar10"), torch::kCPU),
      "checkpoint was trained on \"mnist\", not on \"cifar10\"");
  EXPECT_NO_THROW(
      load_classifier({"checkpoint", dir.file("m.pt")}, dataset_info("mnist"), torch::kCPU));
}

TEST(Checkpoint, TruncatedOrForeignFilesAreRefused) {
  TempDir dir;
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset("mlp", dataset_info("mnist"), {{"hidden", 8}}));
  save_checkpoint(dir.file("m.pt"), model, metadata_for("mnist"));
  const std::string bytes = testing::read_file(dir.file("m.pt"));
  testing::write_file(dir.file("truncated.pt"), bytes.substr(0, bytes.size() / 2));
  EXPECT_ERROR_CONTAINING(load_checkpoint(dir.file("truncated.pt"), torch::kCPU),
                          "not a readable checkpoint");
  testing::write_file(dir.file("text.pt"), "not a checkpoint at all");
  EXPECT_ERROR_CONTAINING(load_checkpoint(dir.file("text.pt"), torch::kCPU),
                          "text.pt: not a readable checkpoint");
  // A valid LibTorch archive that is not ours.
  torch::serialize::OutputArchive foreign;
  foreign.write("weights", torch::ones({3}));
  foreign.save_to(dir.file("foreign.pt"));
  EXPECT_ERROR_CONTAINING(load_checkpoint(dir.file("foreign.pt"), torch::kCPU),
                          "not a robustscope checkpoint: no \"metadata\" record");
  EXPECT_ERROR_CONTAINING(load_checkpoint(dir.file("missing.pt"), torch::kCPU), "missing.pt");
}

TEST(Checkpoint, SaveLeavesNoPartialFile) {
  TempDir dir;
  BuiltinClassifier model(
      ArchitectureConfig::for_dataset("mlp", dataset_info("mnist"), {{"hidden", 8}}));
  save_checkpoint(dir.file("m.pt"), model, metadata_for("mnist"));
  EXPECT_TRUE(std::filesystem::exists(dir.file("m.pt")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("m.pt.partial")));
}

}  // namespace
}  // namespace robustscope
