// Every name the result files use, in one place (docs/results.md describes them; the scripts read
// them from scripts/robustscope/schema.py, which a test keeps equal to this header).
#pragma once

#include <map>
#include <string>

#include "core/settings.hpp"

// Every name as X(constant, text): the constants below and the map all_names() come from it.
#define ROBUSTSCOPE_SCHEMA_NAMES(X)                                \
  X(kResults, "robustscope-results/2")                             \
  X(kLandscape, "robustscope-landscape/2")                         \
  X(kTasksGroup, "tasks")                                          \
  X(kRunsGroup, "runs")                                            \
  X(kModelsGroup, "models")                                        \
  X(kSamplesGroup, "samples")                                      \
  X(kSchema, "schema")                                             \
  X(kName, "name")                                                 \
  X(kSpecText, "spec_text")                                        \
  X(kSpecHash, "spec_hash")                                        \
  X(kSpecPath, "spec_path")                                        \
  X(kCodeVersion, "code_version")                                  \
  X(kLibtorchVersion, "libtorch_version")                          \
  X(kHdf5Version, "hdf5_version")                                  \
  X(kMpiVersion, "mpi_version")                                    \
  X(kMergedAt, "merged_at")                                        \
  X(kTasksPlanned, "tasks_planned")                                \
  X(kTasksCompleted, "tasks_completed")                            \
  X(kTasksFailed, "tasks_failed")                                  \
  X(kPendingSettings, "pending_settings")                          \
  X(kModelKind, "kind")                                            \
  X(kModelPath, "path")                                            \
  X(kModelDataset, "dataset")                                      \
  X(kModelHash, "hash")                                            \
  X(kModelRecipe, "recipe")                                        \
  X(kModelBatchSize, "batch_size")                                 \
  X(kKey, "key")                                                   \
  X(kSettingKey, "setting_key")                                    \
  X(kId, "id")                                                     \
  X(kKind, "kind")                                                 \
  X(kModel, "model")                                               \
  X(kModelFile, "model_path")                                      \
  X(kModelFileHash, "model_hash")                                  \
  X(kModelDescription, "model_description")                        \
  X(kReparameterizationPrefix, "model_reparameterization.")        \
  X(kDataset, "dataset")                                           \
  X(kSplit, "split")                                               \
  X(kShard, "shard")                                               \
  X(kFirstSample, "first_sample")                                  \
  X(kSampleCount, "sample_count")                                  \
  X(kBatchSize, "batch_size")                                      \
  X(kSeed, "seed")                                                 \
  X(kStatus, "status")                                             \
  X(kMessage, "message")                                           \
  X(kSeconds, "seconds")                                           \
  X(kForwardPasses, "forward_passes")                              \
  X(kForwardBackwardPasses, "forward_backward_passes")             \
  X(kRank, "rank")                                                 \
  X(kHost, "host")                                                 \
  X(kDevice, "device")                                             \
  X(kThreads, "threads")                                           \
  X(kChecksum, "checksum")                                         \
  X(kSettingPrefix, "setting.")                                    \
  X(kHeadlinePrefix, "headline.")                                  \
  X(kSampleIds, "sample_ids")                                      \
  X(kLabels, "labels")                                             \
  X(kCleanCorrect, "clean_correct")                                \
  X(kPsi, "psi")                                                   \
  X(kCleanClass, "clean_class")                                    \
  X(kWorstClass, "worst_class")                                    \
  X(kBestStep, "best_step")                                        \
  X(kBroken, "broken")                                             \
  X(kPerturbationNorm, "perturbation_norm")                        \
  X(kMargin, "margin")                                             \
  X(kBrokenBy, "broken_by")                                        \
  X(kPsiUpper, "psi_upper")                                        \
  X(kCertified, "certified")                                       \
  X(kMarginLower, "margin_lower")                                  \
  X(kCleanAccuracy, "clean_accuracy")                              \
  X(kRobustAccuracy, "robust_accuracy")                            \
  X(kPsiMean, "psi_mean")                                          \
  X(kBoundaryDistance, "boundary_distance")                        \
  X(kPsiUpperMean, "psi_upper_mean")                               \
  X(kCertifiedAccuracy, "certified_accuracy")                      \
  X(kRunId, "run_id")                                              \
  X(kStarted, "started")                                           \
  X(kEnded, "ended")                                               \
  X(kRanks, "ranks")                                               \
  X(kRankLayout, "rank_layout")                                    \
  X(kBlas, "blas")                                                 \
  X(kTasksSkipped, "tasks_skipped")                                \
  X(kTasksComputed, "tasks_computed")                              \
  X(kForced, "forced")                                             \
  X(kDataDir, "data_dir")                                          \
  X(kAssignmentWaitSeconds, "assignment_wait_seconds")             \
  X(kLastRunStarted, "last_run_started")                           \
  X(kLastRunEnded, "last_run_ended")                               \
  X(kLastRunRankLayout, "last_run_rank_layout")                    \
  X(kQuantities, "quantities")                                     \
  X(kLandscapeSettingPrefix, "landscape.")                         \
  X(kBoundaryAdversarialPositive, "boundary_adversarial_positive") \
  X(kAlarmsGroup, "alarms")                                        \
  X(kCheck, "check")                                               \
  X(kEvidence, "evidence")                                         \
  X(kSetting, "setting")                                           \
  X(kReferenceSetting, "reference_setting")                        \
  X(kValue, "value")                                               \
  X(kReferenceValue, "reference_value")                            \
  X(kThreshold, "threshold")                                       \
  X(kSettingsGroup, "settings")                                    \
  X(kLabel, "label")                                               \
  X(kFamily, "family")                                             \
  X(kHeadlineNames, "headline_names")                              \
  X(kModelIndex, "index")                                          \
  X(kModelBase, "base")                                            \
  X(kModelDefended, "defended")                                    \
  X(kPart, "part")

namespace robustscope::schema {

#define ROBUSTSCOPE_SCHEMA_CONSTANT(name, text) inline constexpr const char* name = text;
ROBUSTSCOPE_SCHEMA_NAMES(ROBUSTSCOPE_SCHEMA_CONSTANT)
#undef ROBUSTSCOPE_SCHEMA_CONSTANT

constexpr int kResultsVersion = 2;

enum class TaskStatus { kCompleted, kFailed };
const EnumNames<TaskStatus>& task_status_names();  // completed | failed

// Every constant above by its C++ name (kPsi → "psi"): what the Python mirror is tested against.
const std::map<std::string, std::string>& all_names();

}  // namespace robustscope::schema
