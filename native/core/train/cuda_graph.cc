#include "cuda_graph.h"

#include <ATen/ATen.h>

#include <optional>
#include <stdexcept>

#ifdef RESNET_CIFAR_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/Event.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace resnet_cifar {

#ifdef RESNET_CIFAR_CUDA

bool CudaGraphsBuilt() { return true; }

struct SideStream::Impl {
  c10::DeviceIndex index;
  std::optional<c10::cuda::CUDAStreamGuard> guard;  // holds the side stream (current_stream())
};

static void SynchronizeDevice(c10::DeviceIndex index) {
  c10::cuda::CUDAGuard device(index);
  c10::cuda::device_synchronize();
}

SideStream::SideStream(c10::Device device) : impl_(std::make_unique<Impl>()) {
  if (!device.is_cuda()) throw std::invalid_argument("SideStream needs a CUDA device");
  impl_->index = device.has_index() ? device.index() : c10::cuda::current_device();
  SynchronizeDevice(impl_->index);
  impl_->guard.emplace(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, impl_->index));
}

void SideStream::OrderAfter() const {
  c10::Event done(c10::DeviceType::CUDA);
  done.record(impl_->guard->current_stream().unwrap());
  done.block(c10::cuda::getCurrentCUDAStream(impl_->index).unwrap());
}

SideStream::~SideStream() {
  try {
    SynchronizeDevice(impl_->index);
  } catch (...) {
    // A failed device reports its error at the next call on it; a destructor must not throw.
  }
  impl_->guard.reset();
}

struct GraphStep::Impl {
  at::Tensor x, y, lr, loss, correct;
  at::cuda::CUDAGraph graph;
};

GraphStep::GraphStep(const at::Tensor& x, const at::Tensor& y, const StepFn& step) : impl_(std::make_unique<Impl>()) {
  Impl& g = *impl_;
  g.x = x.clone();  // keeps x's memory format (channels-last)
  g.y = y.clone();
  g.lr = at::zeros({}, x.options().dtype(at::kFloat));
  // Everything queued so far (the eager warm-up steps that made cuDNN pick its algorithms and SGD its momentum
  // buffers) finishes before the capture starts.
  c10::cuda::device_synchronize();
  // Thread-local capture: another trainer's thread in this process may keep using the GPU meanwhile (global mode
  // would fail its allocations and copies, or this capture).
  g.graph.capture_begin(at::cuda::MempoolId_t{0, 0}, cudaStreamCaptureModeThreadLocal);
  try {
    step(g.x, g.y, g.lr, g.loss, g.correct);
  } catch (...) {
    try {
      g.graph.capture_end();
    } catch (...) {
    }
    throw;
  }
  g.graph.capture_end();
}

GraphStep::~GraphStep() = default;

void GraphStep::Replay(const at::Tensor& x, const at::Tensor& y, double lr, at::Tensor& loss, at::Tensor& correct) {
  Impl& g = *impl_;
  g.x.copy_(x);
  g.y.copy_(y);
  g.lr.fill_(lr);
  g.graph.replay();
  loss = g.loss;
  correct = g.correct;
}

#else

bool CudaGraphsBuilt() { return false; }

struct SideStream::Impl {};
SideStream::SideStream(c10::Device) { throw std::runtime_error("resnet-cifar was built without CUDA"); }
SideStream::~SideStream() = default;
void SideStream::OrderAfter() const {}

struct GraphStep::Impl {};
GraphStep::GraphStep(const at::Tensor&, const at::Tensor&, const StepFn&) {
  throw std::runtime_error("resnet-cifar was built without CUDA: no CUDA graphs");
}
GraphStep::~GraphStep() = default;
void GraphStep::Replay(const at::Tensor&, const at::Tensor&, double, at::Tensor&, at::Tensor&) {}

#endif

}  // namespace resnet_cifar
