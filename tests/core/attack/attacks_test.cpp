// Every attack: inside the ball and the box, per-sample determinism, ensemble and transfer
// semantics, and clear refusals of bad settings.
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <string>
#include <tuple>
#include <vector>

#include "core/attack/attacks.hpp"
#include "core/attack/objectives.hpp"
#include "core/runtime/device.hpp"
#include "support/models.hpp"
#include "support/printers.hpp"
#include "support/temp_dir.hpp"
#include "support/tensor_assertions.hpp"

namespace robustscope {
namespace {

struct Fixture {
  BuiltinClassifier model;
  torch::Tensor images, labels, ids;
};

Fixture random_cnn_and_data(int64_t count) {
  seed_all(21);
  Fixture f{BuiltinClassifier(ArchitectureConfig::for_dataset("small-cnn", dataset_info("mnist"),
                                                              {{"channels", 4}, {"hidden", 32}})),
            {},
            {},
            {}};
  f.model.set_training(false);
  auto generator = at::detail::createCPUGenerator(3);
  f.images = torch::rand({count, 1, 28, 28}, generator);
  torch::NoGradGuard no_grad;
  f.labels = f.model.forward(f.images).argmax(1);  // every sample starts correctly classified
  f.ids = torch::arange(count);
  return f;
}

AttackConfig attack(const std::string& name, Norm norm, double epsilon) {
  AttackConfig config = make_attack_config(name);
  config.norm = norm;
  config.epsilon = epsilon;
  config.steps = 10;
  config.restarts = 2;
  config.target_classes = 3;
  config.binary_search_steps = 3;
  config.queries = 100;
  return config;
}

// More passes than the one clean prediction per sample: the attack did work.
int64_t images_passes(const Fixture& f) { return f.images.size(0); }

class EveryAttack : public ::testing::TestWithParam<std::tuple<std::string, Norm>> {};

TEST_P(EveryAttack, AdversarialExamplesStayInTheBallAndTheBox) {
  const auto& [name, norm] = GetParam();
  Fixture f = random_cnn_and_data(12);
  const double epsilon = norm == Norm::kLinf ? 0.1 : 1.0;
  const AttackConfig config = attack(name, norm, epsilon);
  const AttackOutcome outcome = run_attack(f.model, f.images, f.labels, f.ids, config);
  EXPECT_TRUE((outcome.perturbation_norm <= epsilon + 1e-5).all().item<bool>())
      << outcome.perturbation_norm;
  EXPECT_GE(outcome.adversarial.min().item<float>(), 0.0f);
  EXPECT_LE(outcome.adversarial.max().item<float>(), 1.0f);
  // The verdicts agree with the model at the returned points.
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = f.model.forward(outcome.adversarial);
  EXPECT_TENSORS_EQUAL(outcome.broken, logits.argmax(1).ne(f.labels));
  EXPECT_TENSORS_EQUAL(outcome.broken, outcome.margin < 0);
  EXPECT_TENSORS_CLOSE(outcome.margin, logit_margin(logits, f.labels), 1e-8, 1e-5);
  EXPECT_GT(outcome.forward_passes + outcome.forward_backward_passes, images_passes(f));
}

// Every attack under every norm it supports (CW-L2 is an L2 attack only).
// Every attack of the registry under every norm it supports: a new attack is tested by being
// registered.
std::vector<std::tuple<std::string, Norm>> attacks_and_norms() {
  std::vector<std::tuple<std::string, Norm>> cases;
  for (const AttackDefinition& attack : attack_registry())
    for (Norm norm : attack.norms) cases.emplace_back(attack.name, norm);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(All, EveryAttack, ::testing::ValuesIn(attacks_and_norms()),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param) + "_" +
                                              norm_names().name(std::get<1>(info.param));
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(Attacks, ASamplesOutcomeDoesNotDependOnItsBatch) {
  Fixture f = random_cnn_and_data(10);
  const AttackConfig config = attack("pgd", Norm::kLinf, 0.1);
  const AttackOutcome whole = run_attack(f.model, f.images, f.labels, f.ids, config);
  const AttackOutcome part = run_attack(f.model, f.images.slice(0, 4, 7), f.labels.slice(0, 4, 7),
                                        f.ids.slice(0, 4, 7), config);
  EXPECT_TENSORS_CLOSE(part.adversarial, whole.adversarial.slice(0, 4, 7), 1e-5, 1e-5);
  EXPECT_TENSORS_EQUAL(part.broken, whole.broken.slice(0, 4, 7));
}

TEST(Attacks, EnsembleBreaksExactlyTheUnionOfItsMembers) {
  // A linear model: its margins vary from sample to sample, so a small ε breaks some but not all.
  Fixture f{testing::linear_model(28, 28, 10, 5), {}, {}, torch::arange(24)};
  f.images = random_cnn_and_data(24).images;
  {
    torch::NoGradGuard no_grad;
    f.labels = f.model.forward(f.images).argmax(1);
  }
  const double epsilon = 0.004;
  const std::vector<AttackConfig> members = {attack("fgsm", Norm::kLinf, epsilon),
                                             attack("pgd", Norm::kLinf, epsilon),
                                             attack("apgd-dlr", Norm::kLinf, epsilon)};
  torch::Tensor union_broken = torch::zeros({24}, torch::kBool);
  for (const auto& member : members) {
    union_broken |= run_attack(f.model, f.images, f.labels, f.ids, member).broken;
  }
  const AttackOutcome ensemble = run_ensemble(f.model, f.images, f.labels, f.ids, members);
  EXPECT_TENSORS_EQUAL(ensemble.broken, union_broken);
  EXPECT_TENSORS_EQUAL(ensemble.broken, ensemble.broken_by >= 0);
  EXPECT_GT(union_broken.sum().item<int64_t>(), 0) << "epsilon too small for a meaningful test";
  EXPECT_LT(union_broken.sum().item<int64_t>(), 24) << "epsilon too large for a meaningful test";
}

TEST(Attacks, MisclassifiedSamplesCountAsBrokenWithoutBeingAttacked) {
  Fixture f = random_cnn_and_data(6);
  const torch::Tensor wrong_labels = (f.labels + 1) % 10;
  const AttackOutcome outcome =
      run_attack(f.model, f.images, wrong_labels, f.ids, attack("pgd", Norm::kLinf, 0.1));
  EXPECT_TRUE(outcome.broken.all().item<bool>());
  EXPECT_TRUE((outcome.broken_by == -2).all().item<bool>());
  EXPECT_TRUE((outcome.margin < 0).all().item<bool>());
  EXPECT_EQ(outcome.forward_backward_passes, 0);
  EXPECT_TENSORS_EQUAL(outcome.adversarial, f.images);
}

TEST(Attacks, TransferFromTheModelItselfEqualsTheWhiteBoxAttack) {
  Fixture f = random_cnn_and_data(10);
  const AttackConfig config = attack("bim", Norm::kLinf, 0.05);
  const AttackOutcome white_box = run_attack(f.model, f.images, f.labels, f.ids, config);
  const AttackOutcome transfer =
      run_transfer_attack(f.model, f.model, f.images, f.labels, f.ids, config);
  EXPECT_TENSORS_EQUAL(transfer.broken, white_box.broken);
}

TEST(Attacks, FgsmIsOneSignStepOfEpsilon) {
  BuiltinClassifier model = testing::linear_model(4, 5, 2, 3);
  const auto [weight, bias] = testing::linear_weights(model);
  const torch::Tensor x = torch::full({1, 1, 4, 5}, 0.5);
  torch::Tensor label;
  {
    torch::NoGradGuard no_grad;
    label = model.forward(x).argmax(1);
  }
  AttackConfig config = attack("fgsm", Norm::kLinf, 0.01);
  config.loss = Loss::kMargin;
  const AttackOutcome outcome = run_attack(model, x, label, torch::arange(1), config);
  const int64_t t = label.item<int64_t>();
  const torch::Tensor expected = x + 0.01 * (weight[1 - t] - weight[t]).sign().view({1, 1, 4, 5});
  EXPECT_TENSORS_CLOSE(outcome.adversarial, expected, 1e-8, 1e-5) << "broken: " << outcome.broken;
}

// A model whose gradient carries no information: inputs are quantised to 8 bits (a step function,
// zero gradient almost everywhere) before a linear softmax classifier. Gradient attacks stand
// still; a score-based one does not (Athalye et al. 2018 call this shattered gradients).
class QuantisedInputs : public Classifier {
 public:
  explicit QuantisedInputs(BuiltinClassifier inner) : inner_(std::move(inner)) {}
  torch::Tensor forward(const torch::Tensor& images) override {
    return inner_.forward((images * 255).round() / 255);  // round: zero gradient everywhere
  }
  void set_training(bool training) override { inner_.set_training(training); }
  void to(torch::Device device) override { inner_.to(device); }
  std::vector<torch::Tensor> parameters() override { return inner_.parameters(); }
  std::string description() const override { return "quantised " + inner_.description(); }

 private:
  BuiltinClassifier inner_;
};

TEST(Attacks, SquareBreaksAModelWhoseGradientsAreMaskedWherePgdCannot) {
  QuantisedInputs model(testing::linear_model(28, 28, 10, 5));
  const torch::Tensor images = random_cnn_and_data(40).images;
  torch::Tensor labels;
  {
    torch::NoGradGuard no_grad;
    labels = model.forward(images).argmax(1);
  }
  // The gradient is exactly zero: PGD's signed step is zero and it never leaves its start.
  torch::Tensor input = images.clone().requires_grad_(true);
  const torch::Tensor loss = torch::cross_entropy_loss(model.forward(input), labels);
  EXPECT_EQ(torch::autograd::grad({loss}, {input})[0].abs().max().item<double>(), 0.0);
  const torch::Tensor ids = torch::arange(40);
  AttackConfig pgd = attack("pgd", Norm::kLinf, 0.03);
  pgd.steps = 20;
  AttackConfig square = attack("square", Norm::kLinf, 0.03);
  square.queries = 300;
  const double pgd_broken = run_attack(model, images, labels, ids, pgd).broken.sum().item<double>();
  const AttackOutcome outcome = run_attack(model, images, labels, ids, square);
  const double square_broken = outcome.broken.sum().item<double>();
  std::printf("eps 0.03: PGD-20 breaks %.0f of 40, Square (300 queries) %.0f\n", pgd_broken,
              square_broken);
  EXPECT_GE(square_broken, pgd_broken + 10) << "Square should break far more than PGD here";
  EXPECT_EQ(outcome.forward_backward_passes, 0);  // no gradient at all
  EXPECT_GT(outcome.forward_passes, 40);
  EXPECT_TRUE((outcome.perturbation_norm <= 0.03 + 1e-6).all().item<bool>());
}

// On a two-class linear model the boundary is one hyperplane, and the smallest perturbation that
// reaches it is known: |z_c − z_t| / ‖w_c − w_t‖₁ in L∞ and / ‖w_c − w_t‖₂ in L2 (inputs near 0.5,
// distances far from the box). FAB-T must find it to within 1%, and never go below it.
TEST(Attacks, FabTFindsTheClosedFormDistanceToALinearBoundary) {
  BuiltinClassifier model = testing::linear_model(28, 28, 2, 8);
  const auto [weight, bias] = testing::linear_weights(model);
  auto generator = at::detail::createCPUGenerator(9);
  const torch::Tensor images = 0.4 + 0.2 * torch::rand({30, 1, 28, 28}, generator);
  torch::Tensor labels;
  {
    torch::NoGradGuard no_grad;
    labels = model.forward(images).argmax(1);
  }
  const torch::Tensor logits = images.view({30, -1}).matmul(weight.t()) + bias;
  const torch::Tensor gap = (logits.select(1, 0) - logits.select(1, 1)).abs();
  const torch::Tensor difference = (weight[0] - weight[1]).unsqueeze(0);
  for (Norm norm : {Norm::kLinf, Norm::kL2}) {
    SCOPED_TRACE(norm_names().name(norm));
    const torch::Tensor closed_form =
        gap / (norm == Norm::kLinf ? difference.abs().sum() : difference.norm());
    AttackConfig config = make_attack_config("fab-t");
    config.norm = norm;
    config.epsilon = norm == Norm::kLinf ? 1.0 : 28.0;  // the whole domain: report every distance
    config.steps = 20;
    const AttackOutcome outcome = run_attack(model, images, labels, torch::arange(30), config);
    ASSERT_TRUE(outcome.broken.all().item<bool>());
    const torch::Tensor ratio = outcome.perturbation_norm.to(torch::kFloat64) / closed_form;
    std::printf("%s: found / closed form in [%.5f, %.5f]\n", norm_names().name(norm).c_str(),
                ratio.min().item<double>(), ratio.max().item<double>());
    EXPECT_GE(ratio.min().item<double>(), 1 - 1e-4);
    EXPECT_LE(ratio.max().item<double>(), 1.01);
    // Within a smaller ε only the samples whose boundary lies inside are broken.
    config.epsilon = closed_form.median().item<double>();
    const AttackOutcome within = run_attack(model, images, labels, torch::arange(30), config);
    const torch::Tensor reachable = closed_form <= config.epsilon;
    const torch::Tensor clearly_reachable = closed_form * 1.01 <= config.epsilon;
    EXPECT_FALSE((within.broken & reachable.logical_not()).any().item<bool>());
    EXPECT_FALSE((clearly_reachable & within.broken.logical_not()).any().item<bool>());
    EXPECT_GT(clearly_reachable.sum().item<int64_t>(), 5);
  }
}

TEST(Attacks, BadSettingsAreRefusedWithTheirNames) {
  Fixture f = random_cnn_and_data(2);
  EXPECT_ERROR_CONTAINING(
      make_attack_config("pgdd"),
      "attack \"pgdd\" is unknown (known: fgsm, bim, pgd, apgd-ce, apgd-dlr, apgd-t, cw-l2");
  AttackConfig config = make_attack_config("pgd");
  config.epsilon = -0.1;
  EXPECT_ERROR_CONTAINING(run_attack(f.model, f.images, f.labels, f.ids, config),
                          "epsilon: must be a finite number >= 0, got -0.1");
  config = make_attack_config("pgd");
  config.steps = 0;
  EXPECT_ERROR_CONTAINING(validate_attack(config), "steps: must be in 1..1000000, got 0");
  config = make_attack_config("cw-l2");
  config.norm = Norm::kLinf;
  EXPECT_ERROR_CONTAINING(validate_attack(config), "norm: cw-l2 supports l2, not linf");
  config = make_attack_config("pgd");
  EXPECT_ERROR_CONTAINING(set_attack_setting(config, "loss", "hinge"),
                          "loss: \"hinge\" is unknown (known: ce, margin, dlr, dlr-targeted)");
  EXPECT_ERROR_CONTAINING(set_attack_setting(config, "epsilon", "0.3x"),
                          "epsilon: \"0.3x\" is not a number");
  EXPECT_ERROR_CONTAINING(set_attack_setting(config, "eps", "0.3"),
                          "attack setting \"eps\" is unknown");
  EXPECT_ERROR_CONTAINING(set_attack_setting(config, "norm", "l1"),
                          "\"l1\" is unknown (known: linf, l2)");
  EXPECT_ERROR_CONTAINING(set_attack_setting(config, "steps", "2.5"),
                          "steps: \"2.5\" is not an integer");
  EXPECT_ERROR_CONTAINING(set_attack_setting(config, "seed", "-1"), "is not a seed");
}

TEST(Attacks, AnAttackRefusesTheSettingsItDoesNotRead) {
  AttackConfig fgsm = make_attack_config("fgsm");
  EXPECT_ERROR_CONTAINING(set_attack_setting(fgsm, "steps", "40"),
                          "fgsm does not use \"steps\" (its settings: norm, epsilon, loss)");
  AttackConfig apgd = make_attack_config("apgd-ce");
  EXPECT_ERROR_CONTAINING(set_attack_setting(apgd, "loss", "dlr"), "apgd-ce does not use \"loss\"");
  EXPECT_ERROR_CONTAINING(set_attack_setting(apgd, "target_classes", "3"),
                          "apgd-ce does not use \"target_classes\"");
  // The entries (task keys, result files) hold exactly what the attack reads, and its constants.
  const SettingEntries entries = attack_entries(apgd);
  EXPECT_EQ(entries.count("target_classes"), 0u);
  EXPECT_EQ(std::get<std::string>(entries.at("loss")), "ce");
  EXPECT_EQ(attack_entries(make_attack_config("fgsm")).size(), 4u);  // name, norm, epsilon, loss
}

TEST(Attacks, EpsilonIsBoundedByTheInputDomain) {
  Fixture f = random_cnn_and_data(2);
  AttackConfig linf = make_attack_config("pgd");
  linf.epsilon = 1.5;
  EXPECT_ERROR_CONTAINING(run_attack(f.model, f.images, f.labels, f.ids, linf),
                          "1.5 is larger than any linf distance between inputs in [0,1]^784");
  AttackConfig l2 = make_attack_config("pgd");
  l2.norm = Norm::kL2;
  l2.epsilon = 1e20;
  EXPECT_ERROR_CONTAINING(validate_attack_for_data(l2, 784, 10),
                          "(at most 28: sqrt of the input size)");
  l2.epsilon = 28;  // the whole box's diagonal is still meaningful
  validate_attack_for_data(l2, 784, 10);
  AttackConfig targeted = make_attack_config("apgd-t");
  targeted.target_classes = 10;
  EXPECT_ERROR_CONTAINING(validate_attack_for_data(targeted, 784, 10),
                          "target_classes: 10 is more than the 9 other classes");
}

TEST(Attacks, NanLogitsStopTheAttackWithAClearError) {
  Fixture f = random_cnn_and_data(2);
  {
    torch::NoGradGuard no_grad;
    f.model.parameters().back().fill_(std::numeric_limits<float>::quiet_NaN());
  }
  EXPECT_ERROR_CONTAINING(run_attack(f.model, f.images, torch::zeros({2}, torch::kInt64), f.ids,
                                     attack("pgd", Norm::kLinf, 0.1)),
                          "NaN or infinite");
}

}  // namespace
}  // namespace robustscope
