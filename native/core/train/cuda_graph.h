// The training step recorded once as a CUDA graph and replayed (at::cuda::CUDAGraph): one launch per step instead
// of several hundred kernel launches from the host. Plain libtorch; the CUDA-only parts compile where the build has
// CUDA (RESNET_CIFAR_CUDA), and elsewhere these classes say so if anyone constructs them.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>

namespace resnet_cifar {

// Whether this build can capture CUDA graphs.
bool CudaGraphsBuilt();

// While alive, this thread's work on `device` goes to a stream of its own (a graph cannot be captured on the default
// stream). The device is synchronized at both ends, so that work queued on the default stream before (weights
// copied to the device) and after (another thread's predict) is ordered with it.
class SideStream {
 public:
  explicit SideStream(c10::Device device);
  ~SideStream();
  // From another thread: that thread's current stream waits (on the device, not the host) for the work queued on
  // this one so far.
  void OrderAfter() const;
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One training step captured as a graph over fixed input tensors: a batch (x, y) and the learning rate as a
// 0-dim float tensor on the device. Capturing runs nothing; each Replay copies its batch and rate into the graph's
// inputs and runs the recorded step. The step must not synchronize with the host (no .item(), no host copies), and
// every tensor it updates in place (weights, momentum, BatchNorm statistics) must keep its storage between replays.
class GraphStep {
 public:
  // The step: (x, y, lr) in, (loss, number correct) out as device tensors.
  using StepFn = std::function<void(const at::Tensor& x, const at::Tensor& y, const at::Tensor& lr, at::Tensor& loss,
                                    at::Tensor& correct)>;

  // Captures `step` on the current (side) stream with inputs shaped like x and y.
  GraphStep(const at::Tensor& x, const at::Tensor& y, const StepFn& step);
  ~GraphStep();
  GraphStep(const GraphStep&) = delete;
  GraphStep& operator=(const GraphStep&) = delete;

  // One step on (x, y) at `lr`; loss and correct are the graph's own outputs, valid until the next Replay.
  void Replay(const at::Tensor& x, const at::Tensor& y, double lr, at::Tensor& loss, at::Tensor& correct);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resnet_cifar
