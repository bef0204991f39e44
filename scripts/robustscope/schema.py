"""The names of robustscope's result files, mirroring src/engine/store/schema.hpp (a test keeps the two
equal: tests/scripts/schema_test.cpp). Scripts read results through these names only."""

# C++ constant → text, as in schema.hpp (kPsi → "psi").
NAMES = {
    "kResults": "robustscope-results/2",
    "kLandscape": "robustscope-landscape/2",
    "kTasksGroup": "tasks",
    "kRunsGroup": "runs",
    "kModelsGroup": "models",
    "kSamplesGroup": "samples",
    "kSchema": "schema",
    "kName": "name",
    "kSpecText": "spec_text",
    "kSpecHash": "spec_hash",
    "kSpecPath": "spec_path",
    "kCodeVersion": "code_version",
    "kLibtorchVersion": "libtorch_version",
    "kHdf5Version": "hdf5_version",
    "kMpiVersion": "mpi_version",
    "kMergedAt": "merged_at",
    "kTasksPlanned": "tasks_planned",
    "kTasksCompleted": "tasks_completed",
    "kTasksFailed": "tasks_failed",
    "kModelKind": "kind",
    "kModelPath": "path",
    "kModelDataset": "dataset",
    "kModelHash": "hash",
    "kModelRecipe": "recipe",
    "kKey": "key",
    "kSettingKey": "setting_key",
    "kId": "id",
    "kKind": "kind",
    "kModel": "model",
    "kModelFile": "model_path",
    "kModelFileHash": "model_hash",
    "kModelDescription": "model_description",
    "kReparameterizationPrefix": "model_reparameterization.",
    "kDataset": "dataset",
    "kSplit": "split",
    "kShard": "shard",
    "kFirstSample": "first_sample",
    "kSampleCount": "sample_count",
    "kBatchSize": "batch_size",
    "kSeed": "seed",
    "kStatus": "status",
    "kMessage": "message",
    "kSeconds": "seconds",
    "kForwardPasses": "forward_passes",
    "kForwardBackwardPasses": "forward_backward_passes",
    "kRank": "rank",
    "kHost": "host",
    "kDevice": "device",
    "kThreads": "threads",
    "kChecksum": "checksum",
    "kSettingPrefix": "setting.",
    "kHeadlinePrefix": "headline.",
    "kSampleIds": "sample_ids",
    "kLabels": "labels",
    "kCleanCorrect": "clean_correct",
    "kPsi": "psi",
    "kCleanClass": "clean_class",
    "kWorstClass": "worst_class",
    "kBestStep": "best_step",
    "kBroken": "broken",
    "kPerturbationNorm": "perturbation_norm",
    "kMargin": "margin",
    "kBrokenBy": "broken_by",
    "kCleanAccuracy": "clean_accuracy",
    "kRobustAccuracy": "robust_accuracy",
    "kPsiMean": "psi_mean",
    "kBoundaryDistance": "boundary_distance",
    "kRunId": "run_id",
    "kStarted": "started",
    "kEnded": "ended",
    "kRanks": "ranks",
    "kRankLayout": "rank_layout",
    "kBlas": "blas",
    "kTasksSkipped": "tasks_skipped",
    "kTasksComputed": "tasks_computed",
    "kForced": "forced",
    "kDataDir": "data_dir",
    "kAssignmentWaitSeconds": "assignment_wait_seconds",
    "kLastRunStarted": "last_run_started",
    "kLastRunEnded": "last_run_ended",
    "kLastRunRankLayout": "last_run_rank_layout",
    "kQuantities": "quantities",
    "kLandscapeSettingPrefix": "landscape.",
    "kBoundaryAdversarialPositive": "boundary_adversarial_positive",
}

