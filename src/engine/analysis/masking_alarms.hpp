// Gradient-masking alarms: what a results file's own numbers say about attacks that were misled
// rather than models that are robust (Athalye et al. 2018, Carlini et al. 2019's checklist). Each
// check compares two stored settings of one model; docs/alarms.md gives the checks, thresholds and
// why. `merge` stores them in the results file, `inspect` prints them, the report shows them.
#pragma once

#include <string>
#include <vector>

#include "engine/records/record.hpp"
#include "engine/spec/experiment_spec.hpp"
#include "engine/store/result_store.hpp"

namespace robustscope {

// The thresholds of the checks (docs/alarms.md); robust accuracies are fractions of all samples.
struct AlarmThresholds {
  double black_box_gap = 0.10;       // (a) white-box PGD/BIM accuracy − a black-box one (or an
                                     // ensemble's, when its black-box members broke this share)
  double reference_gap = 0.10;       // (a') PGD/BIM accuracy − another white-box attack's
  double large_epsilon_share = 0.5;  // (b) ε at least this share of the largest meaningful ε …
  double large_epsilon_accuracy = 0.10;  // … where accuracy must have fallen below this
  double epsilon_rise = 0.05;            // (b) accuracy higher at a larger ε by more than this
  double more_effort_gap =
      0.05;  // (c) accuracy lower with more steps or restarts by more than this
  double single_step_gap = 0.05;  // (d) iterative accuracy − FGSM accuracy
  // (e) of the samples an attack broke in the metric's ball, the share whose ψ stays below
  // stalled_psi, above stalled_share
  double stalled_psi = 1e-6, stalled_share = 0.25;
  // (f) the share of samples an attack broke on a model's base but not on its
  // prediction-preserving copy (reparameterize:), above copy_missed
  double copy_missed = 0.02;
};

struct MaskingAlarm {
  std::string model;
  std::string check;      // black-box-stronger | no-collapse-at-large-epsilon | …
  std::string evidence;   // one sentence with the numbers
  std::string setting;    // the procedure key that looks wrong
  std::string reference;  // the procedure key it is compared with ("" when none)
  double value = 0;       // the setting's number (robust accuracy, or the log10 gap)
  double reference_value = 0;
  double threshold = 0;
};

// Every check's name, in the order of docs/alarms.md.
const std::vector<std::string>& masking_check_names();

// The alarms of every model over the completed tasks of `results`.
std::vector<MaskingAlarm> masking_alarms(const ExperimentSpec& spec, const StoredResults& results,
                                         const AlarmThresholds& thresholds = {});

// The alarms of `completed` as the record merge stores (ResultStore::Alarms).
Record alarms_of(const ExperimentSpec& spec, const StoredResults& completed);

// As a record: one group per alarm ("0", "1", …) with its fields as attributes; and back.
Record alarms_record(const std::vector<MaskingAlarm>& alarms);
std::vector<MaskingAlarm> alarms_from_record(const Record& record);

}  // namespace robustscope
