// native/core on its own: the training system built and run from plain C++, without Node or N-API
// (test/core.test.ts builds this with `cmake --build build --target core_test` and runs it).
// Prints one "ok"/"not ok" line per check and exits non-zero when any fails.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../../native/core/checkpoint/checkpoint.h"
#include "../../native/core/data/normalization.h"
#include "../../native/core/model/evaluate.h"
#include "../../native/core/model/model.h"
#include "../../native/core/train/fit.h"
#include "../../native/core/train/lr_schedule.h"
#include "../../native/core/train/sgd.h"

using namespace resnet_cifar;

static int failures = 0;

static void Check(bool ok, const std::string& what) {
  std::printf("%s - %s\n", ok ? "ok" : "not ok", what.c_str());
  if (!ok) ++failures;
}

static bool Near(double a, double b, double tol = 1e-6) { return std::fabs(a - b) <= tol; }

// Images whose brightness depends on the label, so that a few dozen steps learn something.
static std::shared_ptr<Dataset> SyntheticData(int64_t n) {
  auto labels = torch::arange(n, torch::kLong).remainder(10);
  auto noise = torch::randint(0, 60, {n, 3, 32, 32}, torch::TensorOptions().dtype(torch::kLong).device(torch::kCPU));
  auto images = (labels.view({n, 1, 1, 1}) * 20 + noise).clamp(0, 255).to(torch::kByte);
  return std::make_shared<Dataset>(images, labels);
}

struct Recorder : FitObserver {
  std::vector<TrainRecord> train;
  std::vector<int64_t> evals, checkpoints;
  std::function<void()> on_train;
  void OnTrain(const TrainRecord& r, double) override {
    train.push_back(r);
    if (on_train) on_train();
  }
  void OnEval(int64_t it, const EvalResult&) override { evals.push_back(it); }
  void OnCheckpoint(int64_t it, const std::string&) override { checkpoints.push_back(it); }
};

static FitConfig Config(int64_t iterations, const std::string& checkpoint) {
  FitConfig c;
  c.iterations = iterations;
  c.batches.batch = 32;
  c.batches.seed = 3;
  c.schedule.lr = 0.05;
  c.schedule.milestones = {30};
  c.report_every = 10;
  c.checkpoint_path = checkpoint;
  c.resume = true;
  c.normalization_kind = NormKind::kChannel;
  return c;
}

static double MaxDiff(const c10::IValue& a, const c10::IValue& b) {
  double m = 0;
  auto da = a.toGenericDict(), db = b.toGenericDict();
  for (const auto& kv : da) {
    auto other = db.at(kv.key()).toTensor().to(torch::kDouble);
    m = std::max(m, (kv.value().toTensor().to(torch::kDouble) - other).abs().max().item<double>());
  }
  return m;
}

