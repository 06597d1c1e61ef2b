// The learning rate of each iteration: a step schedule (multiplied by gamma at each milestone), optionally after
// a warm-up at a lower rate that ends at a fixed iteration or once the training error falls below a threshold
// (the paper's ResNet-110: 0.01 until the training error is below 80 %, then 0.1). Plain C++.
#pragma once

#include <cstdint>
#include <vector>

namespace resnet_cifar {

struct StepScheduleOptions {
  double lr = 0.1;
  std::vector<int64_t> milestones{32000, 48000};
  double gamma = 0.1;
  double warmup_lr = 0;            // 0: no warm-up
  int64_t warmup_iterations = 0;   // warm-up ends at this iteration (0: no fixed end)
  double warmup_until_error = -1;  // or once a reported training error (%) is below this (-1: unused)
};

class StepSchedule {
 public:
  explicit StepSchedule(StepScheduleOptions options) : opt_(std::move(options)) {}

  // The rate of (0-based) iteration `it`. Iterations are asked in increasing order.
  double At(int64_t it);
  // A report window's training error, which may end an error-bounded warm-up.
  void ObserveTrainError(double error_percent);

  bool warmup_done() const { return warmup_done_; }
  void set_warmup_done(bool done) { warmup_done_ = done; }

 private:
  StepScheduleOptions opt_;
  bool warmup_done_ = false;
};

}  // namespace resnet_cifar
