// robustscope merge: assembles a results file from its task folder.
#include <cstdio>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "core/runtime/files.hpp"
#include "engine/analysis/masking_alarms.hpp"
#include "engine/store/result_store.hpp"

namespace robustscope::cli {

int merge_command(const Arguments& arguments) {
  std::string output;
  po::options_description options("merge options");
  options.add_options()("results", po::value(&output)->required(), "results file (HDF5)");
  if (!parse_command("merge", "Assembles a results file from its task folder (<results>.d).",
                     options, arguments, {"results"})) {
    return 0;
  }
  const ResultStore store(output);
  if (!store.folder().exists())
    throw Error(output, "has no task folder " + store.folder().path() + " to merge from");
  const FileLock lock(store.folder().lock_path(), output);
  const ExperimentSpec spec = stored_spec(read_results(output), output);
  const ResultStore::MergeSummary summary = store.merge(spec, alarms_of);
  std::printf("%s: %ld tasks planned, %ld completed, %ld failed, %ld pending\n", output.c_str(),
              summary.planned, summary.completed, summary.failed,
              summary.planned - summary.completed - summary.failed);
  return 0;
}

}  // namespace robustscope::cli
