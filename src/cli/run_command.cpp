// robustscope run: a spec's tasks over MPI ranks, resuming an existing output.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "engine/run/batch_run.hpp"

namespace robustscope::cli {
namespace {

// "i/N" with 0 <= i < N <= kMostParts; Error naming --part and the text otherwise.
void parse_part(const std::string& text, int& part, int& parts) {
  const size_t slash = text.find('/');
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  const std::string first = text.substr(0, slash),
                    second = slash == std::string::npos ? "" : text.substr(slash + 1);
  if (slash == std::string::npos || !digits(first) || !digits(second))
    throw Error("--part", "\"" + text + "\": give i/N, e.g. 0/4 for the first of 4 parts");
  part = std::stoi(first);
  parts = std::stoi(second);
  if (parts < 1 || parts > kMostParts || part >= parts)
    throw Error("--part", "\"" + text + "\": needs 0 <= i < N <= " + std::to_string(kMostParts));
}

}  // namespace

int run_command(const Arguments& arguments) {
  std::string spec_path, output, data_dir, part;
  RunOptions run_options;
  bool quiet = false;
  po::options_description options("run options");
  options.add_options()("spec", po::value(&spec_path)->required(), "experiment spec (YAML)")(
      "output", po::value(&output), "results file (overrides the spec's output)")(
      "data-dir", po::value(&data_dir), "folder holding <dataset>/ (overrides the spec's)")(
      "force", po::bool_switch(&run_options.force),
      "resume an output made by a different spec or with changed model files, reusing the tasks "
      "whose settings still match and recomputing the rest")(
      "device", po::value(&run_options.device), "overrides the spec's device")(
      "threads", thread_override(&run_options.threads),
      "threads of each task a rank runs (overrides the spec's)")(
      "tasks-in-flight", po::value(&run_options.tasks_in_flight)->default_value(1),
      "tasks each rank runs at once, each on a thread and GPU stream of its own (1-64): keeps a "
      "GPU "
      "busy on small models; results do not change")(
      "part", po::value(&part),
      "i/N: runs part i (0 to N-1) of the sweep split into N by estimated cost; any parts may "
      "run at once, on any nodes, into the same output (slurm/array.sbatch), and the last to "
      "finish merges them all")("quiet", po::bool_switch(&quiet),
                                "a progress line every 10% instead of one per task");
  if (!parse_command("run",
                     "Runs a spec's tasks over MPI ranks (mpirun -np N robustscope run spec.yaml); "
                     "resumes an existing output.",
                     options, arguments, {"spec"})) {
    return 0;
  }
  if (!part.empty()) parse_part(part, run_options.part, run_options.parts);
  ExperimentSpec spec = load_spec(spec_path);
  if (!output.empty()) spec.output = output;
  if (!data_dir.empty()) spec.data_dir = data_dir;
  run_options.progress = !quiet;
  run_options.log = say;
  // Under mpirun or srun the ranks get the launcher's SIGTERM whatever the launcher was sent. Read
  // before MPI starts: a bare run's MPI sets these variables for itself.
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK");
  MpiCluster cluster;
  const RunSummary summary = run_experiment(cluster, spec, run_options);
  if (cluster.rank() != 0) return 0;
  if (summary.interrupted || !summary.out_of_space.empty()) {
    const std::string kept = std::to_string(summary.kept) + " of " +
                             std::to_string(summary.planned) + " tasks are complete and kept in " +
                             summary.task_folder + "; ";
    if (summary.interrupted)
      say("\ninterrupted (signal " + std::to_string(summary.interrupt_signal) +
          (launched && summary.interrupt_signal == SIGTERM
               ? ", the launcher's SIGTERM: mpirun and srun pass on a Ctrl-C so"
               : "") +
          "): " + kept + "run the same command again to resume");
    else
      say("\nstopped: " + summary.out_of_space + "\n" + kept +
          "make room and run the same command again to resume");
    // Tasks in flight are abandoned: their files are never half written.
    std::_Exit(summary.interrupted ? 128 + summary.interrupt_signal : 1);
  }
  const double computed = static_cast<double>(summary.computed + summary.failed);
  char line[512];
  std::snprintf(line, sizeof(line),
                "\n%ld tasks: %ld skipped (complete), %ld computed, %ld failed in %.1f s (%.2f "
                "tasks/s on %d ranks, at most %ld at once)\nresults: %s",
                summary.planned, summary.skipped, summary.computed, summary.failed, summary.seconds,
                summary.seconds > 0 ? computed / summary.seconds : 0.0, cluster.size(),
                summary.peak_in_flight, spec.output.c_str());
  say(line);
  std::snprintf(line, sizeof(line),
                "coordinator: workers waited %.2f ms per task for their next assignment",
                1e3 * summary.assignment_wait_seconds / std::max(computed, 1.0));
  say(line);
  for (const std::string& failure : summary.failures) say("failed: " + failure);
  return summary.failed > 0 ? 3 : 0;
}

}  // namespace robustscope::cli
