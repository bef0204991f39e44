// robustscope prepare: trains a spec's missing models (ranks take models from one queue).
#include <cstdio>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "engine/run/batch_run.hpp"

namespace robustscope::cli {

int prepare_command(const Arguments& arguments) {
  std::string spec_path, data_dir;
  RunOptions run_options;
  po::options_description options("prepare options");
  options.add_options()("spec", po::value(&spec_path)->required(), "experiment spec (YAML)")(
      "data-dir", po::value(&data_dir), "folder holding <dataset>/ (overrides the spec's)")(
      "device", po::value(&run_options.device), "overrides the spec's device")(
      "threads", thread_override(&run_options.threads), "threads per rank (overrides the spec's)");
  if (!parse_command("prepare",
                     "Trains the spec's models whose checkpoints are missing, by their train: "
                     "settings (under mpirun, ranks take models from one queue).",
                     options, arguments, {"spec"})) {
    return 0;
  }
  ExperimentSpec spec = load_spec(spec_path);
  if (!data_dir.empty()) spec.data_dir = data_dir;
  run_options.log = say;
  MpiCluster cluster;
  const PrepareSummary summary = prepare_models(cluster, spec, run_options);
  if (cluster.rank() != 0) return 0;
  say(std::to_string(summary.trained) + " of " + std::to_string(summary.to_train) +
      " models trained" +
      (summary.failed ? ", " + std::to_string(summary.failed) + " failed" : std::string()));
  for (const std::string& failure : summary.failures) say("failed: " + failure);
  return summary.failed > 0 ? 3 : 0;
}

}  // namespace robustscope::cli