int main() {
  torch::manual_seed(0);
  const auto dir = std::filesystem::temp_directory_path() / ("resnet-cifar-core-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  {  // The step schedule: milestones, warm-up for a number of iterations, warm-up until a training error.
    StepSchedule s({0.1, {3, 5}, 0.1, 0, 0, -1});
    std::vector<double> got;
    for (int i = 0; i < 7; ++i) got.push_back(s.At(i));
    Check(Near(got[0], 0.1) && Near(got[2], 0.1) && Near(got[3], 0.01) && Near(got[4], 0.01) && Near(got[5], 0.001),
          "StepSchedule: lr x gamma at each milestone");
    StepSchedule w({0.1, {}, 0.1, 0.01, 2, -1});
    Check(Near(w.At(0), 0.01) && Near(w.At(1), 0.01) && Near(w.At(2), 0.1) && w.warmup_done(),
          "StepSchedule: warm-up for 2 iterations");
    StepSchedule e({0.1, {}, 0.1, 0.01, 0, 80});
    const double before = e.At(0);
    e.ObserveTrainError(85);
    const double still = e.At(1);
    e.ObserveTrainError(79);
    Check(Near(before, 0.01) && Near(still, 0.01) && Near(e.At(2), 0.1),
          "StepSchedule: warm-up until the training error is below 80 %");
  }

  {  // SGD as torch.optim.SGD: d = g + wd p; buf = m buf + d (buf = d at first); p -= lr buf.
    auto p = torch::tensor({1.0f, 2.0f}).requires_grad_(true);
    Sgd sgd({p}, {0.9, 0.1});
    p.mutable_grad() = torch::tensor({0.5f, -1.0f});
    sgd.Step(0.1);
    const bool first =
        Near(p[0].item<double>(), 0.94, 1e-6) && Near(p[1].item<double>(), 2.08, 1e-6) && !p.grad().defined();
    p.mutable_grad() = torch::zeros({2});
    sgd.Step(0.1);
    Check(first && Near(p[0].item<double>(), 0.8766, 1e-6) && Near(p[1].item<double>(), 2.1312, 1e-6) &&
              sgd.momentum().size() == 1 && Near(sgd.momentum()[0][0].item<double>(), 0.634, 1e-6),
          "Sgd: two steps with momentum and weight decay by hand");
  }

  {  // The rate as a device tensor (the CUDA graph's step) moves the weights as the rate as a number does.
    torch::manual_seed(3);
    auto a = torch::randn({4, 3}).requires_grad_(true), b = a.detach().clone().requires_grad_(true);
    Sgd by_number({a}, {0.9, 1e-4}), by_tensor({b}, {0.9, 1e-4});
    bool refused = false;
    try {
      b.mutable_grad() = torch::ones({4, 3});
      by_tensor.Step(torch::tensor(0.1f));
    } catch (const std::logic_error&) {
      refused = true;  // before the momentum buffers exist
    }
    b.mutable_grad() = at::Tensor();
    double worst = 0;
    for (int k = 0; k < 5; ++k) {
      auto g = torch::randn({4, 3});
      a.mutable_grad() = g.clone();
      b.mutable_grad() = g.clone();
      const double lr = 0.1 / (k + 1);
      by_number.Step(lr);
      if (k == 0) {
        by_tensor.Step(lr);
      } else {
        by_tensor.Step(torch::tensor(static_cast<float>(lr)));
      }
      worst = std::max(worst, (a - b).abs().max().item<double>());
    }
    Check(refused && worst < 1e-6 && !b.grad().defined(),
          "Sgd: a step with the rate as a tensor equals one with the rate as a number (max diff " +
              std::to_string(worst) + ")");
  }

  {  // Normalization: statistics, the two forms of the formula, and the checkpoint form.
    auto data = SyntheticData(200);
    Normalization c = data->Statistics(NormKind::kChannel);
    auto x = data->images().to(torch::kDouble).div(255.0);
    Check(Near(c.mean[0][1][0][0].item<double>(), x.select(1, 1).mean().item<double>(), 1e-6) &&
              Near(c.std[0][2][0][0].item<double>(), x.select(1, 2).std(/*unbiased=*/false).item<double>(), 1e-6),
          "Normalization::Of(channel): the population mean and std of pixels / 255");
    auto applied = c.Apply(data->images().narrow(0, 0, 1));
    const float v = Normalization::Value(data->images()[0][1][5][7].item<uint8_t>(), c.mean[0][1][0][0].item<float>(),
                                         c.std[0][1][0][0].item<float>());
    Check(applied[0][1][5][7].item<float>() == v, "Normalization: Apply and Value give the same bits");
    Normalization back = Normalization::FromDict(c.ToDict(), "test");
    Check(back.kind == NormKind::kChannel && torch::equal(back.mean, c.mean) && torch::equal(back.std, c.std),
          "Normalization: ToDict / FromDict round trip");
    Check(Near(ErrorPercent(10, 7), 30) && Near(ErrorPercent(0, 0), 0), "ErrorPercent");
  }

  {  // The fit loop: reports, learning, checkpoint with trainer state, exact resume, abort from another thread.
    auto data = SyntheticData(640);
    const std::string a = (dir / "straight.pt").string(), b = (dir / "resumed.pt").string();
    auto m1 = NewModel(ResNetOptions(8), c10::Device(c10::kCPU), 1);
    Recorder r1;
    FitResult straight = FitLoop(m1, data, data, Config(40, a), r1).Run();
    Check(straight.error.empty() && straight.iteration == 40 && straight.stopped == StopReason::kCompleted,
          "FitLoop: 40 iterations complete");
    Check(r1.train.size() == 4 && r1.train[0].iteration == 10 && r1.train[3].iteration == 40,
          "FitLoop: a report every 10 iterations");
    Check(r1.train[3].loss < r1.train[0].loss, "FitLoop: the loss falls (" + std::to_string(r1.train[0].loss) + " -> " +
                                                   std::to_string(r1.train[3].loss) + ")");
    Check(r1.evals == std::vector<int64_t>{40} && r1.checkpoints == std::vector<int64_t>{40},
          "FitLoop: evaluation and checkpoint at the end");
    Checkpoint ck = ReadCheckpoint(a);
    Check(ck.trainer && ck.trainer->iteration == 40 && ck.trainer->train.size() == 4 && ck.normalization &&
              ck.normalization->kind == NormKind::kChannel &&
              ck.trainer->momentum.size() == m1->net->parameters().size(),
          "Checkpoint: trainer state, history, momentum and normalization");

    auto m2 = NewModel(ResNetOptions(8), c10::Device(c10::kCPU), 1);
    Recorder r2;
    FitLoop(m2, data, nullptr, Config(20, b), r2).Run();
    auto m3 = NewModel(ResNetOptions(8), c10::Device(c10::kCPU), 99);  // other weights: all come from the file
    Recorder r3;
    FitResult resumed = FitLoop(m3, data, data, Config(40, b), r3).Run();
    Checkpoint cb = ReadCheckpoint(b);
    double momentum_diff = 0;
    for (size_t i = 0; i < ck.trainer->momentum.size(); ++i) {
      momentum_diff = std::max(
          momentum_diff, (ck.trainer->momentum[i].second - cb.trainer->momentum[i].second).abs().max().item<double>());
    }
    Check(resumed.start_iteration == 20 && resumed.iteration == 40 && MaxDiff(ck.state_dict, cb.state_dict) == 0 &&
              momentum_diff == 0,
          "FitLoop: 20 + resumed 20 iterations end with the weights and momentum of 40 straight");
    bool refused = false;
    try {
      CheckResumable(b, cb, ResNetOptions(20), 3, 32, data->size());
    } catch (const std::runtime_error& e) {
      refused = std::string(e.what()).find("it holds ResNet-8") != std::string::npos;
    }
    Check(refused, "CheckResumable: another depth is refused, naming both");

    auto m4 = NewModel(ResNetOptions(8), c10::Device(c10::kCPU), 1);
    Recorder r4;
    FitConfig long_run = Config(100000, "");
    FitLoop loop(m4, data, nullptr, long_run, r4);
    r4.on_train = [&] { loop.Abort(); };
    FitResult aborted;
    std::thread t([&] { aborted = loop.Run(); });
    t.join();
    Check(aborted.stopped == StopReason::kAborted && aborted.iteration >= 10 && aborted.iteration <= 11 &&
              aborted.error.empty(),
          "FitLoop: Abort stops after the current iteration (" + std::to_string(aborted.iteration) + ")");
  }

  std::filesystem::remove_all(dir);
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
