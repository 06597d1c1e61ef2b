#include "lr_schedule.h"

namespace resnet_cifar {

double StepSchedule::At(int64_t it) {
  const bool warm = opt_.warmup_lr > 0 && (opt_.warmup_iterations > 0 || opt_.warmup_until_error >= 0);
  if (warm && !warmup_done_) {
    if (opt_.warmup_iterations > 0 && it >= opt_.warmup_iterations) {
      warmup_done_ = true;
    } else {
      return opt_.warmup_lr;
    }
  }
  double lr = opt_.lr;
  for (int64_t m : opt_.milestones) {
    if (it >= m) lr *= opt_.gamma;
  }
  return lr;
}

void StepSchedule::ObserveTrainError(double error_percent) {
  if (opt_.warmup_until_error >= 0 && opt_.warmup_lr > 0 && !warmup_done_ && error_percent < opt_.warmup_until_error) {
    warmup_done_ = true;
  }
}

}  // namespace resnet_cifar
