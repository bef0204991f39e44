// robustscope eval: a model's accuracy on a data set.
#include <cstdio>
#include <iostream>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/model_source.hpp"

namespace robustscope::cli {

int eval_command(const Arguments& arguments) {
  std::string checkpoint, torchscript, dataset_name, data_dir = "data", split = "test";
  int64_t limit = 0, batch_size = 500;
  RuntimeOptions runtime;
  po::options_description options("eval options");
  options.add_options()("model", po::value(&checkpoint), "robustscope checkpoint")(
      "torchscript", po::value(&torchscript), "TorchScript model (inputs in [0,1], logits out)")(
      "dataset", po::value(&dataset_name),
      "mnist | cifar10 (default: the checkpoint's; required with --torchscript)")(
      "data-dir", po::value(&data_dir)->default_value(data_dir), "folder holding <dataset>/")(
      "split", po::value(&split)->default_value(split), "train | test")(
      "limit", po::value(&limit)->default_value(limit), "first N samples only (0: all)")(
      "batch-size", po::value(&batch_size)->default_value(batch_size), "batch size");
  add_runtime_options(options, runtime);
  if (!parse_command("eval", "Evaluates a model's clean accuracy.", options, arguments)) return 0;
  if (checkpoint.empty() == torchscript.empty()) {
    throw Error("robustscope eval", "give exactly one of --model and --torchscript");
  }
  const ModelSource source = checkpoint.empty() ? ModelSource{"torchscript", torchscript}
                                                : ModelSource{"checkpoint", checkpoint};
  if (dataset_name.empty()) {
    if (source.kind == "torchscript") throw Error("--dataset", "is required with --torchscript");
    dataset_name = read_checkpoint_metadata(checkpoint).dataset;
  }
  const torch::Device device = apply_runtime_options(runtime);
  Dataset data = load_dataset(dataset_name, data_dir, split);
  if (limit > 0) data = data.slice(0, limit);
  auto model = load_classifier(source, data.info, device);
  const double accuracy = clean_accuracy(*model, data, batch_size, device);
  std::printf("model %s\ndataset %s/%s, %ld samples\nclean accuracy %.4f\n",
              model->description().c_str(), dataset_name.c_str(), split.c_str(), data.size(),
              accuracy);
  return 0;
}

}  // namespace robustscope::cli
