// FitLoop across data-parallel ranks (fit.h, distributed.h): the settings every rank must share, rank 0's state
// taken by the others, and the gradients averaged each step.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <sstream>
#include <string>
#include <vector>

#include "fit.h"

namespace resnet_cifar {

std::string FitLoop::Fingerprint() const {
  std::ostringstream s;
  s << DescribeModel(model_->net->options) << ", world size " << cfg_.distributed->world_size << ", " << cfg_.iterations
    << " iterations, batch " << cfg_.batches.batch << " per rank, seed " << cfg_.batches.seed << ", lr "
    << cfg_.schedule.lr << ", momentum " << cfg_.sgd.momentum << ", weight decay " << cfg_.sgd.weight_decay
    << ", milestones";
  for (int64_t m : cfg_.schedule.milestones) s << ' ' << m;
  s << ", gamma " << cfg_.schedule.gamma << ", warm-up " << cfg_.schedule.warmup_lr << '/'
    << cfg_.schedule.warmup_iterations << '/' << cfg_.schedule.warmup_until_error << ", " << train_->size()
    << " training images, " << NormKindName(cfg_.normalization_kind) << " normalization, "
    << PrecisionName(cfg_.precision) << (cfg_.batches.channels_last ? ", channels-last" : "")
    << (cfg_.fused_bn ? ", fused BatchNorm" : "")
    << (cfg_.distributed->sync_batch_norm ? ", synchronized BatchNorm" : "") << ", resume "
    << (cfg_.resume ? "yes" : "no") << ", evaluation ";
  if (eval_)
    s << eval_->size() << " images every " << cfg_.eval_every;
  else
    s << "none";
  return s.str();
}

// Caller holds model_->mu.
void FitLoop::TakeLeaderState(bool resumed) {
  // The header: what rank 0 resumed from, and its normalization's kind.
  auto header =
      at::tensor({static_cast<int64_t>(resumed), result_.iteration, static_cast<int64_t>(schedule_.warmup_done()),
                  static_cast<int64_t>(norm_.kind == NormKind::kPixel), static_cast<int64_t>(!sgd_->momentum().empty()),
                  window_.correct, window_.count, window_.start},
                 at::kLong);
  std::vector<at::Tensor> first{header, at::tensor({window_.loss}, at::kDouble)};
  comm_->Broadcast(first);
  auto h = first[0];
  if (!Leader()) {
    result_.iteration = result_.start_iteration = h[1].item<int64_t>();
    schedule_.set_warmup_done(h[2].item<int64_t>() != 0);
    // A partial report window restored from the checkpoint counts once: rank 0 holds it.
    window_ = TrainerState::Window{0, 0, 0, h[7].item<int64_t>()};
    const NormKind kind = h[3].item<int64_t>() ? NormKind::kPixel : NormKind::kChannel;
    if (norm_.kind != kind) norm_ = train_->Statistics(kind);  // shapes for the broadcast below
    if (h[4].item<int64_t>()) {
      std::vector<at::Tensor> m;
      for (const auto& p : model_->net->parameters()) m.push_back(at::zeros_like(p));
      sgd_->set_momentum(std::move(m));
    }
  }
  std::vector<at::Tensor> state{norm_.mean, norm_.std};
  c10::NoGradGuard no_grad;
  for (const auto& p : model_->net->parameters()) state.push_back(p.detach());
  for (const auto& b : model_->net->buffers()) state.push_back(b);
  for (const auto& m : sgd_->momentum()) state.push_back(m);
  comm_->Broadcast(state);
}

void FitLoop::AverageGradients(at::Tensor& control) {
  std::vector<at::Tensor> grads;
  const double inv = 1.0 / static_cast<double>(comm_->world_size());
  for (auto& p : model_->net->parameters()) {
    if (p.grad().defined()) grads.push_back(p.mutable_grad().mul_(inv));  // DDP divides before it sums
  }
  grads.push_back(control);
  comm_->AllReduceSum(grads);
}

}  // namespace resnet_cifar
