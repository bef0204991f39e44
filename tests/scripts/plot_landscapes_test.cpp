// scripts/plot_landscapes.py on a results file made by `robustscope landscape`: non-blank images of
// the expected size, for two models side by side.
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace robustscope {
namespace {

TEST(PlotLandscapes, DrawsNonBlankImagesOfTheExpectedSize) {
  if (testing::python().empty()) GTEST_SKIP() << "no Python with numpy/h5py/matplotlib was found";
  testing::TempDir dir;
  const std::string binary = ROBUSTSCOPE_BINARY, data = " --data-dir " + testing::data_dir();
  for (const std::string name : {"a", "b"}) {
    const auto trained = testing::run_command(
        binary +
        " train --arch mlp --arch-arg hidden=16 --epochs 1 --train-limit 300 --threads 1 --seed " +
        (name == "a" ? "1" : "2") + " --output " + dir.file(name + ".pt") + data);
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    const auto landscape = testing::run_command(
        binary + " landscape --model " + dir.file(name + ".pt") + data +
        " --samples 3 --epsilon 0.1 --resolution-1d 21 --resolution-2d 11 --threads 1 --output " +
        dir.file(name + ".h5"));
    ASSERT_EQ(landscape.exit_code, 0) << landscape.output;
  }
  const auto again = testing::run_command(binary + " landscape --model " + dir.file("a.pt") + data +
                                          " --samples 3 --output " + dir.file("a.h5"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find("exists already"), std::string::npos) << again.output;

  const auto plotted = testing::run_command(
      testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/scripts/plot_landscapes.py " +
      dir.file("figures") + " " + dir.file("a.h5") + " " + dir.file("b.h5") +
      " --labels natural,other");
  ASSERT_EQ(plotted.exit_code, 0) << plotted.output;
  // Every PNG: the size matplotlib was asked for (dpi 110), and more than one colour.
  const auto checked =
      testing::run_command(testing::python() +
                           " -c \"import sys, matplotlib.image as im\n"
                           "for stem, shape in [('cuts_3', (770, 990)), ('contour_3', (473, "
                           "1100)), ('surface_3', (495, 1100)), ('regions_3', (473, 1100))]:\n"
                           "    image = im.imread('" +
                           dir.file("figures") +
                           "/' + stem + '.png')\n"
                           "    assert image.shape[:2] == shape, (stem, image.shape)\n"
                           "    assert image[..., :3].std() > 0.05, (stem, 'blank')\n"
                           "print('ok')\"");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("figures") + "/contour_3.svg"));

  // The landscapes of a batch run's results file, a model picked by name.
  testing::write_file(dir.file("spec.yaml"),
                      "name: plot\noutput: " + dir.file("r.h5") +
                          "\ndata: {dir: " + testing::data_dir() +
                          "}\nsamples: {count: 2, shard_size: 2, batch_size: 2}\nmodels:\n"
                          "  - {name: a, checkpoint: " +
                          dir.file("a.pt") +
                          "}\n"
                          "  - {name: b, checkpoint: " +
                          dir.file("b.pt") +
                          "}\n"
                          "procedures:\n  landscape: {epsilon: 0.1, resolution_1d: 11, "
                          "resolution_2d: 7, sampling: adaptive, boundary_tolerance: 0.01}\n");
  const auto run = testing::run_command(binary + " run " + dir.file("spec.yaml") + " --quiet");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto from_results = testing::run_command(
      testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/scripts/plot_landscapes.py " +
      dir.file("batch-figures") + " " + dir.file("r.h5") + ":b " + dir.file("r.h5") + ":a");
  ASSERT_EQ(from_results.exit_code, 0) << from_results.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("batch-figures") + "/contour_0.png"));
  // The batch landscapes were adaptive: the reader sees each cut's points and the refined grid.
  const auto adaptive = testing::run_command(
      testing::python() +
      " -c \"import sys; sys.path.insert(0, '" ROBUSTSCOPE_SOURCE_DIR
      "/scripts')\nfrom robustscope.results import landscape_samples\n"
      "entry = landscape_samples('" +
      dir.file("r.h5") +
      "', 'a')[0]\nassert entry['refined_points'].shape[1] == 2\n"
      "assert entry['cut_adversarial'].shape[1] == len(entry['coordinates_adversarial']) >= 11\n"
      "print('adaptive ok')\"");
  EXPECT_EQ(adaptive.exit_code, 0) << adaptive.output;
  const auto unknown = testing::run_command(
      testing::python() + " " ROBUSTSCOPE_SOURCE_DIR "/scripts/plot_landscapes.py " +
      dir.file("x") + " " + dir.file("r.h5") + ":c");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("holds no landscapes of model 'c'"), std::string::npos)
      << unknown.output;
}

}  // namespace
}  // namespace robustscope