RESULTS = NAMES["kResults"]
LANDSCAPE = NAMES["kLandscape"]
TASKS_GROUP = NAMES["kTasksGroup"]
RUNS_GROUP = NAMES["kRunsGroup"]
MODELS_GROUP = NAMES["kModelsGroup"]
SAMPLES_GROUP = NAMES["kSamplesGroup"]
SCHEMA = NAMES["kSchema"]
NAME = NAMES["kName"]
SPEC_TEXT = NAMES["kSpecText"]
SPEC_HASH = NAMES["kSpecHash"]
SPEC_PATH = NAMES["kSpecPath"]
CODE_VERSION = NAMES["kCodeVersion"]
LIBTORCH_VERSION = NAMES["kLibtorchVersion"]
HDF5_VERSION = NAMES["kHdf5Version"]
MPI_VERSION = NAMES["kMpiVersion"]
MERGED_AT = NAMES["kMergedAt"]
TASKS_PLANNED = NAMES["kTasksPlanned"]
TASKS_COMPLETED = NAMES["kTasksCompleted"]
TASKS_FAILED = NAMES["kTasksFailed"]
MODEL_KIND = NAMES["kModelKind"]
MODEL_PATH = NAMES["kModelPath"]
MODEL_DATASET = NAMES["kModelDataset"]
MODEL_HASH = NAMES["kModelHash"]
MODEL_RECIPE = NAMES["kModelRecipe"]
KEY = NAMES["kKey"]
SETTING_KEY = NAMES["kSettingKey"]
ID = NAMES["kId"]
KIND = NAMES["kKind"]
MODEL = NAMES["kModel"]
MODEL_FILE = NAMES["kModelFile"]
MODEL_FILE_HASH = NAMES["kModelFileHash"]
MODEL_DESCRIPTION = NAMES["kModelDescription"]
REPARAMETERIZATION_PREFIX = NAMES["kReparameterizationPrefix"]
DATASET = NAMES["kDataset"]
SPLIT = NAMES["kSplit"]
SHARD = NAMES["kShard"]
FIRST_SAMPLE = NAMES["kFirstSample"]
SAMPLE_COUNT = NAMES["kSampleCount"]
BATCH_SIZE = NAMES["kBatchSize"]
SEED = NAMES["kSeed"]
STATUS = NAMES["kStatus"]
MESSAGE = NAMES["kMessage"]
SECONDS = NAMES["kSeconds"]
FORWARD_PASSES = NAMES["kForwardPasses"]
FORWARD_BACKWARD_PASSES = NAMES["kForwardBackwardPasses"]
RANK = NAMES["kRank"]
HOST = NAMES["kHost"]
DEVICE = NAMES["kDevice"]
THREADS = NAMES["kThreads"]
CHECKSUM = NAMES["kChecksum"]
SETTING_PREFIX = NAMES["kSettingPrefix"]
HEADLINE_PREFIX = NAMES["kHeadlinePrefix"]
SAMPLE_IDS = NAMES["kSampleIds"]
LABELS = NAMES["kLabels"]
CLEAN_CORRECT = NAMES["kCleanCorrect"]
PSI = NAMES["kPsi"]
CLEAN_CLASS = NAMES["kCleanClass"]
WORST_CLASS = NAMES["kWorstClass"]
BEST_STEP = NAMES["kBestStep"]
BROKEN = NAMES["kBroken"]
PERTURBATION_NORM = NAMES["kPerturbationNorm"]
MARGIN = NAMES["kMargin"]
BROKEN_BY = NAMES["kBrokenBy"]
CLEAN_ACCURACY = NAMES["kCleanAccuracy"]
ROBUST_ACCURACY = NAMES["kRobustAccuracy"]
PSI_MEAN = NAMES["kPsiMean"]
BOUNDARY_DISTANCE = NAMES["kBoundaryDistance"]
RUN_ID = NAMES["kRunId"]
STARTED = NAMES["kStarted"]
ENDED = NAMES["kEnded"]
RANKS = NAMES["kRanks"]
RANK_LAYOUT = NAMES["kRankLayout"]
BLAS = NAMES["kBlas"]
TASKS_SKIPPED = NAMES["kTasksSkipped"]
TASKS_COMPUTED = NAMES["kTasksComputed"]
FORCED = NAMES["kForced"]
DATA_DIR = NAMES["kDataDir"]
ASSIGNMENT_WAIT_SECONDS = NAMES["kAssignmentWaitSeconds"]
LAST_RUN_STARTED = NAMES["kLastRunStarted"]
LAST_RUN_ENDED = NAMES["kLastRunEnded"]
LAST_RUN_RANK_LAYOUT = NAMES["kLastRunRankLayout"]
QUANTITIES = NAMES["kQuantities"]
LANDSCAPE_SETTING_PREFIX = NAMES["kLandscapeSettingPrefix"]
BOUNDARY_ADVERSARIAL_POSITIVE = NAMES["kBoundaryAdversarialPositive"]

COMPLETED, FAILED = "completed", "failed"  # TaskStatus
